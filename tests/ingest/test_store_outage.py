"""Store-and-forward: while the store is unavailable readings go to the local spool, are acknowledged once fsync'd,
and reach the store in arrival order when it is back, also across an ingestion restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.ingest.spool import Spool
from smartfactory.services import spool_directory, start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from tests.ingest.conftest import (
    FlakyStore,
    Publisher,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    start_service,
    stored_readings,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]


def test_an_outage_is_spooled_acknowledged_and_replayed_in_order(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    store = FlakyStore(SqliteStorage(settings.store))
    service = start_service(settings, store)
    publisher = publisher_factory(broker.address)
    everything = readings_for(enterprise, 900)
    before, during, after = everything[:200], everything[200:700], everything[700:]

    publisher.send(before)
    assert wait_until(lambda: service.counters.stored == 200)
    store.down.set()  # InfluxDB down, disk full, ...
    publisher.send(during, pace=0.0005)
    assert wait_until(lambda: service.counters.spooled == 500)
    health = service.health()
    assert health["state"] == "spooling"
    assert health["spool_pending"] > 0
    assert list(spool_directory(settings).glob("*.spool"))
    assert service.counters.stored == 200

    store.down.clear()  # back: the spool drains, then live writes continue behind it
    publisher.send(after)
    assert wait_until(lambda: service.counters.stored == 900)
    assert wait_until(lambda: service.health()["spool_pending"] == 0)
    service.stop()
    store.inner.close()

    assert stored_readings(settings.store) == expected_readings(everything)
    assert service.counters.replayed == service.counters.spooled >= 500  # later ones queue behind the spool
    assert service.counters.duplicates == 0  # acknowledged once spooled: the broker never redelivered them
    order = [r.value for r in store.written]
    assert order == sorted(order)  # the store saw every reading in arrival order, spooled ones first
    assert not list(spool_directory(settings).glob("*.spool"))


def test_a_spool_left_by_a_stopped_worker_is_replayed_when_it_starts_again(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    store = FlakyStore(SqliteStorage(settings.store))
    store.down.set()
    service = start_service(settings, store)
    publisher = publisher_factory(broker.address)
    spooled = readings_for(enterprise, 300)
    publisher.send(spooled)
    assert wait_until(lambda: service.counters.spooled == 300)
    assert service.stop()  # store still down: the spool stays on disk
    store.inner.close()
    left = Spool(spool_directory(settings))
    assert left.pending > 0
    left.close()

    running = start_ingest(settings)  # the real store, the same client id and data folder
    later = readings_for(enterprise, 100, start_ms=int(time.time() * 1000))  # newer readings while it replays
    publisher.send(later)
    counters = running.service.counters
    assert wait_until(lambda: counters.stored == 400)
    assert running.stop()
    assert counters.replayed - counters.spooled == 300  # (live readings that came during the replay queue behind it)
    assert counters.duplicates == 0
    assert stored_readings(settings.store) == expected_readings(spooled + later)


def test_when_store_and_spool_both_fail_messages_stay_unacknowledged_until_one_recovers(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    store = FlakyStore(SqliteStorage(settings.store))
    store.down.set()
    tiny = Spool(tmp_path / "tiny-spool", max_bytes=3000)  # fills after a few batches: "disk full"
    service = start_service(settings, store, spool=tiny)
    publisher = publisher_factory(broker.address)
    published = readings_for(enterprise, 400)
    publisher.send(published, pace=0.001)
    assert wait_until(lambda: service.counters.write_errors >= 5)
    stuck = service.counters.spooled
    assert 0 < stuck < 400
    assert service.counters.stored == 0
    store.down.clear()
    assert wait_until(lambda: service.counters.stored == 400)
    service.stop()
    store.inner.close()
    assert stored_readings(settings.store) == expected_readings(published)
    assert service.counters.duplicates == 0


def test_a_writer_that_fails_for_good_acknowledges_nothing_and_says_so(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    broken = FlakyStore(SqliteStorage(settings.store))

    def bug(readings: object) -> int:
        raise RuntimeError("a bug in a store backend")

    broken.write_readings = bug  # type: ignore[method-assign]
    service = start_service(settings, broken)
    publisher = publisher_factory(broker.address)
    published = readings_for(enterprise, 50)
    publisher.send(published)
    assert wait_until(lambda: not service.running)
    assert service.health()["state"] == "failed"
    service.client.abort()  # what the process exit amounts to
    service.spool.close()
    broken.inner.close()

    running = start_ingest(settings)  # the next run gets every message again: none was acknowledged
    assert wait_until(lambda: running.service.counters.stored == 50)
    assert running.stop()
    assert stored_readings(settings.store) == expected_readings(published)
