"""`SparkplugPublisher.translate`: wire-v1 messages of the simulator → Sparkplug B frames, without a broker."""

from __future__ import annotations

import pytest

from smartfactory.settings import BrokerAddress
from smartfactory.sim.encode import status_payload
from smartfactory.sim.sparkplug_publisher import EMBEDDED, SparkplugPublisher, embedded_metric, telemetry_values
from smartfactory.sparkplug.mapping import sparkplug_to_machine_path
from smartfactory.sparkplug.payload import DataType, SparkplugPayload, decode_payload
from smartfactory.sparkplug.topic import SparkplugTopic
from smartfactory.wire import (
    EventPayload,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    StatePayload,
    StatusPayload,
    telemetry_json,
)
from tests.sim.conftest import T0, MakeSim

NOWHERE = BrokerAddress("127.0.0.1", 9)  # never connected: these tests only translate


def offline_publisher(make_sim: MakeSim, **kwargs: object) -> tuple[SparkplugPublisher, list[tuple[str, bytes]]]:
    """A publisher whose edge nodes are "connected" without a broker; and their births."""
    sim = make_sim()
    publisher = SparkplugPublisher(NOWHERE, sim.machines, control=False, bd_seq=0, **kwargs)  # type: ignore[arg-type]
    births = []
    for node in publisher.nodes.values():
        node.session.will()
        births += node.session.births()
    return publisher, births


def decoded(frame: tuple[str, bytes]) -> tuple[SparkplugTopic, SparkplugPayload]:
    return SparkplugTopic.parse(frame[0]), decode_payload(frame[1])


def test_one_edge_node_per_line_one_device_per_machine_and_the_inverse_mapping(make_sim: MakeSim) -> None:
    publisher, births = offline_publisher(make_sim)
    sim_paths = {str(m.path) for m in publisher.machines}
    topics = [decoded(f)[0] for f in births]
    assert len([t for t in topics if t.message_type == "NBIRTH"]) == len({m.path.line_id for m in publisher.machines})
    devices = [t for t in topics if t.message_type == "DBIRTH"]
    assert {str(sparkplug_to_machine_path(t.group_id, t.edge_node_id, t.device_id)) for t in devices} == sim_paths


def test_a_dbirth_announces_every_signal_with_its_unit_and_the_embedded_payloads(make_sim: MakeSim) -> None:
    publisher, births = offline_publisher(make_sim)
    placed = publisher.machines[0]
    _, birth = next(decoded(f) for f in births if f[0].endswith("/" + placed.path.machine))
    metrics = {m.name: m for m in birth.metrics}
    assert set(metrics) == set(placed.info.signals) | {embedded_metric(c) for c in EMBEDDED}
    for name, signal in placed.info.signals.items():
        assert metrics[name].datatype == DataType.Double
        assert metrics[name].properties.get("engUnit") == signal.unit
    status = metrics[embedded_metric(MessageClass.STATUS)]
    assert status.datatype == DataType.String
    assert status.is_null  # the machine's birth (with its facts) is set when the publisher connects, or by:
    birth = status_payload("online", T0, placed.info)
    ((frame, _),) = publisher.translate(placed.path.topic(MessageClass.STATUS), birth)
    again = {m.name: m for m in decoded(frame)[1].metrics}
    assert decoded(frame)[0].message_type == "DBIRTH"
    assert StatusPayload.from_bytes(str(again[embedded_metric(MessageClass.STATUS)].value)).info == placed.info


def test_telemetry_becomes_alias_only_ddata_with_each_instant_and_value(make_sim: MakeSim) -> None:
    publisher, _ = offline_publisher(make_sim)
    placed = publisher.machines[0]
    names = list(placed.info.signals)[:2]
    samples = [(T0 + i * 1000, {n: 10.0 * i + k for k, n in enumerate(names)}) for i in range(3)]
    frames = publisher.translate(placed.telemetry_topic, telemetry_json(samples))
    assert len(frames) == 1
    (topic, payload), qos = decoded(frames[0][0]), frames[0][1]
    assert (topic.message_type, topic.device_id, qos) == ("DDATA", placed.path.machine, 1)
    session = next(iter(publisher.nodes.values())).session
    expected = [(session.alias(placed.path.machine, n), ts, v[n]) for ts, v in samples for n in names]
    assert [(m.alias, m.timestamp, m.value) for m in payload.metrics] == expected
    assert all(m.name is None for m in payload.metrics)


