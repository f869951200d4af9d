"""The InfluxDB write path against a real server speaking the v2 write API (victoria-metrics stand-in).

Every point written through `InfluxStorage` is read back through victoria-metrics' export API and compared:
value, every tag and the millisecond timestamp. Covered: batching into requests, retries after transient
failures (a 503-answering proxy in front), final errors, and an outage in the middle (server stopped, writes
raise `StoreUnavailable` or wait it out, server restarted, nothing lost).
"""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from smartfactory.errors import StoreError, StoreUnavailable
from smartfactory.model import Reading, StateChange
from smartfactory.storage.influx import InfluxStorage
from smartfactory.storage.influxconf import store_url
from smartfactory.wire import MachineInfo, SignalInfo
from tests.conftest import wait_until
from tests.storage.victoria import TOKEN, VictoriaMetrics

pytestmark = pytest.mark.influx
T0 = 1_795_341_600_000
HOSTILE_MACHINE = 'x") |> drop() \\'  # a valid topic level: quote, spaces, pipe, trailing backslash
SERIES = (
    "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp",
    f"acme/plant 1/area,a=b/line-1/{HOSTILE_MACHINE}/telemetry/a,b=c d",
    'ac"me/p\\1/a/l/m-ü/telemetry/${x}',
)


def readings(n: int, start: int = T0, series: tuple[str, ...] = SERIES) -> list[Reading]:
    """Values with short decimal forms: victoria-metrics keeps values as decimals of about 12 significant digits,
    so these compare exactly (that the writer sends every bit of a float is a unit test of `lineprotocol`)."""
    return [
        Reading(series[i % len(series)], start + i, round(i * 0.173 - 300.0, 3), "degC" if i % 2 else None)
        for i in range(n)
    ]


def expected_points(batch: list[Reading]) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    """What the server must hold: per tag set, {ms: value}."""
    from smartfactory.storage.lineprotocol import series_tags

    out: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for r in batch:
        out.setdefault(tuple(sorted(series_tags(r.series))), {})[r.ts_ms] = r.value
    return out


def stored_points(server: VictoriaMetrics, expect: int) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    return {tuple(sorted(s.labels.items())): s.points for s in server.export("reading_value", expect=expect)}


def test_every_point_tag_and_timestamp_arrives_in_batches(victoria: VictoriaMetrics) -> None:
    store = InfluxStorage(victoria.store_url(batch=1000), token=TOKEN)
    batch = readings(12_345)
    before = victoria.write_requests()
    assert store.write_readings(batch) == len(batch)
    assert store.requests == 13  # ceil(12,345 / 1,000) requests
    assert victoria.write_requests(at_least=before + 13) - before == 13
    stored = stored_points(victoria, len(batch))
    assert stored == expected_points(batch)  # every value, tag value and millisecond, nothing more
    labels = {dict(key)["machine"] for key in stored}
    assert HOSTILE_MACHINE in labels
    assert {dict(key)["sensor"] for key in stored} == {"spindle_temp", "a,b=c d", "${x}"}
    store.close()


def test_replay_is_idempotent(victoria: VictoriaMetrics) -> None:
    store = InfluxStorage(victoria.store_url(), token=TOKEN)
    batch = readings(300)
    store.write_readings(batch)
    store.write_readings(batch[100:])  # a redelivery overwrites the same points
    assert sum(len(p) for p in stored_points(victoria, len(batch)).values()) == len(batch)
    store.close()


def test_other_records_are_written_with_their_tags_and_times(victoria: VictoriaMetrics) -> None:
    """victoria-metrics keeps numeric fields only: a state point shows up as metric `state_state` (value 0)."""
    store = InfluxStorage(victoria.store_url(), token=TOKEN)
    machine = f"acme/plant1/machining/line-1/{HOSTILE_MACHINE}"
    store.write_states([StateChange(machine, T0, "running"), StateChange(machine, T0 + 5, "down", "breakdown")])
    (series,) = victoria.export("state_state", expect=2)
    assert series.labels == {
        "enterprise": "acme",
        "site": "plant1",
        "area": "machining",
        "line": "line-1",
        "machine": HOSTILE_MACHINE,
    }
    assert sorted(series.points) == [T0, T0 + 5]
    store.close()


def test_machine_info_is_accepted_as_one_point_per_birth(victoria: VictoriaMetrics) -> None:
    """The string field shows up as metric `machine_info_info`; reading it back needs Flux (unit-tested)."""
    store = InfluxStorage(victoria.store_url(), token=TOKEN)
    machine = f"acme/plant1/machining/line-1/{HOSTILE_MACHINE}"
    info = MachineInfo(machine_type="cnc", ideal_cycle_s=30.0, signals={"t": SignalInfo(kind="process", unit="°C")})
    store.write_machine_info(machine, T0, info)
    store.write_machine_info(machine, T0 + 60_000, info)
    (series,) = victoria.export("machine_info_info", expect=2)
    assert series.labels["machine"] == HOSTILE_MACHINE
    assert series.labels["area"] == "machining"
    assert sorted(series.points) == [T0, T0 + 60_000]
    store.close()


