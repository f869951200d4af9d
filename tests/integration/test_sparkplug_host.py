"""Ingestion as a Sparkplug B host, end to end: a hand-made edge node → a private mosquitto → ingestion → SQLite.

The edge node here is a plain MQTT client publishing frames built with the codec, so every bad input can be sent
on purpose; tests/integration/test_sparkplug_foreign.py does the same with a library that is not ours.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker, start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient, Will
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, Settings, load_settings
from smartfactory.sparkplug.payload import (
    DataType,
    Metric,
    SparkplugPayload,
    decode_payload,
    encode_payload,
    parse_message,
)
from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import HAVE_MOSQUITTO, free_port, wait_until

pytestmark = pytest.mark.integration

GROUP, EDGE = "acme", "plant1:machining:line-1"
MACHINE = "acme/plant1/machining/line-1/cnc-01"


def _settings(broker: RunningBroker, tmp_path: Path, **ingest: object) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'spb.db'}",
        data_dir=tmp_path,
        ingest={"client_id": f"ingest-{tmp_path.name[-12:]}", "flush_interval": 0.05, **ingest},
    )


class EdgeNode:
    """A minimal Sparkplug edge node on our own MQTT client: publishes what it is told, records the NCMDs."""

    def __init__(self, broker: RunningBroker, bd_seq: int = 0) -> None:
        self.seq = 0
        self.bd_seq = bd_seq
        self.commands: list[SparkplugPayload] = []
        self._lock = threading.Lock()
        death = encode_payload(SparkplugPayload(metrics=[Metric(name="bdSeq", datatype=DataType.Int64, value=bd_seq)]))
        self.client = MqttClient(
            broker.address, on_message=self._take, will=Will(self.topic("NDEATH"), death, qos=1, retain=False)
        )
        self.client.subscribe(self.topic("NCMD"), qos=1)
        self.client.connect()

    def _take(self, message: Message) -> None:
        with self._lock:
            self.commands.append(decode_payload(message.payload))

    @property
    def rebirth_requests(self) -> int:
        with self._lock:
            return sum(
                1 for c in self.commands for m in c.metrics if m.name == "Node Control/Rebirth" and m.value is True
            )

    @staticmethod
    def topic(kind: str, device: str | None = None) -> str:
        base = f"spBv1.0/{GROUP}/{kind}/{EDGE}"
        return base if device is None else f"{base}/{device}"

    def send(self, kind: str, device: str | None, *metrics: Metric, seq: int | None = None) -> None:
        if kind == "NBIRTH":
            self.seq = 0
        body = SparkplugPayload(
            timestamp=int(time.time() * 1000), seq=self.seq if seq is None else seq, metrics=list(metrics)
        )
        self.seq = (body.seq or 0) + 1
        self.raw(self.topic(kind, device), encode_payload(body))

    def raw(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def births(self) -> None:
        self.send(
            "NBIRTH",
            None,
            Metric(name="bdSeq", datatype=DataType.Int64, value=self.bd_seq),
            Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=False),
        )
        status = {"status": "online", "info": {"machine_type": "cnc", "signals": {"spindle_temp": {"kind": "process"}}}}
        self.send(
            "DBIRTH",
            "cnc-01",
            Metric(name="spindle_temp", alias=1, datatype=DataType.Double, value=60.0, properties={"engUnit": "°C"}),
            Metric(name="reject_count", alias=2, datatype=DataType.Int32, value=0),
            Metric(name="operator", alias=3, datatype=DataType.String, value="ann"),
            Metric(name="_sf/status", alias=4, datatype=DataType.String, value=json.dumps(status)),
            Metric(name="_sf/state", alias=5, datatype=DataType.String, value=""),
        )

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def edge(private_broker: RunningBroker) -> Iterator[EdgeNode]:
    node = EdgeNode(private_broker)
    yield node
    node.close()


def _values(store: SqliteStorage, sensor: str) -> list[float]:
    frame = store.read_series(f"{MACHINE}/telemetry/{sensor}")
    return [float(v) for v in frame["value"].tolist()]


def test_births_and_alias_only_data_are_stored(private_broker: RunningBroker, tmp_path: Path, edge: EdgeNode) -> None:
    running = start_ingest(_settings(private_broker, tmp_path))
    store = SqliteStorage(f"sqlite:///{tmp_path / 'spb.db'}")
    try:
        edge.births()
        now = int(time.time() * 1000) + 1000  # after the birth's own timestamp
        for i in range(20):
            edge.send(
                "DDATA",
                "cnc-01",
                Metric(alias=1, value=61.0 + i, timestamp=now + i),
                Metric(alias=2, value=i, timestamp=now + i),
            )
        state = json.dumps({"state": "down", "reason": "breakdown", "ts": now + 30})
        edge.send("DDATA", "cnc-01", Metric(alias=5, value=state))
        assert wait_until(lambda: len(_values(store, "spindle_temp")) == 21 and len(store.read_states()) == 1)
        assert _values(store, "spindle_temp") == [60.0, *(61.0 + i for i in range(20))]
        assert _values(store, "reject_count") == [0.0, *(float(i) for i in range(20))]
        [change] = store.read_states()
        assert (change.machine, change.state, change.reason, change.ts_ms) == (MACHINE, "down", "breakdown", now + 30)
        assert store.read_machine_info()[MACHINE].machine_type == "cnc"
        # the String `operator` of the birth (the empty `_sf/state` of the birth says "no state yet": no letter)
        assert [d.reason for d in store.read_deadletters()] == ["unsupported_type"]
        assert edge.rebirth_requests == 0
    finally:
        running.stop()
        store.close()


def test_bad_inputs_are_counted_and_dead_lettered_or_answered(
    private_broker: RunningBroker, tmp_path: Path, edge: EdgeNode
) -> None:
    running = start_ingest(_settings(private_broker, tmp_path, sparkplug_rebirth_interval=0))
    service = running.service
    store = SqliteStorage(f"sqlite:///{tmp_path / 'spb.db'}")
    try:
        edge.births()
        now = int(time.time() * 1000) + 1000
        edge.send("DDATA", "cnc-01", Metric(alias=1, value=1.0, timestamp=now))
        edge.raw(edge.topic("DDATA", "cnc-01"), b"\xff\xfe not protobuf")  # 1: bad_protobuf + rebirth
        edge.send("DDATA", "press-02", Metric(alias=1, value=9.0))  # 2: a device without birth
        edge.send("DDATA", "cnc-01", Metric(alias=1, value=2.0, timestamp=now + 1), seq=edge.seq + 3)  # 3: seq gap
        edge.send("DDATA", "cnc-01", Metric(alias=77, value=3.0), Metric(alias=1, value=3.0, timestamp=now + 2))  # 4
        edge.send("DDATA", "cnc-01", Metric(alias=3, value="bob"), Metric(alias=1, value=4.0, timestamp=now + 3))
        edge.raw(edge.topic("DDATA", "cnc-01"), b"\x00" * (1_048_576 + 1))  # too large
        edge.send("DDATA", "cnc-01", Metric(alias=1, value=5.0, timestamp=now + 4))
        assert wait_until(lambda: len(_values(store, "spindle_temp")) == 6)
        assert _values(store, "spindle_temp") == [60.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # nothing valid lost
        expected = {"bad_protobuf", "spb_no_birth", "spb_unknown_alias", "unsupported_type", "too_large"}
        assert wait_until(lambda: expected <= {d.reason for d in store.read_deadletters()})
        counters = service.counters
        assert all(counters.rejected[reason] >= 1 for reason in expected)
        assert counters.contained["spb_seq_gap"] >= 1
        # not protobuf, no birth, seq gap, unknown alias: four answers (the gap after the bad payload is no gap)
        assert wait_until(lambda: edge.rebirth_requests == 4)
        assert counters.contained["spb_rebirth_request"] == 4
        health = service.health()
        assert health["contained"]["spb_rebirth_request"] == 4
    finally:
        running.stop()
        store.close()


#: One metric of every datatype the host stores: name → (datatype, the DBIRTH's value, two DDATA values). Extremes
#: of each width (negative for the signed ones), above 2^31 and 2^63 for UInt32 and UInt64, all exact as a double.
EVERY_TYPE: dict[str, tuple[DataType, list[int | float | bool]]] = {
    "t_int8": (DataType.Int8, [-128, 127, -1]),
    "t_int16": (DataType.Int16, [-32768, 32767, -2]),
    "t_int32": (DataType.Int32, [-(2**31), 2**31 - 1, -3]),
    "t_int64": (DataType.Int64, [-(2**63), 2**62, -123_456_789_012]),
    "t_uint8": (DataType.UInt8, [255, 0, 200]),
    "t_uint16": (DataType.UInt16, [65535, 1, 40000]),
    "t_uint32": (DataType.UInt32, [2**32 - 1, 2**31 + 5, 3_000_000_000]),
    "t_uint64": (DataType.UInt64, [2**64 - 2**11, 2**63 + 2**11, 2**53]),
    "t_float": (DataType.Float, [-1.5, 3.25, 0.15625]),
    "t_double": (DataType.Double, [-1234.5678, 1e300, math.pi]),
    "t_bool": (DataType.Boolean, [True, False, True]),
}


def _without_datatypes(payload: bytes) -> bytes:
    """The payload with each metric's datatype left out, as a DDATA may be: its value field alone remains, which the
    host reads with the datatype of the birth (an Int8 of -1 is 0xFFFFFFFF in `int_value`)."""
    message = parse_message(payload)
    for metric in message.metrics:
        metric.ClearField("datatype")
    return bytes(message.SerializeToString())


def test_every_numeric_datatype_is_stored_as_sent(
    private_broker: RunningBroker, tmp_path: Path, edge: EdgeNode
) -> None:
    """Int8…UInt64, Float, Double and Boolean (as 1.0/0.0, docs/sparkplug.md) from a DBIRTH (name, alias,
    datatype), an alias-only DDATA with datatypes and one without: ingestion stores each value exactly."""
    running = start_ingest(_settings(private_broker, tmp_path))
    store = SqliteStorage(f"sqlite:///{tmp_path / 'spb.db'}")
    try:
        edge.send(
            "NBIRTH",
            None,
            Metric(name="bdSeq", datatype=DataType.Int64, value=edge.bd_seq),
            Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=False),
        )
        now = int(time.time() * 1000)
        types = list(EVERY_TYPE.items())
        edge.send(
            "DBIRTH",
            "cnc-01",
            *(Metric(name=n, alias=a, datatype=t, value=v[0], timestamp=now) for a, (n, (t, v)) in enumerate(types)),
        )
        edge.send(
            "DDATA",
            "cnc-01",
            *(Metric(alias=a, datatype=t, value=v[1], timestamp=now + 1) for a, (_, (t, v)) in enumerate(types)),
        )
        bare = SparkplugPayload(
            timestamp=now + 2,
            seq=edge.seq,
            metrics=[Metric(alias=a, datatype=t, value=v[2]) for a, (_, (t, v)) in enumerate(types)],
        )
        edge.seq += 1
        edge.raw(edge.topic("DDATA", "cnc-01"), _without_datatypes(encode_payload(bare)))
        assert wait_until(lambda: all(len(_values(store, name)) == 3 for name in EVERY_TYPE), 15)
        stored = {name: _values(store, name) for name in EVERY_TYPE}
        assert store.read_deadletters() == []
        assert edge.rebirth_requests == 0
    finally:
        running.stop()
        store.close()
    assert stored == {name: [float(v) for v in values] for name, (_, values) in EVERY_TYPE.items()}
    assert stored["t_bool"] == [1.0, 0.0, 1.0]


def test_state_is_retained_online_and_offline_after_stop(private_broker: RunningBroker, tmp_path: Path) -> None:
    settings = _settings(private_broker, tmp_path, sparkplug_host_id="lab-host")
    running = start_ingest(settings)
    seen: list[Message] = []
    got = threading.Event()

    def take(message: Message) -> None:
        seen.append(message)
        got.set()

    watcher = MqttClient(private_broker.address, on_message=take)
    watcher.subscribe("spBv1.0/STATE/lab-host", qos=1)
    try:
        watcher.connect()
        assert got.wait(10)
        online = json.loads(seen[0].payload)
        assert seen[0].retain
        assert online["online"] is True
        assert isinstance(online["timestamp"], int)
        running.stop()
        assert wait_until(lambda: any(json.loads(m.payload)["online"] is False for m in seen))
        offline = json.loads(seen[-1].payload)
        assert offline == {"online": False, "timestamp": online["timestamp"]}
    finally:
        watcher.close()


def test_state_will_says_offline_when_the_host_vanishes(private_broker: RunningBroker, tmp_path: Path) -> None:
    running = start_ingest(_settings(private_broker, tmp_path, sparkplug_host_id="gone-host"))
    assert running.host_state is not None
    running.host_state.client.abort()  # no DISCONNECT: the broker publishes the will
    seen: list[bytes] = []
    watcher = MqttClient(private_broker.address, on_message=lambda m: seen.append(m.payload))
    watcher.subscribe("spBv1.0/STATE/gone-host", qos=1)
    try:
        watcher.connect()
        assert wait_until(lambda: bool(seen) and json.loads(seen[-1])["online"] is False, timeout=60)
    finally:
        watcher.close()
        running.host_state = None
        running.stop()


def test_sparkplug_off_leaves_the_namespace_alone(
    private_broker: RunningBroker, tmp_path: Path, edge: EdgeNode
) -> None:
    running = start_ingest(_settings(private_broker, tmp_path, sparkplug=False))
    store = SqliteStorage(f"sqlite:///{tmp_path / 'spb.db'}")
    try:
        assert running.host_state is None
        edge.births()
        edge.raw(edge.topic("DDATA", "cnc-01"), b"garbage")
        marker = MqttClient(private_broker.address)
        marker.connect()
        marker.publish("acme/p/a/l/m/telemetry/t", json.dumps({"value": 1.0, "ts": int(time.time() * 1000)}).encode())
        marker.wait_published(5)
        marker.close()
        assert wait_until(lambda: store.count_readings() == 1)
        assert store.read_deadletters() == []
        assert running.service.counters.received == 1
        assert edge.rebirth_requests == 0
    finally:
        running.stop()
        store.close()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs mosquitto to kill and start again: apt-get install mosquitto")
def test_state_is_announced_again_after_the_broker_comes_back(tmp_path: Path) -> None:
    broker = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), tmp_path / "first")
    running = start_ingest(_settings(broker, tmp_path, sparkplug_host_id="back-host"))
    try:
        broker.kill()
        broker = start_mosquitto(broker.address, tmp_path / "second")  # a fresh broker: no retained STATE left
        seen: list[bytes] = []
        watcher = MqttClient(broker.address, on_message=lambda m: seen.append(m.payload))
        watcher.subscribe("spBv1.0/STATE/back-host", qos=1)
        watcher.connect()
        try:
            assert wait_until(lambda: any(json.loads(body)["online"] is True for body in seen), timeout=60)
        finally:
            watcher.close()
    finally:
        running.stop()
        broker.stop()


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="shared subscriptions: apt-get install mosquitto")
def test_shared_subscription_workers_all_know_the_births(
    private_broker: RunningBroker, tmp_path: Path, edge: EdgeNode
) -> None:
    workers = [
        start_ingest(
            load_settings(
                mqtt_url=private_broker.address.url(masked=False),
                store=f"sqlite:///{tmp_path / 'spb.db'}",
                data_dir=tmp_path / f"w{i}",
                ingest={"client_id": f"worker-{i}-{tmp_path.name[-8:]}", "flush_interval": 0.05, "group": "spb"},
            )
        )
        for i in range(2)
    ]
    store = SqliteStorage(f"sqlite:///{tmp_path / 'spb.db'}")
    try:
        edge.births()
        now = int(time.time() * 1000) + 1000
        for i in range(40):
            edge.send("DDATA", "cnc-01", Metric(alias=1, value=float(i), timestamp=now + i))
        assert wait_until(lambda: len(_values(store, "spindle_temp")) == 41)
        assert _values(store, "spindle_temp") == [60.0, *(float(i) for i in range(40))]
        assert edge.rebirth_requests == 0  # every worker holds the aliases: nothing unknown anywhere
        # the data was split: each worker read more than the birth's one value (which it may see twice: shared
        # and unshared)
        assert all(w.service.counters.readings > 2 for w in workers)
    finally:
        for worker in workers:
            worker.stop()
        store.close()
