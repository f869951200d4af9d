"""Record on a real broker, replay into a fresh one: the same messages, order, QoS, retain flags and retained state."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.recording import open_recording
from smartfactory.recording.recorder import MARKER_PREFIX, Recorder
from smartfactory.recording.replayer import replay
from smartfactory.settings import BrokerAddress
from tests.conftest import wait_until
from tests.recording.conftest import Collector

pytestmark = pytest.mark.integration


def publisher(address: BrokerAddress) -> MqttClient:
    client = MqttClient(address, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    client.connect()
    return client


def retained_state(address: BrokerAddress) -> dict[str, bytes]:
    """What a new subscriber to `#` gets as retained messages (topic → payload)."""
    got: dict[str, bytes] = {}
    done = f"_sf/test/done-{uuid.uuid4().hex}"
    client = MqttClient(address, client_id=f"late-{uuid.uuid4().hex[:6]}")

    def take(message: Message) -> None:
        if message.topic == done:
            got[done] = b""
        elif message.retain:
            got[message.topic] = message.payload

    client.set_message_handler(take)
    client.subscribe("#", qos=1)
    client.connect()
    client.publish(done, b"", qos=1)
    assert wait_until(lambda: done in got)
    client.close()
    del got[done]
    return got


Sent = tuple[str, bytes, int, bool]


def by_qos(messages: list[Sent]) -> dict[int, list[Sent]]:
    out: dict[int, list[Sent]] = {}
    for message in messages:
        out.setdefault(message[2], []).append(message)
    return out


LIVE: list[Sent] = [
    ("acme/plant1/packaging/line-2/filler-01/telemetry/fill_weight", b'{"value":500.2,"ts":1796000000000}', 1, False),
    ("acme/plant1/packaging/line-2/filler-01/state", b'{"state":"running","ts":1796000000001}', 1, True),
    ("spBv1.0/acme/DDATA/plant1/filler-01", bytes(range(256)), 0, False),  # binary, like a Sparkplug payload
    ("spBv1.0/STATE/host-1", b'{"online":true,"timestamp":1796000000002}', 1, True),
    ("lab/student-07/raw", b"", 0, False),  # an empty payload that is not a deletion
    ("lab/student-07/qos2", b"\x00\x01\x02exactly once", 2, False),
    ("acme/plant1/packaging/line-2/filler-01/event", b'{"kind":"fault","fault":"shift","ts":1796000000003}', 1, False),
    ("ünïcode/töpic/ß", "grüße".encode(), 1, True),
    ("acme/plant1/pre/line/m/status", b"", 1, True),  # deletes a retained message that was there at the start
]


def test_record_and_replay_synthetic_messages(
    broker: RunningBroker, second_broker: RunningBroker, tmp_path: Path
) -> None:
    pub = publisher(broker.address)
    pub.publish("acme/plant1/pre/line/m/status", b'{"status":"online"}', qos=1, retain=True)
    pub.publish("acme/plant1/pre/line/m/blob", b"\xff\xfe\x00retained", qos=1, retain=True)
    assert pub.wait_published(10)

    path = tmp_path / "session.sfrec"
    recorder = Recorder(broker.address, path)
    recorder.start()
    assert recorder.protocol == "5"
    for i, (topic, payload, qos, retain) in enumerate(LIVE):
        pub.publish(topic, payload, qos=qos, retain=retain)
        if i == 3:
            assert pub.wait_published(10)
            time.sleep(0.3)  # a pause the recording keeps
    assert pub.wait_published(10)
    assert wait_until(lambda: recorder.flush() >= 0 and recorder.stats.messages >= 2 + len(LIVE))
    stats = recorder.stop()
    pub.close()

    recording = open_recording(path)
    assert recording.complete
    messages = list(recording.messages())
    assert not any(m.topic.startswith(MARKER_PREFIX) for m in messages)  # the recorder's own marker is left out
    initial = [m for m in messages if m.initial]
    assert {(m.topic, m.payload) for m in initial} == {
        ("acme/plant1/pre/line/m/status", b'{"status":"online"}'),
        ("acme/plant1/pre/line/m/blob", b"\xff\xfe\x00retained"),
    }
    assert all(m.retain for m in initial)
    live = [(m.topic, m.payload, m.qos, m.retain) for m in messages if not m.initial]
    # bytes, QoS and the publisher's retain flag (MQTT 5 Retain As Published); the order of each QoS level (MQTT
    # orders messages of one QoS: a QoS 2 message is forwarded after its PUBREL, later than QoS 0/1 ones after it)
    assert by_qos(live) == by_qos(LIVE)
    assert stats.truth_events == 1
    assert recording.end is not None
    assert recording.end["truth_events"] == 1
    assert recording.end["initial"] == 2
    gap = messages[len(initial) + 4].t_ms - messages[len(initial) + 3].t_ms
    assert gap >= 250  # the publisher paused 0.3 s after the fourth live message

    # replay into a fresh broker, twice as fast, watched by a subscriber that was there first
    watcher = Collector(second_broker.address).start()
    client = publisher(second_broker.address)
    speed = 2.0
    started = time.monotonic()
    result = replay(recording, client, speed=speed)
    client.close()
    assert result.published == len(messages)
    assert wait_until(lambda: len(watcher.messages) == len(messages))
    watcher.stop()
    replayed = [(m.topic, m.payload, m.qos, m.retain) for m in watcher.messages]
    assert by_qos(replayed) == by_qos([(m.topic, m.payload, m.qos, m.retain) for m in messages])
    arrival = {(m.topic, m.payload): at for m, at in zip(watcher.messages, watcher.arrived, strict=True)}
    for recorded in messages:  # never published before its (scaled) time
        assert arrival[(recorded.topic, recorded.payload)] - started >= recorded.t_ms / 1000 / speed
    # the fresh broker ends with the retained state the original had
    assert retained_state(second_broker.address) == retained_state(broker.address)
    assert "acme/plant1/pre/line/m/blob" in retained_state(second_broker.address)
    assert "acme/plant1/pre/line/m/status" not in retained_state(second_broker.address)
