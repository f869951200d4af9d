"""Containment paths of issue 13 against a real mosquitto and real SQLite: "no exception in a monitor, an alarm
publish, or any side effect may stop the writer: contain it per series, log it, count it".

- every alarm publish fails (the MQTT client raises on alarm topics) while two series raise alarms: every honest
  reading is stored once, the alarms are stored, the writer goes on, `contained.publish_error` counts each failure
  (in `counters`, the health report on MQTT and the log), and dead letters are still published
- building one dead letter's live message raises (the last-resort guard around all of a batch's side effects):
  counted, logged, the dead letter is stored, later dead letters are published and the writer goes on
- the decoder itself raises on one message: that message becomes an `internal_error` dead letter (stored with its
  reason, published, counted in `rejected`), the messages before and after it are stored

A monitor that raises on one series is already covered by test_poison.py
(`test_a_monitor_that_raises_is_contained_to_its_series`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.errors import BrokerError
from smartfactory.ingest import decode
from smartfactory.ingest import service as service_module
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import DeadLetterPayload
from tests.ingest.conftest import (
    Listener,
    Publisher,
    count_readings,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    send_barrier,
    stored_readings,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]
#: `spc.phase1_points`: a short phase I, so a series is charted after this many readings
PHASE1 = 20
Published = list[tuple[str, bytes]]


def spc_settings(broker: RunningBroker, tmp_path: Path, client_id: str) -> Settings:
    """Ingestion with the individuals chart (rule WE1 only) learning its limits from `PHASE1` readings."""
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'ingest.db'}",
        data_dir=tmp_path,
        spc={"phase1_points": PHASE1, "rules": "WE1", "detector": "we", "shipped_limits": False},
        ingest={"client_id": client_id, "health_interval": 0.2},
    )


def readings(series: str, values: Any, start_ms: int) -> Published:
    return [(series, json.dumps({"value": float(v), "ts": start_ms + i}).encode()) for i, v in enumerate(values)]


def test_failing_alarm_publishes_are_counted_and_the_writer_goes_on(
    broker: RunningBroker,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every alarm publish raises (the broker refuses it, say): the alarms are still stored, every reading is
    stored exactly once, and each failed publish is counted once in `contained.publish_error` and logged; other
    publishes (dead letters, health) still work."""
    settings = spc_settings(broker, tmp_path, f"ingest-{enterprise}")
    health = Listener(broker.address, f"_sf/health/{settings.ingest.client_id}")
    letters = Listener(broker.address, "_sf/deadletter/#")
    running = start_ingest(settings)
    service = running.service
    real_publish = service.client.publish
    refused: list[str] = []

    def publish(topic: str, payload: bytes, **options: Any) -> None:
        if "/alarm/" in topic:
            refused.append(topic)
            raise BrokerError(f"test: the broker refused the alarm on {topic}")
        real_publish(topic, payload, **options)

    monkeypatch.setattr(service.client, "publish", publish)
    machine = f"{enterprise}/p/a/l/m"
    series = [f"{machine}/telemetry/a", f"{machine}/telemetry/b"]
    start = int(time.time() * 1000) - 60_000
    rng = np.random.default_rng(13)
    in_control = [readings(s, rng.normal(10.0, 0.1, PHASE1), start) for s in series]
    shifted = [readings(s, [10.0 + 50 * 0.1] * 5, start + PHASE1) for s in series]  # 50 σ: WE1 at once
    after = [readings(s, rng.normal(10.0, 0.1, 30), start + PHASE1 + 5) for s in series]
    garbage = (f"{machine}/telemetry/a", b"{not json")
    honest = [*in_control[0], *in_control[1], *shifted[0], *shifted[1]]
    later = [*after[0], *after[1]]
    store = SqliteStorage(settings.store)
    try:
        with caplog.at_level(logging.WARNING, logger="smartfactory.ingest.service"):
            publisher = publisher_factory(broker.address)
            publisher.send(honest)
            # both series are in alarm before anything more is sent: the writer met the failing publishes
            assert wait_until(lambda: {a.series for a in store.read_alarms()} == set(series))
            assert wait_until(lambda: len(refused) >= 2)
            publisher.send([*later, garbage])
            assert wait_until(send_barrier(broker.address, settings.store))

            assert service.running
            assert service.state == "ok"
            expected = expected_readings(honest + later)
            assert stored_readings(settings.store) == expected
            assert count_readings(settings.store) == len(expected)  # once each: nothing lost, nothing twice
            assert service.counters.stored == len(expected)
            assert service.counters.duplicates == 0
            # each failed publish counted once (polled: a later alarm update may be on its way)
            assert wait_until(lambda: service.counters.contained["publish_error"] == len(refused))
            assert service.counters.alarms >= 2  # raised and stored, though never published
            assert {f"{machine}/alarm/a", f"{machine}/alarm/b"} <= set(refused)  # (and the barrier's idle state)

            # the health report says so, live on MQTT too
            reported = service.health()
            assert reported["state"] == "ok"
            assert reported["contained"]["publish_error"] == len(refused)
            assert wait_until(lambda: any(b.get("contained", {}).get("publish_error", 0) >= 2 for b in health.bodies()))
            # other publishes go on: the garbage's dead letter arrives
            assert wait_until(lambda: any(b["reason"] == "bad_json" for b in letters.bodies()))
        warned = [r for r in caplog.records if r.getMessage().startswith("could not publish on ")]
        assert warned, [r.getMessage() for r in caplog.records]
        assert "/alarm/" in warned[0].getMessage()
        assert "refused the alarm" in warned[0].getMessage()
    finally:
        store.close()
        health.close()
        letters.close()
        assert running.stop()


