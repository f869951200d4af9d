"""The plant's own data survives a broker crash (issue 13): `smartfactory simulate` publishes while ingestion is away
(its persistent session collects), mosquitto is killed with SIGKILL and started again on the same port and
persistence file. mosquitto saves once a second (`autosave_interval 1`), so it loses QoS 1 messages it had already
acknowledged since its last save; the simulator publishes the last seconds of them again after its reconnect
(`sim.publisher.REPLAY_S`), and ingestion's keys make the repeats harmless. Counted end to end: every reading the
simulator says it published is stored, once. Real processes, real mosquitto, real SQLite."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.services import start_ingest
from tests.conftest import path_with_interpreter_bin
from tests.ingest.conftest import (
    BrokerControl,
    Listener,
    count_readings,
    ingest_settings,
    needs_mosquitto,
    send_barrier,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, needs_mosquitto]


@pytest.fixture
def interval_broker(tmp_path: Path) -> Iterator[BrokerControl]:
    """A private mosquitto saving once a second (as compose does): a SIGKILL loses what it acknowledged since."""
    control = BrokerControl(tmp_path / "broker", "interval")
    yield control
    control.stop()


def simulate(address_url: str, folder: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env["PATH"] = path_with_interpreter_bin()
    env["SMARTFACTORY_DATA_DIR"] = str(folder)
    return subprocess.Popen(
        [sys.executable, "-m", "smartfactory", "simulate", "--mqtt-url", address_url, "--speed", "30",
         "--duration", "6m", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip


def test_a_broker_killed_during_simulate_loses_no_reading(interval_broker: BrokerControl, tmp_path: Path) -> None:
    settings = ingest_settings(interval_broker, tmp_path, spc_rules="none")
    first = start_ingest(settings)  # the persistent session exists; ingestion then stays away during the crash
    assert first.stop()
    url = interval_broker.address.url(masked=False)
    watcher = Listener(interval_broker.address, "acme/#")
    sim = simulate(url, tmp_path)
    try:
        # kill while the simulator is publishing and the broker's queue for ingestion grows
        assert wait_until(lambda: sum("/telemetry" in m.topic for m in watcher.messages) >= 300, timeout=60)
        watcher.client.abort()
        interval_broker.kill()
        interval_broker.restart()
        after = Listener(interval_broker.address, "acme/#")
        out, _ = sim.communicate(timeout=180)
    finally:
        if sim.poll() is None:
            sim.kill()
    assert sim.returncode == 0, out
    # the crash fell inside the run: the simulator came back and published on the restarted broker
    assert wait_until(lambda: any("/telemetry" in m.topic for m in after.messages), timeout=10), out
    after.close()
    found = re.search(r"published (\d+) telemetry messages \((\d+) readings\)", out)
    assert found, out
    published = int(found.group(2))

    running = start_ingest(settings)
    try:
        assert wait_until(send_barrier(interval_broker.address, settings.store), timeout=120)
    finally:
        assert running.stop()
    assert count_readings(settings.store) == published  # every reading the simulator published (SQLite keys: once)