def test_outage_in_the_middle_loses_nothing(victoria: VictoriaMetrics) -> None:
    quick = InfluxStorage(victoria.store_url(retries=2, retry_delay=0.05, timeout=2), token=TOKEN)
    first, second, third = readings(2000), readings(2000, T0 + 10_000), readings(2000, T0 + 20_000)
    quick.write_readings(first)
    victoria.stop()

    with pytest.raises(StoreUnavailable, match="unavailable"):
        quick.write_readings(second)  # ingestion keeps the batch and tries again later
    assert quick.retried == 2

    patient = InfluxStorage(victoria.store_url(retries=60, retry_delay=0.1, timeout=2), token=TOKEN)
    outcome: list[object] = []
    writer = threading.Thread(target=lambda: outcome.append(patient.write_readings(second)))
    writer.start()
    assert wait_until(lambda: patient.retried >= 2, timeout=30)  # it has met the outage and retries
    assert writer.is_alive()  # still retrying while the server is down
    victoria.start()
    writer.join(30)
    assert outcome == [len(second)]
    assert patient.retried >= 1

    quick.write_readings(third)
    everything = first + second + third
    assert stored_points(victoria, len(everything)) == expected_points(everything)
    quick.close()
    patient.close()


# ------------------------------------------------------------------ a proxy that fails on purpose


@contextmanager
def failing_proxy(target: str, failures: list[int]) -> Iterator[str]:
    """An HTTP proxy in front of `target` answering the next statuses in `failures` before forwarding."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if failures:
                status = failures.pop(0)
                self.send_response(status)
                self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                message = b'{"code": "unavailable", "message": "try later"}'
                self.send_header("Content-Length", str(len(message)))
                self.end_headers()
                self.wfile.write(message)
                return
            request = urllib.request.Request(target + self.path, data=body, method="POST")
            for key in ("Content-Type", "Content-Encoding", "Authorization"):
                if self.headers.get(key):
                    request.add_header(key, self.headers[key])
            with urllib.request.urlopen(request, timeout=10) as answer:
                self.send_response(answer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_transient_errors_are_retried(victoria: VictoriaMetrics) -> None:
    with failing_proxy(victoria.http_url, [503, 429]) as proxy:
        store = InfluxStorage(store_url(proxy, "o", "b", retries=3, retry_delay=0.01), token=TOKEN)
        batch = readings(500)
        store.write_readings(batch)
        assert store.retried == 2
        assert stored_points(victoria, len(batch)) == expected_points(batch)
        store.close()


@pytest.mark.parametrize(
    ("status", "advice"),
    [(401, "SMARTFACTORY_INFLUX_TOKEN"), (404, "does not exist"), (400, "refused the data")],
)
def test_final_errors_are_not_retried_and_say_what_to_fix(victoria: VictoriaMetrics, status: int, advice: str) -> None:
    failures = [status]
    with failing_proxy(victoria.http_url, failures) as proxy:
        store = InfluxStorage(store_url(proxy, "o", "b", retries=3, retry_delay=0.01), token=TOKEN)
        with pytest.raises(StoreError, match=advice) as caught:
            store.write_readings(readings(10))
        assert not isinstance(caught.value, StoreUnavailable)
        assert store.retried == 0
        store.close()


def test_nothing_listening_is_unavailable_not_a_crash() -> None:
    store = InfluxStorage(store_url("http://127.0.0.1:9", "o", "b", retries=1, retry_delay=0.01), token=TOKEN)
    with pytest.raises(StoreUnavailable, match="is influxd running"):
        store.write_readings(readings(3))
    with pytest.raises(StoreUnavailable):
        store.read_series(SERIES[0])
    store.close()


def test_victoria_answers_flux_with_an_error_we_translate(victoria: VictoriaMetrics) -> None:
    """The stand-in has no Flux endpoint (400): a read fails with a StoreError that names the server."""
    store = InfluxStorage(victoria.store_url(), token=TOKEN)
    with pytest.raises(StoreError, match="refused query"):
        store.latest()
    store.close()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{victoria.http_url}/api/v2/query", data=b"{}", timeout=5)


def test_a_tls_failure_is_a_final_error_with_advice(victoria: VictoriaMetrics) -> None:
    """influxdbs:// against a plain-HTTP server: the handshake fails, and retrying cannot fix a certificate."""
    url = victoria.store_url().replace("influxdb://", "influxdbs://", 1)
    store = InfluxStorage(url, token=TOKEN)
    with pytest.raises(StoreError, match=r"\?ca=") as caught:
        store.write_readings(readings(3))
    assert not isinstance(caught.value, StoreUnavailable)
    assert store.retried == 0
    store.close()
