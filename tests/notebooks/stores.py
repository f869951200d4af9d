"""Short simulated runs into SQLite, the data the notebooks analyse: simulator (speed 0) → broker → ingestion."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from pathlib import Path

from smartfactory.edge.mqtt import MqttClient
from smartfactory.services import start_ingest, start_simulator
from smartfactory.settings import load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.conftest import broker_kind, start_test_broker, wait_until

#: Monday 5 January 2026, 06:05 UTC: inside the default plant's morning shift, hours from its break. Without a
#: fixed start the run ends at the wall clock, and at 02:00-02:30 UTC (the night break) the breakdown scenario's
#: 12 minutes down fell into planned downtime, so the OEE notebook saw no breakdown loss at all (its check
#: "largest loss breakdowns" failed at that hour of the day, whatever the load).
START_MS = 1_767_593_100_000


def simulated_store(folder: Path, scenario: str, duration_s: float, seed: int = 7) -> str:
    """Run `scenario` for `duration_s` simulated seconds as fast as possible on a broker of its own; return the
    store URL once ingestion has stored everything (a barrier state published last has arrived)."""
    broker = start_test_broker(broker_kind(), folder / "broker")
    try:
        settings = load_settings(
            mqtt_url=broker.address.url(masked=False),
            store=f"sqlite:///{folder / 'store.db'}",
            data_dir=folder,
            ingest={"client_id": f"ingest-{uuid.uuid4().hex[:8]}", "flush_interval": 0.05},
        )
        ingest = start_ingest(settings)
        try:
            sim = start_simulator(
                settings, scenario=scenario, speed=0, duration_s=duration_s, backfill_s=0, seed=seed, start_ms=START_MS
            )
            assert sim.thread is not None
            sim.thread.join(300)
            assert not sim.thread.is_alive(), "the simulated run did not finish in 300 s"
            if sim.error is not None:
                raise sim.error
            # every reading at the broker before the barrier is sent (a fast run queues thousands)
            assert sim.publisher.wait_published(120), "the broker did not acknowledge the run in 120 s"
            sim.stop()
            machine = f"barrier/p/a/l/m-{uuid.uuid4().hex[:8]}"
            client = MqttClient(broker.address)
            client.connect()
            body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
            client.publish(f"{machine}/state", body, qos=1)
            client.wait_published(10)
            client.close()

            def arrived() -> bool:
                store = SqliteStorage(settings.store)
                try:
                    return any(s.machine == machine for s in store.read_states(machine))
                finally:
                    store.close()

            assert wait_until(arrived, 60), "ingestion did not store the barrier"
        finally:
            stopped = ingest.stop(60)
        assert stopped, "ingestion did not write and acknowledge everything within 60 s of the stop"
        # the barrier is not plant data: take it out again so the notebooks see the plant only
        with contextlib.closing(sqlite3.connect(folder / "store.db")) as db, db:
            db.execute("DELETE FROM states WHERE machine = ?", (machine,))
        return settings.store
    finally:
        broker.stop()
