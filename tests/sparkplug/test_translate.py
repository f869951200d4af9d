"""`WireTranslator.adopt`: devices made from the wire-v1 messages themselves (the OPC UA bridge's births), no broker.

The translation of declared machines is tested through the simulator's publisher (tests/sim/test_sparkplug_publisher).
"""

from __future__ import annotations

import pytest

from smartfactory.sparkplug.edge import Frame
from smartfactory.sparkplug.payload import DataType, SparkplugPayload, decode_payload
from smartfactory.sparkplug.topic import SparkplugTopic
from smartfactory.sparkplug.translate import EMBEDDED, WireTranslator, embedded_metric
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, SignalInfo, StatusPayload, telemetry_json

T0 = 1_700_000_000_000
PATH = MachinePath("acme", "plant1", "machining", "line-1", "cnc-01")
INFO = MachineInfo(
    machine_type="cnc_mill",
    signals={
        "spindle_temp": SignalInfo(kind="process", unit="°C"),
        "diameter": SignalInfo(kind="quality", unit="mm", lsl=24.985, usl=25.015),
    },
)


def born(translator: WireTranslator) -> list[Frame]:
    """Connect every edge node "without a broker": its will, then its births."""
    frames = []
    for session in translator.sessions.values():
        session.will()
        frames += session.births()
    return frames


def decoded(frame: Frame) -> tuple[SparkplugTopic, SparkplugPayload]:
    return SparkplugTopic.parse(frame.topic), decode_payload(frame.payload)


def test_a_status_birth_makes_the_device_with_the_signals_and_units_of_its_machine_info() -> None:
    translator = WireTranslator(bd_seq=0)
    topic = PATH.topic(MessageClass.STATUS)
    birth = StatusPayload(status="online", ts=T0, info=INFO).to_bytes()
    translator.session(PATH)
    assert [decoded(f)[0].message_type for f in born(translator)] == ["NBIRTH"]  # the node first, no device yet
    translator.adopt(topic, birth)
    ((frame, qos),) = translator.translate(topic, birth)
    parsed, payload = decoded(frame)
    assert (parsed.message_type, parsed.edge_node_id, parsed.device_id, qos) == (
        "DBIRTH",
        "plant1:machining:line-1",
        "cnc-01",
        1,
    )
    metrics = {m.name: m for m in payload.metrics}
    assert set(metrics) == set(INFO.signals) | {embedded_metric(c) for c in EMBEDDED}
    assert metrics["spindle_temp"].datatype == DataType.Double
    assert metrics["spindle_temp"].properties["engUnit"] == "°C"
    status = StatusPayload.from_bytes(str(metrics[embedded_metric(MessageClass.STATUS)].value))
    assert status.info == INFO
    telemetry = PATH.topic(MessageClass.TELEMETRY)
    assert translator.adopt(telemetry, b"") == translator.route(telemetry)  # the machine's other topics are known
    ((data, _),) = translator.translate(telemetry, telemetry_json([(T0, {"spindle_temp": 41.5})]))
    assert [(m.alias, m.value) for m in decoded(data)[1].metrics] == [(metrics["spindle_temp"].alias, 41.5)]


def test_a_later_birth_announces_the_signals_it_names_for_the_first_time() -> None:
    translator = WireTranslator(bd_seq=0)
    translator.add_machine(PATH, INFO)
    born(translator)
    more = INFO.model_copy(update={"signals": {**INFO.signals, "power": SignalInfo(kind="process", unit="kW")}})
    ((frame, _),) = translator.translate(
        PATH.topic(MessageClass.STATUS), StatusPayload(status="online", info=more).to_bytes()
    )
    metrics = {m.name: m for m in decoded(frame)[1].metrics}
    assert metrics["power"].properties["engUnit"] == "kW"
    assert metrics["power"].alias not in {metrics[n].alias for n in INFO.signals}


@pytest.mark.parametrize("topic", ["acme/plant1/machining/line-1/cnc-01/cmd", "not/a/machine/topic"])
def test_only_a_machines_published_messages_are_adopted(topic: str) -> None:
    with pytest.raises(KeyError):
        WireTranslator().adopt(topic, b"{}")
