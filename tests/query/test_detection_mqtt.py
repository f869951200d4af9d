"""The detection scorecard through the public interfaces: `smartfactory ingest` and `smartfactory simulate
--speed 0 --scenario sudden-shift` as subprocesses on a real broker, alarms counted on the wire's alarm topics,
then `smartfactory report detection` on the store they filled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import AlarmPayload, Topic
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILLER = "acme/plant1/packaging/line-2/filler-01"


def smartfactory(*args: str) -> list[str]:
    return [sys.executable, "-m", "smartfactory", *args]


def test_sudden_shift_alarms_on_the_alarm_topic_and_the_report_credits_it(
    private_broker: RunningBroker, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    env = {
        **os.environ,
        "SMARTFACTORY_MQTT_URL": private_broker.address.url(masked=False),
        "SMARTFACTORY_STORE": url,
        "SMARTFACTORY_DATA_DIR": str(tmp_path),
        "SMARTFACTORY_INGEST__CLIENT_ID": "ingest-scorecard",
        # `simulate --speed 0` after a backfill runs its live part ahead of the wall clock (the 15 scenario
        # minutes take seconds); ingestion charts only readings up to chart_future_s ahead, so widen it
        "SMARTFACTORY_INGEST__CHART_FUTURE_S": "86400",
    }
    alarms: list[tuple[str, AlarmPayload]] = []
    health: list[Message] = []

    def on_message(message: Message) -> None:
        if message.topic.startswith("_sf/health/"):
            health.append(message)
        else:
            alarms.append((message.topic, AlarmPayload.model_validate_json(message.payload)))

    watcher = MqttClient(private_broker.address, on_message=on_message)
    watcher.subscribe("+/+/+/+/+/alarm/+", qos=1)
    watcher.subscribe("_sf/health/#", qos=0)
    watcher.connect()
    log = (tmp_path / "ingest.log").open("w")  # a file, not a pipe: a full pipe would block ingestion
    ingest = subprocess.Popen(smartfactory("ingest"), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: bool(health), timeout=60), "ingestion never published its health"
        # 15 min of history instead of the scenario's hour: fill_weight learns its limits from its first 500
        # bottles (~9 min), so its chart is live before the live part begins and the shift comes 2 min into it;
        # the rest of the hour was only more data to move
        scenario = ("--scenario", "sudden-shift", "--backfill", "15m", "--duration", "5m")
        sim = subprocess.run(
            smartfactory("simulate", "--speed", "0", *scenario),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert sim.returncode == 0, sim.stderr
        store = SqliteStorage(url)
        try:

            def settled() -> bool:
                stored = {a.alarm_id for a in store.read_alarms()}
                seen = {payload.alarm_id for _, payload in alarms if payload.active}
                faults = [e for e in store.read_events() if e.kind == "fault"]
                return bool(faults) and bool(stored) and stored == seen

            assert wait_until(settled, timeout=120), "the alarms stored and those on the alarm topics differ"
            (shift,) = [e for e in store.read_events() if e.kind == "fault" and e.fault == "shift"]
        finally:
            store.close()
    finally:
        ingest.send_signal(signal.SIGINT)
        ingest.wait(timeout=60)
        log.close()
        watcher.close()
    assert ingest.returncode == 0, (tmp_path / "ingest.log").read_text()
    assert shift.machine == FILLER
    on_fill_weight = [
        payload
        for topic, payload in alarms
        if payload.active
        and (str(Topic.parse(topic).path), Topic.parse(topic).name) == (FILLER, "fill_weight")
        and shift.ts_ms <= payload.ts < shift.ts_ms + 60_000
    ]
    assert on_fill_weight, f"no alarm on {FILLER}/alarm/fill_weight within a minute of the 3σ shift"

    report = subprocess.run(
        smartfactory("report", "detection", "--format", "json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    (episode,) = [e for e in data["episodes"] if e["fault"] == "shift"]
    assert episode["detected"] is True
    assert episode["alarm_series"] == f"{FILLER}/telemetry/fill_weight"
    assert 0 <= episode["delay_ms"] <= 60_000
    assert data["summary"]["window"]["source"] == "store"
    assert data["summary"]["counterfactual"] is False