def test_a_big_batch_is_split_into_ddata_of_at_most_max_metrics(make_sim: MakeSim) -> None:
    publisher, _ = offline_publisher(make_sim, max_metrics=7)
    placed = publisher.machines[0]
    name = next(iter(placed.info.signals))
    samples = [(T0 + i, {name: float(i)}) for i in range(20)]
    frames = publisher.translate(placed.telemetry_topic, telemetry_json(samples))
    sizes = [len(decoded(f)[1].metrics) for f, _ in frames]
    assert sizes == [7, 7, 6]
    seqs = [decoded(f)[1].seq for f, _ in frames]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


def test_a_signal_the_birth_did_not_announce_is_born_first(make_sim: MakeSim) -> None:
    publisher, _ = offline_publisher(make_sim)
    placed = publisher.machines[0]
    frames = publisher.translate(placed.telemetry_topic, telemetry_json([(T0, {"coolant_flow": 3.5})]))
    kinds = [decoded(f)[0].message_type for f, _ in frames]
    assert kinds == ["DBIRTH", "DDATA"]
    assert "coolant_flow" in {m.name for m in decoded(frames[0][0])[1].metrics}


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (MessageClass.STATE, StatePayload(state="down", ts=T0, reason="breakdown")),
        (MessageClass.QUALITY, QualityPayload(part_id="p-1", ts=T0, measurements={"diameter": 20.01}, verdict="good")),
        (MessageClass.EVENT, EventPayload(kind="fault", fault="stuck", sensor="spindle_temp", ts=T0)),
    ],
)
def test_state_quality_and_event_travel_as_their_wire_json_in_a_string_metric(
    make_sim: MakeSim, cls: MessageClass, body: StatePayload | QualityPayload | EventPayload
) -> None:
    publisher, _ = offline_publisher(make_sim)
    placed = publisher.machines[0]
    payload = body.to_bytes()
    ((frame, qos),) = publisher.translate(placed.path.topic(cls), payload)
    topic, data = decoded(frame)
    (metric,) = data.metrics
    session = next(iter(publisher.nodes.values())).session
    assert (topic.message_type, topic.device_id) == ("DDATA", placed.path.machine)
    assert metric.alias == session.alias(placed.path.machine, embedded_metric(cls))
    assert metric.value == payload.decode()  # the same JSON, decoded by the host with the wire-v1 rules
    assert metric.timestamp == T0
    assert qos == 1  # as these classes in wire format v1


def test_an_offline_status_is_a_ddeath_and_the_next_data_is_born_again(make_sim: MakeSim) -> None:
    publisher, _ = offline_publisher(make_sim)
    placed = publisher.machines[0]
    status_topic = placed.path.topic(MessageClass.STATUS)
    (death,) = publisher.translate(status_topic, status_payload("offline", T0))
    assert decoded(death[0])[0].message_type == "DDEATH"
    assert publisher.translate(status_topic, status_payload("offline", T0)) == []  # already dead
    frames = publisher.translate(placed.telemetry_topic, telemetry_json([(T0, {next(iter(placed.info.signals)): 1.0})]))
    assert [decoded(f)[0].message_type for f, _ in frames] == ["DBIRTH", "DDATA"]


def test_telemetry_values_read_inline_and_batched_messages_alike() -> None:
    inline = telemetry_json([(T0, {"a": 1.5, "b": 2.0})])
    batch = telemetry_json([(T0, {"a": 1.5}), (T0 + 1000, {"a": 1.75, "b": 3.0})], {"a": "mm"})
    assert telemetry_values(inline) == [("a", 1.5, T0), ("b", 2.0, T0)]
    assert telemetry_values(batch) == [("a", 1.5, T0), ("a", 1.75, T0 + 1000), ("b", 3.0, T0 + 1000)]
    parsed = MachineTelemetry.from_bytes(batch)  # the same instants as the wire model reads
    assert [(s.ts, s.values) for s in parsed.samples()][1] == (T0 + 1000, {"a": 1.75, "b": 3.0})
