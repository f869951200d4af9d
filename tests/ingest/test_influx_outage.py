"""Store outage with the InfluxDB backend: the test server (victoria-metrics, InfluxDB v2 write API) is stopped
mid-stream and started again; every reading arrives, in order, none lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, load_settings
from smartfactory.storage.lineprotocol import series_tags
from tests.ingest.conftest import Publisher, expected_readings, needs_mosquitto, readings_for, wait_until
from tests.storage.victoria import BINARY, TOKEN, VictoriaMetrics

pytestmark = [pytest.mark.integration, pytest.mark.influx, needs_mosquitto]


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    if BINARY is None:
        pytest.skip("victoria-metrics is not installed (CI installs it: apt-get install victoria-metrics)")
    server = VictoriaMetrics(tmp_path / "victoria")
    server.start()
    yield server
    server.stop()


def test_influx_down_mid_stream_spools_and_everything_arrives_when_it_is_back(
    broker: RunningBroker,
    influx: VictoriaMetrics,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
) -> None:
    settings = load_settings(
        mqtt_url=broker.address.url(),
        store=influx.store_url(retries=0, timeout=2),
        influx_token=TOKEN,
        data_dir=tmp_path,
        ingest={"client_id": f"influx-{enterprise}"},
        spc={"rules": "none"},
    )
    running = start_ingest(settings)
    counters = running.service.counters
    publisher = publisher_factory(broker.address)
    published = readings_for(enterprise, 600)
    publisher.send(published[:200])
    assert wait_until(lambda: counters.stored == 200)

    influx.stop()  # the InfluxDB server goes away
    publisher.send(published[200:500])
    assert wait_until(lambda: counters.spooled == 300)
    assert running.service.health()["state"] == "spooling"

    influx.start()  # back on the same port and data
    publisher.send(published[500:])
    assert wait_until(lambda: counters.stored == 600 and running.service.health()["spool_pending"] == 0, timeout=60)
    assert running.stop()

    expected: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for (series, ts), value in expected_readings(published).items():
        expected.setdefault(tuple(sorted(series_tags(series))), {})[ts] = value
    stored = {tuple(sorted(s.labels.items())): s.points for s in influx.export("reading_value", expect=600)}
    assert stored == expected
    assert counters.replayed >= 300
