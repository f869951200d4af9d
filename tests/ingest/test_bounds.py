"""Bounded resources and precise rejections (issue 13), against a real mosquitto and real SQLite.

- series caps: a new series past `max_series` / `max_series_per_machine` is dead-lettered, the rest stored
- one bad value or sample in a grouped message is rejected alone; the dead letter holds just that part
- garbage on cmd, status and alarm topics is dead-lettered; retained garbage is dead-lettered once, not again at
  every resubscribe; a `$`-first topic is refused by the grammar
- health returns from `spooling` to `ok` once the store is back and the spool is empty
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.errors import SpoolError
from smartfactory.ingest.decode import Decoder
from smartfactory.ingest.spool import Spool
from smartfactory.model import DeadLetter
from smartfactory.services import spool_directory, start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from tests.ingest.conftest import (
    FlakyStore,
    Listener,
    Publisher,
    ingest_settings,
    needs_mosquitto,
    send_barrier,
    start_service,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]


def test_new_series_past_the_caps_are_dead_lettered_and_the_rest_stored(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, max_series=5, max_series_per_machine=3, spc_rules="none")
    running = start_ingest(settings)
    now = int(time.time() * 1000) - 5000
    grouped = json.dumps({"ts": now, "values": {f"s{i}": float(i) for i in range(5)}}).encode()
    singles = [
        (f"{enterprise}/p/a/l/b/telemetry/t{i}", json.dumps({"value": 1.0, "ts": now}).encode()) for i in range(3)
    ]
    publisher = publisher_factory(broker.address)
    publisher.send([(f"{enterprise}/p/a/l/a/telemetry", grouped), *singles])
    assert wait_until(send_barrier(broker.address, settings.store))
    # series already admitted keep flowing after the caps are reached
    more = json.dumps({"ts": now + 1, "values": {"s0": 9.0, "s4": 9.0}}).encode()
    publisher.send([(f"{enterprise}/p/a/l/a/telemetry", more)])
    assert wait_until(lambda: running.service.counters.stored == 6)
    health = running.service.health()
    assert running.stop()

    store = SqliteStorage(settings.store)
    try:
        stored = sorted(info.series.rsplit("/telemetry/", 1)[1] for info in store.list_series())
        assert stored == ["s0", "s1", "s2", "t0", "t1"]  # 3 of machine a, then 2 of b until 5 in all
        letters = [d for d in store.read_deadletters() if d.topic.startswith(enterprise)]
    finally:
        store.close()
    assert sorted(d.reason for d in letters) == ["too_many_series"] * 3
    refused = [json.loads(d.payload) for d in letters if d.topic.endswith("/a/telemetry")]
    assert refused == [  # just the refused values of each grouped message
        {"batch": [{"ts": now, "values": {"s3": 3.0}}, {"ts": now, "values": {"s4": 4.0}}]},
        {"batch": [{"ts": now + 1, "values": {"s4": 9.0}}]},
    ]
    assert [d.topic for d in letters if "/b/" in d.topic] == [singles[2][0]]  # a whole single-reading message
    assert health["series"] == 5
    assert health["rejected"]["too_many_series"] == 3


def test_one_bad_value_or_sample_does_not_discard_its_batch(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    running = start_ingest(settings)
    now = int(time.time() * 1000) - 60_000
    samples: list[dict[str, object]] = [{"ts": now + i, "values": {"a": float(i), "b": -float(i)}} for i in range(1000)]
    samples[10]["values"] = {"a": 10.0, "b": "eleven"}  # a string where a number belongs: only b@10 rejected
    samples[20]["ts"] = "yesterday"  # a broken timestamp: the whole sample, 2 values
    samples[30]["ts"] = now + 10 * 86_400_000  # ten days ahead: outside max_future_s
    topic = f"{enterprise}/p/a/l/m/telemetry"
    publisher_factory(broker.address).send([(topic, json.dumps({"batch": samples}).encode())])
    assert wait_until(lambda: running.service.counters.stored == 2000 - 1 - 2 - 2)
    assert running.stop()

    store = SqliteStorage(settings.store)
    try:
        assert len(store.read_series(f"{topic}/a")) == 998
        assert len(store.read_series(f"{topic}/b")) == 997
        letters = {d.reason: d for d in store.read_deadletters()}
    finally:
        store.close()
    assert sorted(letters) == ["bad_number", "bad_timestamp"]
    assert json.loads(letters["bad_number"].payload) == {"batch": [{"ts": now + 10, "values": {"b": "eleven"}}]}
    timestamps = json.loads(letters["bad_timestamp"].payload)["batch"]
    assert [s["ts"] for s in timestamps] == ["yesterday", now + 10 * 86_400_000]
    assert letters["bad_number"].payload_size > 40_000  # the size of the whole message, for the record
    assert "1 value(s) of this message rejected" in letters["bad_number"].detail


def test_garbage_on_cmd_status_and_alarm_is_dead_lettered_and_retained_garbage_only_once(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    machine = f"{enterprise}/p/a/l/m"
    publisher = publisher_factory(broker.address)
    publisher.client.publish(f"{machine}/status", b"not a status", qos=1, retain=True)
    publisher.client.publish(f"{machine}/alarm/t", b'{"alarm": "fake"}', qos=1, retain=True)
    publisher.send([(f"{machine}/cmd", b"rm -rf /")])  # not retained: only a live subscriber sees it
    letters = Listener(broker.address, "_sf/deadletter/#")

    first = start_ingest(settings)  # its subscription gets the two retained messages
    try:
        publisher.send([(f"{machine}/cmd", b"rm -rf /")])
        assert wait_until(lambda: sum(first.service.counters.rejected.values()) == 3)
        assert first.stop()
        second = start_ingest(settings)  # a new subscription: the broker sends the retained garbage again
        assert wait_until(lambda: sum(second.service.counters.rejected.values()) == 2)
        assert wait_until(send_barrier(broker.address, settings.store))
        assert second.stop()
    finally:
        letters.close()

    store = SqliteStorage(settings.store)
    try:
        stored = sorted((d.topic.removeprefix(machine), d.reason) for d in store.read_deadletters())
    finally:
        store.close()
    assert stored == [("/alarm/t", "bad_payload"), ("/cmd", "bad_json"), ("/status", "bad_json")]  # once each
    assert sorted(b["topic"].removeprefix(machine) for b in letters.bodies()) == ["/alarm/t", "/cmd", "/status"]


def test_a_dollar_first_topic_is_refused_by_the_grammar() -> None:
    out = Decoder().decode("$acme/p/a/l/m/telemetry/t", b'{"value": 1, "ts": 1}', 1)
    assert isinstance(out, DeadLetter)
    assert out.reason == "bad_topic"
    assert "'$'" in out.detail


class FailingSpool(Spool):
    """A real spool on a disk that is full while `down` is set (the store and the spool share the disk)."""

    def __init__(self, directory: Path, down: threading.Event) -> None:
        super().__init__(directory)
        self.down = down

    def append(self, body: bytes) -> None:
        if self.down.is_set():
            raise SpoolError("test outage: no space left on the spool's disk")
        super().append(body)


def test_health_returns_to_ok_after_a_store_and_spool_outage(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: the state stayed `spooling` for good, because only a spool replay set it back to `ok`."""
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    store = FlakyStore(SqliteStorage(settings.store))
    store.down.set()
    service = start_service(settings, store, spool=FailingSpool(spool_directory(settings), store.down))
    try:
        now = int(time.time() * 1000) - 5000
        readings = [
            (f"{enterprise}/p/a/l/m/telemetry/t", json.dumps({"value": float(i), "ts": now + i}).encode())
            for i in range(20)
        ]
        publisher_factory(broker.address).send(readings)
        assert wait_until(lambda: service.health()["state"] == "spooling" and service.counters.write_errors > 1)
        store.down.clear()  # the disk has room again and the store answers
        assert wait_until(lambda: service.counters.stored == 20)
        assert wait_until(lambda: service.health()["state"] == "ok")
        assert service.health()["spool_pending"] == 0
    finally:
        service.stop()
        store.inner.close()


