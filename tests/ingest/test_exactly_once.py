"""Exactly-once outcome with a real broker and a real SQLite file: every reading once, values intact."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.ingest.service import IngestService
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.ingest.conftest import (
    Listener,
    Publisher,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    send_barrier,
    stored_readings,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]


def test_n_published_readings_are_stored_once_with_their_values(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    running = start_ingest(settings)
    published = readings_for(enterprise, 3000)
    grouped = []  # the grouped and batch forms too, at their own timestamps
    base = int(time.time() * 1000) - 50_000
    for i in range(50):
        body = {"ts": base + i, "values": {"a": i * 1.5, "b": -i}, "units": {"a": "bar"}}
        grouped.append((f"{enterprise}/p/a/l/g1/telemetry", json.dumps(body).encode()))
    batch = {"batch": [{"ts": base + 100 + j, "values": {"c": j / 3}} for j in range(500)]}
    grouped.append((f"{enterprise}/p/a/l/g2/telemetry", json.dumps(batch).encode()))
    publisher = publisher_factory(broker.address)
    publisher.send(published + grouped)

    expected = expected_readings(published)
    for i in range(50):
        expected[(f"{enterprise}/p/a/l/g1/telemetry/a", base + i)] = i * 1.5
        expected[(f"{enterprise}/p/a/l/g1/telemetry/b", base + i)] = float(-i)
    for j in range(500):
        expected[(f"{enterprise}/p/a/l/g2/telemetry/c", base + 100 + j)] = j / 3
    counters = running.service.counters
    assert wait_until(lambda: counters.stored >= len(expected))
    assert wait_until(send_barrier(broker.address, settings.store))  # nothing more can arrive
    assert running.stop()
    assert stored_readings(settings.store) == expected  # same keys, same values, nothing extra
    assert counters.stored == len(expected) == 3000 + 100 + 500
    assert counters.received >= len(published) + len(grouped)  # plus the monitor's own alarm messages
    assert counters.duplicates == 0
    assert counters.rejected == {}


def test_a_duplicate_delivery_is_counted_not_stored_and_a_conflict_is_counted_apart(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    running = start_ingest(settings)
    ts = format_ts(int(time.time() * 1000) - 1000)
    topic = f"{enterprise}/p/a/l/m/telemetry/t"
    publisher = publisher_factory(broker.address)
    publisher.send([(topic, json.dumps({"value": 1.0, "ts": ts}).encode())])
    counters = running.service.counters
    assert wait_until(lambda: counters.stored == 1)
    # The same reading again (a publisher retry, a redelivery) and the same key with another value.
    publisher.send([(topic, json.dumps({"value": 1.0, "ts": ts}).encode())] * 2)
    publisher.send([(topic, json.dumps({"value": 9.0, "ts": ts}).encode())])
    assert wait_until(lambda: counters.duplicates == 2 and counters.conflicts == 1)
    health = running.service.health()
    running.stop()
    store = SqliteStorage(settings.store)
    # a conflict is reported apart from the benign duplicates, and the last value written wins (as in InfluxDB)
    assert store.read_series(topic)["value"].tolist() == [9.0]
    assert store.read_deadletters() == []
    store.close()
    assert counters.stored == 1
    assert counters.rejected == {}
    assert (health["duplicates"], health["conflicts"]) == (2, 1)


CASES: list[tuple[str, bytes, str]] = [
    ("telemetry/t", b"{broken", "bad_json"),
    ("telemetry/t", b"\xff\xfe\x00 not text", "not_utf8"),
    ("telemetry/t", b'{"value": "71.3", "ts": 1795341600000}', "bad_number"),
    ("telemetry/t", b'{"value": true, "ts": 1795341600000}', "bad_number"),
    ("telemetry/t", b'{"value": NaN, "ts": 1795341600000}', "bad_number"),
    ("telemetry/t", b'{"value": Infinity, "ts": 1795341600000}', "bad_number"),
    ("telemetry/t", b'{"ts": 1795341600000}', "bad_payload"),
    ("telemetry/t", b'{"value": [1], "ts": 1795341600000}', "bad_number"),
    ("telemetry/t", b'{"value": 1, "ts": "2026-11-22T10:00:00"}', "bad_timestamp"),
    ("telemetry/t", b'{"value": 1, "ts": 1795341600}', "bad_timestamp"),
    ("telemetry/t", b'{"value": 1, "ts": "2999-01-01T00:00:00Z"}', "bad_timestamp"),
    ("telemetry/t", b'{"value": 1, "ts": "1971-01-01T00:00:00Z"}', "bad_timestamp"),
    ("telemetry/t", b'{"value": 1, "ts": 1795341600000, "pad": "' + b"x" * 3000 + b'"}', "too_large"),
    ("gossip", b"{}", "unknown_class"),
    ("telemetry/t/extra/levels", b"{}", "bad_topic"),
]


def test_every_kind_of_bad_message_is_dead_lettered_published_counted_and_logged_once(
    broker: RunningBroker,
    tmp_path: Path,
    enterprise: str,
    publisher_factory: Callable[[BrokerAddress], Publisher],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = ingest_settings(broker, tmp_path, max_payload_bytes=2048, reject_log_interval=60)
    running = start_ingest(settings)
    letters = Listener(broker.address, "_sf/deadletter/#")
    machine = f"{enterprise}/p/a/l/m"
    good = (f"{machine}/telemetry/ok", json.dumps({"value": 2.5, "ts": int(time.time() * 1000)}).encode())
    bad = [(f"{machine}/{suffix}", payload) for suffix, payload, _ in CASES]
    flood = [(f"{machine}/telemetry/t", b"{broken")] * 300  # one bad publisher, many messages
    publisher = publisher_factory(broker.address)
    with caplog.at_level(logging.WARNING, logger="smartfactory.ingest"):
        publisher.send([*bad, good, *flood])
        counters = running.service.counters
        assert wait_until(lambda: sum(counters.rejected.values()) == len(bad) + len(flood) and counters.stored == 1)
        # the flood repeats CASES[0] byte for byte: one dead letter (its natural key), the rest counted again
        assert wait_until(lambda: len(letters.messages) == len(bad) and counters.rejected_again == len(flood))
        assert running.service.running  # still working
        running.stop()
    letters.close()

    expected_reasons = [reason for _, _, reason in CASES]
    store = SqliteStorage(settings.store)
    stored = store.read_deadletters()
    store.close()
    assert [d.reason for d in stored[: len(bad)]] == expected_reasons
    assert [d.topic for d in stored[: len(bad)]] == [t for t, _ in bad]
    assert all(d.detail and d.received_ms > 0 for d in stored)
    too_large = stored[expected_reasons.index("too_large")]
    assert too_large.payload_size > 2048
    assert len(too_large.payload) == 1024  # truncated safely
    published = sorted(body["reason"] for body in letters.bodies())
    assert published == sorted(expected_reasons)
    assert len(stored) == len(bad)
    assert counters.rejected["bad_json"] == 301
    # One log line per reason however many messages: 300 bad_json rejections cost one line.
    lines = [r for r in caplog.records if "rejected a message" in r.getMessage()]
    assert sorted(r.args[1] for r in lines) == sorted(set(expected_reasons))  # type: ignore[index]


def test_the_reject_log_reports_what_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    from smartfactory.ingest.health import RejectLog
    from smartfactory.model import DeadLetter

    logger = logging.getLogger("test.reject")
    limiter = RejectLog(logger, interval=0.2)
    letter = DeadLetter(0, "a/b", "bad_json", "x", b"", 0)
    with caplog.at_level(logging.WARNING, logger="test.reject"):
        logged = [limiter(letter, n) for n in range(1, 1001)]
        assert logged.count(True) == 1
        time.sleep(0.25)
        assert limiter(letter, 1001)
    assert len(caplog.records) == 2
    assert "999 since the last line not logged" in caplog.records[1].getMessage()


def test_system_topics_and_passive_classes_are_acknowledged_but_not_stored(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    settings = ingest_settings(broker, tmp_path)
    running = start_ingest(settings)
    publisher = publisher_factory(broker.address)
    machine = f"{enterprise}/p/a/l/m"
    publisher.send(
        [
            ("_sf/health/someone-else", b'{"not": "machine data"}'),
            (f"{machine}/status", b'{"status": "online"}'),
            (f"{machine}/cmd", b'{"action": "clear"}'),
        ]
    )
    counters = running.service.counters
    assert wait_until(lambda: counters.received == 2)  # the _sf/ message is not counted
    running.stop()
    assert stored_readings(settings.store) == {}
    assert counters.rejected == {}


def test_service_without_a_spool_holds_messages_while_the_store_is_down(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    from tests.ingest.conftest import FlakyStore

    settings = ingest_settings(broker, tmp_path)
    store = FlakyStore(SqliteStorage(settings.store))
    store.down.set()
    client = MqttClient(broker.address, client_id=settings.ingest.client_id, persistent=True, manual_ack=True)
    service = IngestService(client, store, settings.ingest)  # type: ignore[arg-type]
    client.set_message_handler(service.on_message)
    client.connect()
    service.start()
    publisher = publisher_factory(broker.address)
    published = readings_for(enterprise, 50)
    publisher.send(published)
    assert wait_until(lambda: service.counters.write_errors >= 2)
    assert service.counters.stored == 0
    store.down.clear()
    assert wait_until(lambda: service.counters.stored == 50)
    service.stop()
    store.inner.close()
    assert stored_readings(settings.store) == expected_readings(published)
