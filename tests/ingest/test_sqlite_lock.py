"""Ingestion beside another process holding the SQLite store's write lock (issue 13: the writer stalled 10 s at
every attempt). Now a write that meets the lock gives up after the store's lock wait, the batch is spooled and
acknowledged, the writer keeps spooling while its probes meet the lock, dashboards and backups read on, and once
the lock is gone the spool is replayed: every reading stored once, health back to ok.

Real mosquitto, the real SQLite file opened as ingestion opens it, the lock held by a separate `python -c` process
(`BEGIN EXCLUSIVE`). No timed assertion: the holder lets go by itself after `HOLD_LIMIT_S`, below the 10 s the
writer used to wait, so a writer that waits the lock out instead of spooling is seen as the holder reporting that
its limit, not the test, ended the lock.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.settings import BrokerAddress
from smartfactory.storage import open_store
from smartfactory.storage.sqlite import path_from_url
from tests.ingest.conftest import (
    Publisher,
    count_readings,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    start_service,
    stored_readings,
    wait_until,
)
from tests.storage.lockholder import LockHolder

pytestmark = [pytest.mark.integration, needs_mosquitto]
#: The holder's own limit: above what the spooling below needs (two lock waits of 1 s and a probe), below 10 s.
HOLD_LIMIT_S = 8.0
#: The online backup API (what `sqlite3 file ".backup copy.db"` runs) in a process of its own; prints the rows.
BACKUP = """
import sqlite3, sys
source, copy = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
source.backup(copy)
print(copy.execute("SELECT COUNT(*) FROM readings").fetchone()[0])
"""


def test_an_outside_lock_is_spooled_around_not_waited_for_and_replayed_once_released(
    broker: RunningBroker,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="smartfactory.ingest.service")
    settings = ingest_settings(broker, tmp_path)
    store = open_store(settings.store)  # as ingestion opens it: the store's own lock wait
    # no SPC: its phase I design costs CPU seconds on a busy machine, time the holder's limit is not meant for
    service = start_service(settings, store, monitor=False)
    publisher = publisher_factory(broker.address)
    everything = readings_for(enterprise, 400)
    before, first, second, after = everything[:100], everything[100:200], everything[200:300], everything[300:]
    publisher.send(before)
    assert wait_until(lambda: service.counters.stored == 100)

    holder = LockHolder(path_from_url(settings.store), HOLD_LIMIT_S)
    try:
        publisher.send(first)
        assert wait_until(lambda: service.counters.spooled == 100 or not holder.holding)
        assert holder.holding, "the writer waited for the lock instead of spooling (the holder's limit ended it)"
        assert service.health()["state"] == "spooling"
        assert service.counters.write_errors == 1  # one write met the lock; later batches queue behind the spool

        # the back-off probes keep meeting the lock, and the writer still spools what arrives between them
        probed = "store still unavailable"
        assert wait_until(lambda: any(probed in r.getMessage() for r in caplog.records) or not holder.holding)
        publisher.send(second)
        assert wait_until(lambda: service.counters.spooled == 200 or not holder.holding)
        assert holder.holding, "the writer did not spool the second batch while the lock was held"
        assert service.counters.stored == 100

        assert count_readings(settings.store) == 100  # a dashboard opening the store and reading meanwhile
        backup = [sys.executable, "-c", BACKUP, str(path_from_url(settings.store)), str(tmp_path / "copy.db")]
        assert subprocess.run(backup, capture_output=True, text=True, check=True, timeout=60).stdout.split() == ["100"]
        assert holder.release() == "asked"
    finally:
        holder.close()

    publisher.send(after)
    assert wait_until(lambda: service.counters.stored == 400)
    assert wait_until(lambda: service.health()["state"] == "ok" and service.health()["spool_pending"] == 0)
    assert service.stop()
    store.close()
    assert stored_readings(settings.store) == expected_readings(everything)  # each reading once, none missing
    assert service.counters.replayed == service.counters.spooled >= 200
    assert service.counters.duplicates == 0  # acknowledged once spooled: nothing was delivered twice
