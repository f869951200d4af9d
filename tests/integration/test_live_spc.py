"""The live SPC monitor inside real ingestion: learned limits are stored, versioned and reused after a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.services import start_ingest
from smartfactory.settings import load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachinePath
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_limits_are_stored_and_resumed_and_alarms_published(
    broker: RunningBroker, tmp_path: Path, enterprise: str
) -> None:
    settings = load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 's.db'}",
        data_dir=tmp_path,
        ingest={"client_id": f"spc-{enterprise}", "flush_interval": 0.05},
        spc={"phase1_points": 20, "rules": "WE1", "detector": "we", "shipped_limits": False},
    )
    series = MachinePath(enterprise, "p", "a", "l", "m").series("diameter")
    seen: list[Message] = []
    watcher = MqttClient(broker.address, on_message=seen.append)
    watcher.subscribe(f"{enterprise}/+/+/+/+/alarm/+", qos=1)
    watcher.connect()
    publisher = MqttClient(broker.address)
    publisher.connect()
    now = int(time.time() * 1000) - 60_000
    values = np.random.default_rng(9).normal(25.0, 0.01, 30)

    def send(start: int, xs: list[float]) -> None:
        for i, x in enumerate(xs):
            publisher.publish(series, json.dumps({"value": x, "ts": now + start + i}).encode(), qos=1)
        assert publisher.wait_published(10)

    store = SqliteStorage(settings.store)
    ingest = start_ingest(settings)
    send(0, values.tolist())
    assert wait_until(lambda: store.count_readings() == 30 and len(store.read_limits()) == 1)
    (learned,) = store.read_limits()
    assert (learned.series, learned.version, learned.source, learned.n) == (series, 1, "learned", 20)
    assert learned.center == pytest.approx(float(values[:20].mean()), rel=1e-12)
    ingest.stop()

    ingest = start_ingest(settings)  # a restart resumes the stored limits instead of learning new ones
    send(1000, [learned.ucl + 1.0])
    assert wait_until(lambda: len(store.read_alarms(active_only=True)) == 1)
    (alarm,) = store.read_alarms()
    assert (alarm.series, alarm.rules) == (series, ("WE1",))
    assert store.read_limits(series, latest_only=False) == [learned]
    assert wait_until(lambda: any(m.topic.endswith("/alarm/diameter") for m in seen))
    payload = json.loads(next(m for m in seen if m.topic.endswith("/alarm/diameter")).payload)
    assert payload["active"] is True
    assert payload["rules"] == ["WE1"]
    ingest.stop()
    watcher.close()
    publisher.close()
    store.close()
