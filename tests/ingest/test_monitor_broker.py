"""The live monitor through the public interfaces: `smartfactory ingest` as a process, a short scripted plant run
with `smartfactory simulate --speed 0`, and the alarms counted on the wire format's alarm topics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import HEALTH_PREFIX, AlarmPayload, alarm_class
from tests.ingest.conftest import IngestProcess, ingest_settings, send_barrier, wait_until

pytestmark = pytest.mark.integration

SCENARIO = """
name: monitor-check
description: in control for 30 minutes, then a 3σ fill-weight step and a moulder breakdown
seed: 3
speed: 0
duration: 40m
auto_stops: false
shifts: false
events:
  - at: 30m
    machine: filler-01
    inject: shift
    sensor: fill_weight
    params: {sigmas: 3}
  - at: 34m
    machine: imm-01
    inject: breakdown
    params: {duration: 2m}
"""


def mapped_packages(pid: int) -> set[str]:
    """The site-packages distributions whose shared libraries a process has mapped (Linux: /proc/PID/maps)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    paths = [line.split("site-packages/", 1)[1] for line in maps.splitlines() if "site-packages/" in line]
    return {path.split("/", 1)[0] for path in paths}


def test_a_plant_run_through_mqtt_raises_only_the_alarms_its_faults_cause(
    broker: RunningBroker, tmp_path: Path
) -> None:
    scenario = tmp_path / "monitor-check.yaml"
    scenario.write_text(SCENARIO)
    settings = ingest_settings(broker, tmp_path)
    seen: list[Message] = []
    watcher = MqttClient(broker.address, on_message=seen.append)
    watcher.subscribe("acme/+/+/+/+/alarm/+", qos=1)
    watcher.subscribe(f"{HEALTH_PREFIX}/{settings.ingest.client_id}", qos=0)
    watcher.connect()
    ingest = IngestProcess(settings, tmp_path / "ingest.log")
    try:
        assert wait_until(lambda: any(m.topic.startswith(HEALTH_PREFIX) for m in seen)), ingest.output()
        run = subprocess.run(
            [sys.executable, "-m", "smartfactory", "simulate", "--mqtt-url", settings.mqtt_url,
             "--scenario", str(scenario), "--speed", "0"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        assert wait_until(send_barrier(broker.address, settings.store), timeout=120), ingest.output()[-3000:]
        # it wrote and monitored 40 minutes of a plant without ever building a DataFrame: pandas, with pyarrow ~67 MB
        # of RSS (storage/frames.py), is not mapped into its process
        assert mapped_packages(ingest.process.pid) & {"pandas", "pyarrow"} == set()
        assert "scipy" in mapped_packages(ingest.process.pid)  # the probe's control: the design solver is
    finally:
        assert ingest.terminate() == 0
        watcher.close()
    store = SqliteStorage(settings.store)
    try:
        events = {e.fault: e for e in store.read_events() if e.kind == "fault"}
        states = [s for s in store.read_states() if s.machine.endswith("imm-01") and s.state == "down"]
        limits = {v.series.rsplit("/", 3)[-3] + "/" + v.series.rsplit("/", 1)[-1]: v for v in store.read_limits()}
        stored_alarms = store.read_alarms()
    finally:
        store.close()
    alarms = [(m.topic, AlarmPayload.from_bytes(m.payload)) for m in seen if "/alarm/" in m.topic]
    raised = [(topic, a) for topic, a in alarms if a.active]
    onset = events["shift"].ts_ms
    # in control for the first 30 minutes: the designed monitor stays quiet
    early = [(t, a.rules) for t, a in raised if a.ts < onset]
    assert len(early) <= 1, early
    # the 3σ step on the fill weight: an SPC alarm within 5 s of simulated time (about five bottles)
    fill = [a for t, a in raised if t.endswith("/filler-01/alarm/fill_weight") and onset <= a.ts]
    assert fill
    assert fill[0].ts - onset <= 5000
    assert alarm_class(fill[0].rules) == "spc"
    # the breakdown: a state alarm stamped with the state record itself (delay 0), cleared by the repair
    (down,) = states
    state_alarms = [a for t, a in alarms if t.endswith("/imm-01/alarm/_state")]
    assert [(a.active, a.ts, a.rules) for a in state_alarms][:1] == [(True, down.ts_ms, ["state"])]
    assert any(not a.active and a.ts == down.ts_ms + 120_000 for a in state_alarms)
    # every alarm published is stored under the same id; the limits in use are stored with their detector
    assert {a.alarm_id for _, a in raised} <= {a.alarm_id for a in stored_alarms}
    assert limits["filler-01/fill_weight"].detector == "individuals"
    assert limits["filler-01/reject_count"].detector == "poisson"
    assert limits["cnc-01/diameter"].source == "configured"  # the plant's shipped limits file
    assert limits["imm-01/melt_temp"].params["residuals"] == 1.0  # the AR(1) sensor: charted on residuals