def test_a_birth_counts_against_the_series_caps(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: the monitor kept state for every signal a birth declared, whatever the caps (200 births × 50
    signals gave 10,000 monitored series under a cap of 1,000 per machine)."""
    settings = ingest_settings(broker, tmp_path, max_series=8, max_series_per_machine=3)
    running = start_ingest(settings)
    assert running.service.monitor is not None
    now = int(time.time() * 1000) - 5000
    signals = {f"s{i}": {"kind": "process", "unit": "°C"} for i in range(50)}
    births = [
        (f"{enterprise}/p/a/l/m{k}/status", json.dumps({"status": "online", "ts": now, "info": {
            "machine_type": "cnc", "sample_interval_s": 1.0, "signals": signals}}).encode())
        for k in range(4)
    ]  # fmt: skip
    publisher = publisher_factory(broker.address)
    publisher.send(births)
    assert wait_until(send_barrier(broker.address, settings.store))
    monitored = running.service.monitor.series_count
    contained = dict(running.service.counters.contained)
    assert running.stop()
    assert monitored == 8  # 3 + 3 + 2 + 0: the caps, not 200
    assert contained["signals_over_cap"] == 200 - 8
    store = SqliteStorage(settings.store)
    try:  # the births themselves are stored whole
        assert {len(i.signals) for m, i in store.read_machine_info().items() if m.startswith(enterprise)} == {50}
    finally:
        store.close()
