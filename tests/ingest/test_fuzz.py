"""Fuzz: hypothesis-generated garbage topics and payloads interleaved with valid readings, through a real broker
into a running service: every valid reading stored with its value, every bad message dead-lettered with a reason,
and the service still running afterwards."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import start_ingest
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MessageClass, format_ts
from tests.ingest.conftest import Publisher, ingest_settings, needs_mosquitto, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, needs_mosquitto]

REASONS = {
    "too_large",
    "not_utf8",
    "bad_json",
    "bad_payload",
    "bad_number",
    "bad_timestamp",
    "bad_topic",
    "unknown_class",
}
MAX_PAYLOAD = 4096
CLASSES = {c.value for c in MessageClass}
_examples = itertools.count()
_stamps = itertools.count()


@dataclass(frozen=True)
class Valid:
    machine: str
    sensors: tuple[tuple[str, float], ...]  # one entry: …/telemetry/{sensor}; more: grouped on …/telemetry
    ts_ms: int


@dataclass(frozen=True)
class Bad:
    suffix: str  # the topic after the example's own first level
    payload: bytes


# Text an MQTT broker accepts in a topic level: valid UTF-8 without control characters, wildcards or '/'.
level_text = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="+#/$"), max_size=12
)
finite = st.floats(allow_nan=False, allow_infinity=False)
sensor = st.sampled_from(["temp", "force", "speed", "size"])


@st.composite
def valid(draw: st.DrawFn) -> Valid:
    names = draw(st.lists(sensor, min_size=1, max_size=3, unique=True))
    return Valid(
        f"p/a/l/m{draw(st.integers(0, 2))}",
        tuple((name, draw(finite)) for name in names),
        int(time.time() * 1000) - 100_000 + next(_stamps),  # unique per reading: nothing is a duplicate
    )


_NOW = object()


def good_reading(value: object = 1.5, ts: object = _NOW) -> dict[str, object]:
    return {"value": value, "ts": format_ts(int(time.time() * 1000) - 1000) if ts is _NOW else ts}


bad_values = st.sampled_from(["1.5", True, None, [1], {"a": 1}, "NaN"])
bad_stamps = st.sampled_from(
    [1_795_341_600, "2026-11-22T10:00:00", "2999-01-01T00:00:00Z", "1970-01-02T00:00:00Z", 1.5e12, "soon", None]
)
json_values = st.recursive(
    st.none() | st.booleans() | finite | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
)

bad_payloads = st.one_of(
    # Bytes that are not a JSON object (not JSON, not UTF-8, or JSON of another shape).
    st.binary(max_size=200).filter(lambda raw: not _is_json_object(raw)),
    # Objects with the wrong fields or types.
    bad_values.map(lambda v: json.dumps(good_reading(value=v)).encode()),
    bad_stamps.map(lambda t: json.dumps(good_reading(ts=t)).encode()),
    st.just(json.dumps({"ts": format_ts(int(time.time() * 1000))}).encode()),  # the value is missing
    st.dictionaries(st.text(max_size=6).map(lambda k: "x_" + k), json_values, min_size=1, max_size=3).map(
        lambda extra: json.dumps({**good_reading(), **extra}).encode()
    ),
    # NaN / Infinity literals, and a payload over the size limit.
    st.sampled_from([b'{"value": NaN, "ts": 1795341600000}', b'{"value": -Infinity, "ts": 1795341600000}']),
    st.integers(MAX_PAYLOAD + 1, MAX_PAYLOAD * 3).map(lambda n: b'{"value": 1, "pad": "' + b"x" * n + b'"}'),
)


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


bad_on_good_topic = st.builds(Bad, st.just("p/a/l/m0/telemetry/temp"), bad_payloads)
bad_topics = st.one_of(
    # Wrong number of levels (anything but 6 or 7 after ours, which makes 7 or 8 in all).
    st.lists(level_text.filter(bool), min_size=1, max_size=9)
    .filter(lambda levels: len(levels) + 1 not in (6, 7))
    .map("/".join),
    # Six levels, but the class is not one the wire format defines.
    st.tuples(
        st.lists(level_text.filter(bool), min_size=3, max_size=3), level_text.filter(lambda c: c not in CLASSES)
    ).map(lambda t: "/".join([*t[0], "m", t[1]])),
    # An empty level, or one over 100 characters.
    st.just("p//l/m/telemetry/x"),
    st.just("p/a/l/" + "m" * 101 + "/telemetry/x"),
)
bad_topic = st.builds(Bad, bad_topics, st.just(json.dumps(good_reading()).encode()))
messages = st.lists(st.one_of(valid(), bad_on_good_topic, bad_topic), min_size=1, max_size=12)


def encode(prefix: str, item: Valid | Bad) -> tuple[str, bytes]:
    if isinstance(item, Bad):
        return f"{prefix}/{item.suffix}", item.payload
    if len(item.sensors) == 1:
        name, value = item.sensors[0]
        return f"{prefix}/{item.machine}/telemetry/{name}", json.dumps({"value": value, "ts": item.ts_ms}).encode()
    body = {"ts": format_ts(item.ts_ms), "values": dict(item.sensors)}
    return f"{prefix}/{item.machine}/telemetry", json.dumps(body).encode()


def test_garbage_interleaved_with_valid_readings(broker: RunningBroker, tmp_path: Path) -> None:
    config = ingest_settings(broker, tmp_path, max_payload_bytes=MAX_PAYLOAD, reject_log_interval=600)
    running = start_ingest(config)
    publisher = Publisher(broker.address)
    store = SqliteStorage(config.store)

    # No shrinking: every shrink step is a real broker round trip that waits for a timeout when it fails, which
    # takes minutes; the failing example is reported unshrunk (it is short anyway: at most 12 messages).
    @settings(
        max_examples=40,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages)
    def check(items: list[Valid | Bad]) -> None:
        prefix = f"fuzz{next(_examples)}"
        started_ms = int(time.time() * 1000) - 1000
        sent = [encode(prefix, item) for item in items]
        publisher.send(sent)
        expected = {
            (f"{prefix}/{item.machine}/telemetry/{name}", item.ts_ms): value
            for item in items
            if isinstance(item, Valid)
            for name, value in item.sensors
        }
        # identical bad messages (same topic and bytes) are one dead letter: its natural key (issue 13)
        bad = sorted({(t, p) for (t, p), item in zip(sent, items, strict=True) if isinstance(item, Bad)})
        bad_topics = sorted(topic for topic, _ in bad)

        def letters() -> list[tuple[str, str]]:
            return [
                (d.topic, d.reason)
                for d in store.read_deadletters(since_ms=started_ms)
                if d.topic.startswith(prefix + "/")
            ]

        def readings() -> dict[tuple[str, int], float]:
            return {
                (r.series, r.ts_ms): r.value
                for chunk in store.iter_readings(machine=None)
                for r in chunk
                if r.series.startswith(prefix + "/")
            }

        assert wait_until(lambda: len(letters()) >= len(bad) and len(readings()) >= len(expected), timeout=5)
        assert readings() == expected
        got = letters()
        assert sorted(topic for topic, _ in got) == bad_topics
        assert {reason for _, reason in got} <= REASONS
        assert running.service.running

    try:
        check()
        assert running.service.running
        assert running.service.counters.duplicates == 0
    finally:
        store.close()
        publisher.close()
        running.stop()
