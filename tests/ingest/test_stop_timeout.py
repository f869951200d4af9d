"""A stop that runs out of time (the `demo` shutdown bug): ingestion was still inside a store write when its 10 s
were up, `RunningIngest.stop` closed the SQLite store under the writer, and the writer's next statement failed with
"Cannot operate on a closed database". Now the writer finishes the write it is in, acknowledges nothing more and
closes the store itself on its way out; stop says that the unacknowledged messages stay in the broker's persistent
session, and the next start receives them. Real mosquitto, real SQLite file, a store write slower than the stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.model import Reading
from smartfactory.services import start_ingest
from smartfactory.storage.sqlite import SqliteStorage
from tests.ingest.conftest import (
    Publisher,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    stored_readings,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]
SLOW_WRITE_S = 3.0  # one store write; the stop below allows 1 s


class SlowWrites:
    """Makes `SqliteStorage.write_readings` take SLOW_WRITE_S while armed, and notes every close of a `watched`
    store made while an ingestion writer other than the closing thread is still alive."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.watched: list[object] = []
        self.armed = threading.Event()
        self.entered = threading.Event()
        self.closed_under_writer: list[str] = []
        self.writers: list[threading.Thread] = []  # the threads that wrote to a watched store (not other tests')
        write, close = SqliteStorage.write_readings, SqliteStorage.close

        def slow_write(store: SqliteStorage, readings: Sequence[Reading]) -> int:
            if any(store is w for w in self.watched):
                self.writers.append(threading.current_thread())
            if self.armed.is_set():
                self.entered.set()
                time.sleep(SLOW_WRITE_S)
            return write(store, readings)

        def noting_close(store: SqliteStorage) -> None:
            if not any(store is w for w in self.watched):
                return close(store)
            me = threading.current_thread()
            writers = [t for t in self.writers if t.is_alive() and t is not me]
            self.closed_under_writer += [t.name for t in writers]
            return close(store)

        monkeypatch.setattr(SqliteStorage, "write_readings", slow_write)
        monkeypatch.setattr(SqliteStorage, "close", noting_close)


def test_a_stop_that_times_out_never_closes_the_store_under_the_writer(
    broker: RunningBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    slow = SlowWrites(monkeypatch)
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    running = start_ingest(settings)
    slow.watched.append(running.store)
    published = readings_for("slowstop", 200)
    slow.armed.set()
    publisher = Publisher(broker.address)
    publisher.send(published)
    publisher.close()
    assert slow.entered.wait(30), "ingestion never began a write"

    caplog.set_level(logging.INFO)
    started = time.monotonic()
    assert running.stop(timeout=1.0) is False  # the write in progress takes longer than that
    assert time.monotonic() - started < SLOW_WRITE_S, "stop waited for the writer after all"
    note = running.service.stop_note
    assert note is not None
    assert "persistent session" in note
    assert "delivered again at the next start" in note
    assert any(note in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

    writer = running.service
    assert wait_until(lambda: not writer.running, timeout=SLOW_WRITE_S + 10)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "closed database" not in text
    assert "writer failed" not in text
    assert slow.closed_under_writer == []  # closed, but only once the writer was out of it
    assert writer.state == "stopped"

    slow.armed.clear()
    again = start_ingest(settings)  # the same client id: the session kept what was not acknowledged
    slow.watched.append(again.store)
    try:
        assert wait_until(lambda: stored_readings(settings.store) == expected_readings(published))
    finally:
        assert again.stop()
    assert slow.closed_under_writer == []
