"""Health counters: published periodically on `_sf/health/{worker}`, shown by `smartfactory status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.ingest.health import format_status
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress
from tests.ingest.conftest import Listener, Publisher, ingest_settings, needs_mosquitto, readings_for, wait_until

pytestmark = [pytest.mark.integration, needs_mosquitto]


def status(
    broker: RunningBroker, *args: str, client_id: str | None = None, wait: float = 1.0
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    if client_id is not None:
        env["SMARTFACTORY_INGEST__CLIENT_ID"] = client_id
    command = [
        sys.executable,
        "-m",
        "smartfactory",
        "status",
        "--mqtt-url",
        broker.address.url(),
        "--wait",
        f"{wait:g}",
    ]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.slow
def test_health_is_published_periodically_with_the_counters_and_shown_by_status(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, client_id=f"{enterprise}-w", spc_rules="none")  # no alarm traffic
    health = Listener(broker.address, f"_sf/health/{enterprise}-w")
    running = start_ingest(settings)
    published = readings_for(enterprise, 500)
    bad = [(f"{enterprise}/p/a/l/m/telemetry/x", b"{oops")] * 3
    publisher_factory(broker.address).send(published + bad + published[:10])  # ten duplicates
    assert wait_until(lambda: running.service.counters.stored == 500 and running.service.counters.duplicates == 10)

    def latest() -> dict[str, object]:
        bodies = health.bodies()
        return bodies[-1] if bodies else {}

    assert wait_until(lambda: latest().get("stored") == 500 and latest().get("duplicates") == 10, timeout=5)
    report = latest()
    assert report["worker"] == f"{enterprise}-w"
    assert report["state"] == "ok"
    assert report["received"] == 513
    assert report["rejected"] == {"bad_json": 3}
    assert report["rejected_total"] == 3
    assert report["spooled"] == 0
    assert report["queue_depth"] == 0
    assert report["lag_ms"] == 0
    assert isinstance(report["data_age_ms"], int)
    before = len(health.messages)
    assert wait_until(lambda: len(health.messages) >= before + 2, timeout=5)  # keeps coming every interval

    shown = status(broker, "--json")
    assert shown.returncode == 0, shown.stderr
    reports = json.loads(shown.stdout)
    assert reports[f"{enterprise}-w"]["stored"] == 500
    table = status(broker)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(f"{enterprise}-w"))
    assert row.split()[1] == "ok"
    assert "500" in row.split()
    assert "rejected by reason: bad_json 3" in table.stdout

    running.stop()
    assert wait_until(lambda: latest().get("state") == "stopped", timeout=5)
    health.close()


def test_a_worker_that_vanishes_is_shown_as_lost(broker: RunningBroker, tmp_path: Path, enterprise: str) -> None:
    settings = ingest_settings(broker, tmp_path, client_id=f"{enterprise}-gone")
    running = start_ingest(settings)
    running.service.client.abort()  # no DISCONNECT: the broker publishes the last will
    table = status(broker)
    row = next(line for line in table.stdout.splitlines() if line.startswith(f"{enterprise}-gone"))
    assert row.split()[1] == "lost"
    assert "restart it" in table.stdout
    assert table.returncode == 1  # a healthcheck: the retained last will is no sign of life (issue 13)
    running.service._health_stop.set()
    running.store.close()


def test_status_table_marks_stale_reports_and_sums_workers() -> None:
    now = 1_800_000_000_000
    reports = {
        "a": {"state": "ok", "ts": now - 1000, "interval_s": 5, "received": 10, "stored": 8, "duplicates": 1,
              "rejected_total": 1, "rejected": {"bad_json": 1}, "spooled": 0, "spool_pending": 0, "queue_depth": 0,
              "lag_ms": 0},
        "b": {"state": "spooling", "ts": now - 60_000, "interval_s": 5, "received": 5, "stored": 0, "duplicates": 0,
              "rejected_total": 2, "rejected": {"bad_json": 1, "bad_topic": 1}, "spooled": 5, "spool_pending": 1,
              "queue_depth": 3, "lag_ms": 40},
    }  # fmt: skip
    lines = format_status(reports, now).splitlines()
    assert lines[0].split()[:3] == ["worker", "state", "report"]
    assert lines[1].split()[:3] == ["a", "ok", "1s"]
    assert lines[2].split()[1:3] == ["spooling", "(stale)"]
    assert lines[3].split()[:2] == ["all", "workers"]
    assert lines[3].split()[2:] == ["15", "8", "1", "3", "5", "1", "3", "40"]
    assert lines[4] == "rejected by reason: bad_json 2, bad_topic 1"


def test_status_exits_1_unless_a_fresh_ok_or_spooling_report_of_the_worker_exists(
    broker: RunningBroker, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: `status --wait` exited 0 whenever any report was seen, the retained `lost` will included, so the
    compose healthcheck could not fail."""
    now = int(time.time() * 1000)
    reports = {
        # fresh for 3 intervals: 3 min here, so that the test's own pace cannot make them stale
        f"{enterprise}-ok": {"worker": "x", "state": "ok", "ts": now, "interval_s": 60.0},
        f"{enterprise}-spooling": {"worker": "x", "state": "spooling", "ts": now, "interval_s": 60.0},
        f"{enterprise}-stale": {"worker": "x", "state": "ok", "ts": now - 600_000, "interval_s": 60.0},
        f"{enterprise}-lost": {"worker": "x", "state": "lost"},
        f"{enterprise}-stopped": {"worker": "x", "state": "stopped", "ts": now, "interval_s": 60.0},
    }
    publisher = publisher_factory(broker.address)
    for name, body in reports.items():
        publisher.client.publish(f"_sf/health/{name}", json.dumps(body).encode(), qos=1, retain=True)
    assert publisher.client.wait_published(10)
    calls: dict[str, tuple[tuple[str, ...], str | None]] = {
        **{name: (("--worker", name), None) for name in reports},
        "nobody": (("--worker", f"{enterprise}-nobody"), None),
        # the compose healthcheck: `--own` checks the worker this configuration runs as
        "own ok": (("--own",), f"{enterprise}-ok"),
        "own lost": (("--own",), f"{enterprise}-lost"),
        "any": ((), None),  # any worker: the fresh ok one
    }
    # Independent processes reading the same retained reports: run side by side, each one's start-up (imports)
    # and listening overlap instead of adding up.
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {
            key: pool.submit(status, broker, *args, client_id=who, wait=2.0) for key, (args, who) in calls.items()
        }
        results = {key: future.result() for key, future in futures.items()}
    for key, result in results.items():  # each saw every report: an exit 1 is their verdict, not silence
        rows = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
        assert set(reports) <= rows, (key, result.stdout, result.stderr)
    codes = {key: result.returncode for key, result in results.items()}
    assert codes == {
        f"{enterprise}-ok": 0,
        f"{enterprise}-spooling": 0,
        f"{enterprise}-stale": 1,
        f"{enterprise}-lost": 1,
        f"{enterprise}-stopped": 1,
        "nobody": 1,
        "own ok": 0,
        "own lost": 1,
        "any": 0,
    }
    for name in reports:
        publisher.client.publish(f"_sf/health/{name}", b"", qos=1, retain=True)
    assert publisher.client.wait_published(10)
