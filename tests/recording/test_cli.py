"""`smartfactory record` and `replay` as processes: Ctrl-C writes a complete file; a damaged file replays its
intact part, names the damaged byte and the skipped count, and exits with status 3."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.recording import RecordingWriter, open_recording
from smartfactory.recording.format import FRAME_HEAD
from tests.conftest import wait_until
from tests.recording.conftest import Collector

pytestmark = pytest.mark.integration


def smartfactory(*args: str) -> list[str]:
    return [sys.executable, "-m", "smartfactory", *args]


def test_ctrl_c_on_record_writes_a_complete_recording(broker: RunningBroker, tmp_path: Path, enterprise: str) -> None:
    out = tmp_path / "session.sfrec"
    url = broker.address.url(masked=False)
    child = subprocess.Popen(
        smartfactory("record", "--out", str(out), "--mqtt-url", url, "--topic", f"{enterprise}/#"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: out.exists() and out.stat().st_size > 0, 30)  # header written: subscribed
        client = MqttClient(broker.address, client_id=f"pub-{uuid.uuid4().hex[:6]}")
        client.connect()
        for i in range(50):
            client.publish(f"{enterprise}/t/{i % 5}", f"message {i}".encode(), qos=1)
        assert client.wait_published(10)
        client.close()
        # the recorder flushes twice a second; once the 50 messages are on disk, interrupt it
        assert wait_until(lambda: open_recording(out).intact == 50, 30)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    recording = open_recording(out)
    assert recording.complete
    assert recording.end is not None
    assert recording.end["ended_by"] == "stopped"
    assert [m.payload for m in recording.messages()] == [f"message {i}".encode() for i in range(50)]
    assert "recorded 50 messages" in err


def damaged_recording(path: Path) -> tuple[list[bytes], int]:
    """100 messages in blocks of 10, one byte of block 6 flipped; return the intact payloads and its offset."""
    writer = RecordingWriter(path, block_messages=10)
    for i in range(100):
        writer.add(f"lab/x/{i}", f"payload {i}".encode(), qos=1, retain=False, received_at=writer.start_s + i / 1000)
    writer.close()
    block = open_recording(path).blocks[6]
    data = bytearray(path.read_bytes())
    data[block.offset + FRAME_HEAD.size + 20] ^= 0x01
    path.write_bytes(data)
    return [f"payload {i}".encode() for i in (*range(60), *range(70, 100))], block.offset


def test_replay_of_a_damaged_file_replays_the_intact_part_and_exits_3(
    second_broker: RunningBroker, tmp_path: Path
) -> None:
    path = tmp_path / "damaged.sfrec"
    intact, offset = damaged_recording(path)
    watcher = Collector(second_broker.address).start()
    url = second_broker.address.url(masked=False)
    done = subprocess.run(
        smartfactory("replay", str(path), "--speed", "0", "--mqtt-url", url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert f"byte {offset}" in done.stderr
    assert "10 messages skipped" in done.stderr
    assert "replayed the 90 intact messages" in done.stderr
    assert wait_until(lambda: len(watcher.messages) == 90)
    watcher.stop()
    assert [m.payload for m in watcher.messages] == intact


def test_replay_check_publishes_nothing_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sfrec"
    _, offset = damaged_recording(path)
    done = subprocess.run(smartfactory("replay", str(path), "--check"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert f"byte {offset}: frame damaged (CRC mismatch)" in done.stderr
    truncated = tmp_path / "truncated.sfrec"
    truncated.write_bytes(path.read_bytes()[:-40])
    done = subprocess.run(smartfactory("replay", str(truncated), "--check"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "truncated" in done.stderr
    not_one = tmp_path / "notes.txt"
    not_one.write_text("hello")
    done = subprocess.run(smartfactory("replay", str(not_one), "--check"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "not a smartfactory recording" in done.stderr


def test_record_stops_after_count_messages_and_keeps_an_existing_file(
    broker: RunningBroker, tmp_path: Path, enterprise: str
) -> None:
    out = tmp_path / "ten.sfrec"
    url = broker.address.url(masked=False)
    command = smartfactory(
        "record", "--out", str(out), "--mqtt-url", url, "--topic", f"{enterprise}/#", "--count", "10"
    )
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: out.exists() and out.stat().st_size > 0, 30)
        client = MqttClient(broker.address, client_id=f"pub-{uuid.uuid4().hex[:6]}")
        client.connect()
        for i in range(30):
            client.publish(f"{enterprise}/n", str(i).encode(), qos=1)
        assert client.wait_published(10)
        client.close()
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    recording = open_recording(out)
    assert recording.end is not None
    assert recording.end["ended_by"] == "count"
    assert [m.payload for m in recording.messages()] == [str(i).encode() for i in range(10)]
    again = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert again.returncode == 1
    assert "--force" in again.stderr
    assert open_recording(out).intact == 10  # untouched
