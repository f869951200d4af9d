"""Issue 13: a message naming a key twice is a dead letter that names the key, never stored with one of the two
values; a reading of -0.0 is stored as 0.0. The decoder alone, then ingestion with a real mosquitto and SQLite."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.model import DeadLetter
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from tests.ingest.conftest import Publisher, ingest_settings, needs_mosquitto, send_barrier, wait_until

NOW = 1_795_341_600_000  # 2026-11-22T10:00:00Z
MACHINE = "acme/plant1/machining/line-1/cnc-01"
SERIES = f"{MACHINE}/telemetry/spindle_temp"


def test_a_reading_naming_value_twice_is_a_dead_letter_naming_the_key() -> None:
    """Before: decoded as a reading of 99.0 (the parser keeps the last key)."""
    payload = b'{"ts": %d, "value": 1.0, "value": 99.0}' % NOW
    out = Decoder().decode(SERIES, payload, NOW)
    assert isinstance(out, DeadLetter), out
    assert (out.reason, out.detail) == ("bad_json", 'not valid JSON: duplicate key "value"')
    assert (out.topic, out.payload, out.payload_size) == (SERIES, payload, len(payload))


@pytest.mark.parametrize(
    "batch",
    [
        # one sample names a sensor twice: the other 999 samples are not salvaged with a last-wins parser
        [{"ts": NOW + i, "values": {"a": float(i)}} for i in range(999)] + ['{"ts": %d, "values": {"a": 1, "a": 2}}'],
        # the same beside a bad value, which alone would have the rest of the batch salvaged
        [
            {"ts": NOW, "values": {"a": "x"}},
            {"ts": NOW + 1, "values": {"a": 1.0}},
            '{"ts": %d, "ts": 1, "values": {"a": 1}}',
        ],
    ],
    ids=["sensor-twice", "beside-a-bad-value"],
)
def test_a_batch_with_a_key_twice_in_one_sample_is_refused_as_a_whole(batch: list[object]) -> None:
    samples = ",".join(s % (NOW + 2000) if isinstance(s, str) else json.dumps(s) for s in batch)
    payload = b'{"batch": [%s]}' % samples.encode()
    out = Decoder().decode(f"{MACHINE}/telemetry", payload, NOW + 5000)
    assert isinstance(out, DeadLetter), out
    assert out.reason == "bad_json"
    assert out.detail.startswith("not valid JSON: duplicate key ")


def test_minus_zero_is_decoded_as_zero() -> None:
    single = Decoder().decode(SERIES, b'{"ts": %d, "value": -0.0}' % NOW, NOW)
    grouped = Decoder().decode(f"{MACHINE}/telemetry", b'{"ts": %d, "values": {"a": -0.0, "b": -0}}' % NOW, NOW)
    # the salvage path (a bad value beside it) builds its samples again: -0.0 stays 0.0 there too
    salvaged = Decoder().decode(f"{MACHINE}/telemetry", b'{"ts": %d, "values": {"a": -0.0, "b": "x"}}' % NOW, NOW)
    readings = [r for out in (single, grouped, salvaged) if isinstance(out, Decoded) for r in out.readings]
    assert len(readings) == 4
    assert [(r.value, math.copysign(1.0, r.value)) for r in readings] == [(0.0, 1.0)] * 4


@pytest.mark.integration
@needs_mosquitto
def test_ingestion_dead_letters_duplicate_keys_and_stores_minus_zero_as_zero(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    running = start_ingest(settings)
    now = int(time.time() * 1000) - 10_000
    machine = f"{enterprise}/p/a/l/m"
    twice = b'{"ts": %d, "value": 1.0, "value": 99.0}' % now
    batch_twice = b'{"batch": [{"ts": %d, "values": {"a": 1.0}}, {"ts": %d, "values": {"a": 2.0, "a": 3.0}}]}' % (
        now,
        now + 1,
    )
    publisher_factory(broker.address).send(
        [
            (f"{machine}/telemetry/twice", twice),
            (f"{machine}/telemetry", batch_twice),
            (f"{machine}/telemetry/zero", b'{"ts": %d, "value": -0.0}' % now),
            (f"{machine}/telemetry/honest", b'{"ts": %d, "value": 20.5}' % now),
        ]
    )
    assert wait_until(send_barrier(broker.address, settings.store))
    assert running.service.counters.rejected == {"bad_json": 2}
    assert running.stop()

    store = SqliteStorage(settings.store)
    try:
        letters = sorted((d.topic.removeprefix(machine), d.reason, d.detail) for d in store.read_deadletters())
        readings = {r.series.removeprefix(machine): r.value for chunk in store.iter_readings() for r in chunk}
    finally:
        store.close()
    assert letters == [
        ("/telemetry", "bad_json", 'not valid JSON: duplicate key "a"'),
        ("/telemetry/twice", "bad_json", 'not valid JSON: duplicate key "value"'),
    ]
    assert readings == {"/telemetry/zero": 0.0, "/telemetry/honest": 20.5}  # nothing of the two refused messages
    assert math.copysign(1.0, readings["/telemetry/zero"]) == 1.0
