"""One big payload must not blind ingestion (issue 13): ingestion announces an MQTT 5 Maximum Packet Size of
`max_payload_bytes` + 64 KiB in its CONNECT, so the broker never sends it anything much bigger; a payload just
over the limit still arrives and is dead-lettered. Real mosquitto, real SQLite."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import PACKET_OVERHEAD, RunningBroker
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from tests.ingest.conftest import Publisher, ingest_settings, needs_mosquitto, send_barrier, wait_until

pytestmark = [pytest.mark.integration, needs_mosquitto]


def test_a_payload_far_over_the_limit_is_never_read_and_one_just_over_is_dead_lettered(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    limit = 4096
    settings = ingest_settings(broker, tmp_path, max_payload_bytes=limit, spc_rules="none")
    running = start_ingest(settings)
    assert running.service.client.protocol == "5"
    topic = f"{enterprise}/p/a/l/m/telemetry/t"
    now = int(time.time() * 1000) - 5000
    just_over = b'{"value": 1, "ts": %d, "pad": "' % now + b"x" * limit + b'"}'
    huge = b'{"value": 1, "ts": %d, "pad": "' % now + b"x" * (limit + PACKET_OVERHEAD + 500_000) + b'"}'
    honest = [(topic, json.dumps({"value": float(i), "ts": now + i}).encode()) for i in range(50)]
    publisher_factory(broker.address).send([*honest[:25], (topic, huge), (topic, just_over), *honest[25:]])
    assert wait_until(send_barrier(broker.address, settings.store))
    counters = running.service.counters
    assert counters.stored == 50
    assert counters.received == 50 + 1 + 1  # the honest readings, the one just over, the barrier: not the huge one
    assert dict(counters.rejected) == {"too_large": 1}
    assert running.stop()
    store = SqliteStorage(settings.store)
    try:
        (letter,) = store.read_deadletters()
    finally:
        store.close()
    assert letter.payload_size == len(just_over)