def test_a_side_effect_that_raises_outside_a_publish_is_contained(
    broker: RunningBroker,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Building the live message of one dead letter raises (no publish is reached): the dead letter is stored all
    the same, the failure is counted once in `contained.publish_error` and logged, and the other dead letters, of
    the same burst (before the per-letter guard, a batch's later letters and alarms were skipped) and of the next
    batch, are published as usual."""
    settings = ingest_settings(broker, tmp_path)
    machine = f"{enterprise}/p/a/l/m"
    cursed, plain, later = (f"{machine}/telemetry/{name}" for name in ("cursed", "plain", "later"))
    built: list[str] = []

    class Cursed(DeadLetterPayload):
        """The real dead-letter message, except for one topic."""

        def __init__(self, **fields: Any) -> None:
            built.append(fields["topic"])
            if fields["topic"] == cursed:
                raise RuntimeError("test: the dead letter's message cannot be built")
            super().__init__(**fields)

    monkeypatch.setattr(service_module, "DeadLetterPayload", Cursed)
    letters = Listener(broker.address, "_sf/deadletter/#")
    running = start_ingest(settings)
    service = running.service
    start = int(time.time() * 1000) - 60_000
    first = readings(f"{machine}/telemetry/t", range(10), start)
    second = readings(f"{machine}/telemetry/t", range(10, 20), start + 10)
    store = SqliteStorage(settings.store)
    try:
        with caplog.at_level(logging.WARNING, logger="smartfactory.ingest.service"):
            publisher = publisher_factory(broker.address)
            publisher.send([*first, (cursed, b"{cursed"), (plain, b"{plain")])
            assert wait_until(lambda: service.counters.contained["publish_error"] == 1)
            publisher.send([*second, (later, b"{later")])
            assert wait_until(send_barrier(broker.address, settings.store))

            assert service.running
            assert service.health()["state"] == "ok"
            assert stored_readings(settings.store) == expected_readings(first + second)
            assert {(d.topic, d.reason) for d in store.read_deadletters()} == {
                (cursed, "bad_json"),
                (plain, "bad_json"),
                (later, "bad_json"),
            }
            assert dict(service.counters.rejected) == {"bad_json": 3}
            assert wait_until(lambda: [b["topic"] for b in letters.bodies()] == [plain, later])
            assert service.counters.contained["publish_error"] == 1
            assert built.count(cursed) == 1
        warned = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("could not build the dead-letter message of") for m in warned), warned
    finally:
        store.close()
        letters.close()
        assert running.stop()


def test_a_decoder_failure_becomes_an_internal_error_dead_letter(
    broker: RunningBroker,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The decoder raises something it does not expect (a bug) on one message: that message alone is
    dead-lettered as `internal_error` (stored, published, counted), its neighbours on the same series are stored.
    The same message again is counted but not stored twice (the dead letter's natural key)."""
    settings = ingest_settings(broker, tmp_path)
    series = f"{enterprise}/p/a/l/m/telemetry/t"
    start = int(time.time() * 1000) - 60_000
    before = readings(series, [1.0 + i for i in range(10)], start)
    poison = (series, json.dumps({"value": 13.0, "ts": start + 10}).encode())
    after = readings(series, [21.0 + i for i in range(10)], start + 11)
    real_validate = decode._validate_reading
    failed: list[bytes] = []

    def validate(payload: bytes, *args: Any, **kwargs: Any) -> Any:
        if payload == poison[1]:
            failed.append(payload)
            raise RuntimeError("test: a decoder bug on this message")
        return real_validate(payload, *args, **kwargs)

    monkeypatch.setattr(decode, "_validate_reading", validate)
    letters = Listener(broker.address, "_sf/deadletter/#")
    running = start_ingest(settings)
    service = running.service
    store = SqliteStorage(settings.store)
    try:
        with caplog.at_level(logging.ERROR, logger="smartfactory.ingest.service"):
            publisher = publisher_factory(broker.address)
            publisher.send([*before, poison, *after])
            assert wait_until(send_barrier(broker.address, settings.store))

            assert failed == [poison[1]]  # the patch did fire, on that message only
            assert service.running
            assert stored_readings(settings.store) == expected_readings(before + after)
            (letter,) = store.read_deadletters()
            assert (letter.topic, letter.reason) == (series, "internal_error")
            assert letter.detail == "decoder failed: RuntimeError: test: a decoder bug on this message"
            assert (letter.payload, letter.payload_size) == (poison[1], len(poison[1]))
            assert dict(service.counters.rejected) == {"internal_error": 1}
            assert service.counters.readings == len(before) + len(after)
            reported = service.health()
            assert (reported["state"], reported["rejected_total"]) == ("ok", 1)

            # published live on _sf/deadletter/internal_error
            assert wait_until(lambda: len(letters.messages) >= 1)
            (message,) = letters.messages
            assert message.topic == "_sf/deadletter/internal_error"
            body = DeadLetterPayload.model_validate_json(message.payload)
            assert (body.reason, body.topic, body.payload) == ("internal_error", series, poison[1].decode())

            # the same message again: counted, not stored again (natural key); the writer still goes on
            publisher.send([poison])
            assert wait_until(send_barrier(broker.address, settings.store))
            assert len(failed) == 2
            assert dict(service.counters.rejected) == {"internal_error": 2}
            assert service.counters.rejected_again == 1
            assert len(store.read_deadletters()) == 1
            assert service.running
        logged = [r for r in caplog.records if r.getMessage().startswith("the decoder failed on a message on")]
        assert len(logged) == 2
        assert logged[0].exc_info is not None
        assert logged[0].exc_info[0] is RuntimeError
    finally:
        letters.close()
        assert running.stop()
    try:
        assert store.count_readings() == len(before) + len(after)
        assert len(store.read_deadletters()) == 1
    finally:
        store.close()
