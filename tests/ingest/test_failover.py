"""Shared-subscription failover (issue 13): two `smartfactory ingest` processes in one group, kill -9 one of them
while messages flow. mosquitto 2 does not hand the dead member's share to the live one: the QoS 1 messages in flight
to it and every later message the group's round-robin assigns to its offline persistent session wait in that
session. Nothing is lost: restarted under the same client id (compose: `restart: unless-stopped` with the fixed ids
of deploy/compose.scale.yml) the member receives them and stores them; every reading once. Real mosquitto, real
processes, one SQLite store."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.settings import BrokerAddress, Settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.ingest.conftest import (
    Publisher,
    count_readings,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    stored_readings,
    wait_until,
)
from tests.ingest.test_crashes import final_counters, publish_in_background, start_process

pytestmark = [pytest.mark.integration, pytest.mark.slow, needs_mosquitto]


def group_member(settings: Settings, client_id: str) -> Settings:
    return settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"client_id": client_id})})


def states_stored(store_url: str) -> set[str]:
    store = SqliteStorage(store_url)
    try:
        return {state.machine for state in store.read_states()}
    finally:
        store.close()


def barrier_through_live_member(address: BrokerAddress, store_url: str, enterprise: str) -> int:
    """Publish barrier states until one is stored: the group hands each to one member, and the one stored went to
    a live member, after everything that member was handed before it. A new barrier goes out every 2 s while the
    ones sent before are still watched, so a live member busy with its backlog costs no extra waiting. Returns
    how many barriers it took."""
    publisher = Publisher(address)
    sent: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(sent) < 60:
            machine = f"{enterprise}/p/a/l/barrier-{uuid.uuid4().hex[:6]}"
            body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
            publisher.send([(f"{machine}/state", body)])
            sent.append(machine)
            if wait_until(lambda: not states_stored(store_url).isdisjoint(sent), timeout=2):
                return len(sent)
    finally:
        publisher.close()
    raise AssertionError(f"none of {len(sent)} barriers reached a live member of the group")


def test_kill_9_one_of_two_group_members_mid_stream_and_restart_it_loses_nothing(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, group=f"g-{enterprise}", spc_rules="none")
    a_settings = group_member(settings, f"smartfactory-{enterprise}-a")
    b_settings = group_member(settings, f"smartfactory-{enterprise}-b")
    a = start_process(a_settings, tmp_path, "a", broker.address)
    b = start_process(b_settings, tmp_path, "b", broker.address)
    published = readings_for(enterprise, 6000)
    sender = publish_in_background(publisher_factory(broker.address), published, pace=0.001)  # ~6 s of traffic
    assert wait_until(lambda: count_readings(settings.store) >= 1000, timeout=60)
    a.kill()  # SIGKILL while messages flow: what was in flight to it is not acknowledged
    at_kill = count_readings(settings.store)
    assert at_kill < len(published)  # really mid-stream
    sender.join(120)
    assert not sender.is_alive()

    barrier_through_live_member(broker.address, settings.store, enterprise)
    held = len(published) - count_readings(settings.store)  # waiting in the dead member's session
    assert held > 0  # mosquitto keeps the dead member's share for it (if this changes, update docs/ingestion.md)

    again = start_process(a_settings, tmp_path, "a-again", broker.address)  # same id: its session, its spool
    assert wait_until(lambda: count_readings(settings.store) == len(published), timeout=60), again.output()
    assert again.terminate() == 0, again.output()
    assert b.terminate() == 0, b.output()
    assert stored_readings(settings.store) == expected_readings(published)  # every reading, once
    assert final_counters(again)["stored"] == held  # exactly the share that waited for it
