"""The recording file: written and read back exactly; damaged, truncated and foreign files named by byte offset."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from smartfactory.recording import FORMAT_NAME, FORMAT_VERSION, RecordingError, RecordingWriter, open_recording
from smartfactory.recording.format import FRAME_HEAD, KIND_HEADER, MAGIC, frame, json_body
from smartfactory.recording.topics import topic_class

TOPICS = [
    "acme/plant1/machining/line-1/cnc-01/telemetry",
    "acme/plant1/machining/line-1/cnc-01/state",
    "spBv1.0/acme/DDATA/plant1:machining/cnc-01",
    "_sf/health/ingest",
    "x/ünï/çødé",
]


def write(path: Path, n: int, *, block_messages: int = 10, flush_every: int = 7) -> list[tuple[str, bytes, int, bool]]:
    """Write `n` messages of every kind (binary payloads, empty ones, QoS 0-2, retained); return what was added."""
    added = []
    header = {"broker": "mqtt://127.0.0.1:1", "topics": ["#"]}
    writer = RecordingWriter(path, header=header, block_messages=block_messages)
    for i in range(n):
        payload = b"" if i % 11 == 0 else os.urandom(1 + i % 50) + bytes([0, 255, 10, 13])
        topic, qos, retain = TOPICS[i % len(TOPICS)], i % 3, i % 4 == 0
        writer.add(topic, payload, qos=qos, retain=retain, received_at=writer.start_s + i * 0.013, initial=i < 3)
        added.append((topic, payload, qos, retain))
        if (i + 1) % flush_every == 0:
            writer.flush()
    writer.close(ended_by="test")
    return added


def test_every_message_comes_back_byte_for_byte_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    added = write(path, 200)
    recording = open_recording(path)
    assert recording.complete
    assert recording.header["format"] == FORMAT_NAME
    assert recording.header["version"] == FORMAT_VERSION
    assert recording.end is not None
    assert recording.end["messages"] == 200
    assert recording.end["ended_by"] == "test"
    messages = list(recording.messages())
    assert [(m.topic, m.payload, m.qos, m.retain) for m in messages] == added
    assert [m.seq for m in messages] == list(range(200))
    assert [m.initial for m in messages[:4]] == [True, True, True, False]
    times = [m.t_ms for m in messages]
    assert times == sorted(times)
    assert times[-1] == (199 * 13)  # 13 ms apart, kept to the millisecond
    assert recording.skipped == 0
    assert recording.intact == 200


def test_time_never_runs_backwards(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    writer = RecordingWriter(path)
    writer.add("a", b"1", qos=1, retain=False, received_at=writer.start_s + 1.0)
    writer.add("a", b"2", qos=1, retain=False, received_at=writer.start_s + 0.5)  # the clock stepped back
    writer.add("a", b"3", qos=1, retain=False, received_at=writer.start_s - 5)  # arrived while connecting
    writer.close()
    assert [m.t_ms for m in open_recording(path).messages()] == [1000, 1000, 1000]


def test_header_is_readable_json_after_the_frame_head(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    write(path, 3)
    data = path.read_bytes()
    magic, kind, length, crc = FRAME_HEAD.unpack_from(data)
    assert (magic, kind) == (MAGIC, KIND_HEADER)
    body = data[FRAME_HEAD.size : FRAME_HEAD.size + length]
    assert crc == zlib.crc32(kind + struct.pack(">I", length) + body)
    assert json.loads(body)["format"] == "smartfactory-recording"


def test_a_corrupted_byte_in_the_middle_skips_one_block_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    added = write(path, 100, block_messages=10, flush_every=1000)
    recording = open_recording(path)
    damaged_block = recording.blocks[4]
    data = bytearray(path.read_bytes())
    data[damaged_block.offset + FRAME_HEAD.size + 30] ^= 0x5A
    path.write_bytes(data)

    damaged = open_recording(path)
    assert not damaged.complete
    assert [p.offset for p in damaged.problems] == [damaged_block.offset]
    assert "CRC" in str(damaged.problems[0])
    assert str(damaged_block.offset) in str(damaged.problems[0])
    assert damaged.skipped == 10
    assert damaged.skipped_exact
    assert damaged.intact == 90
    got = [(m.topic, m.payload, m.qos, m.retain) for m in damaged.messages()]
    assert got == added[:40] + added[50:]
    assert "10 messages skipped" in damaged.summary()


def test_damage_in_a_frame_length_or_magic_is_skipped_too(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    write(path, 60, block_messages=10, flush_every=1000)
    blocks = open_recording(path).blocks
    data = bytearray(path.read_bytes())
    data[blocks[1].offset + 6] ^= 0xFF  # inside the length field
    data[blocks[3].offset] = ord("X")  # the magic
    path.write_bytes(data)
    damaged = open_recording(path)
    assert [p.offset for p in damaged.problems] == [blocks[1].offset, blocks[3].offset]
    assert damaged.skipped == 20
    assert [m.seq for m in damaged.messages()] == [*range(10), *range(20, 30), *range(40, 60)]


@pytest.mark.parametrize("cut", [1, 12, 20, 200])
def test_a_truncated_file_reads_up_to_its_last_whole_block(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "s.sfrec"
    write(path, 80, block_messages=20, flush_every=1000)
    whole = open_recording(path)
    last = whole.blocks[-1]
    path.write_bytes(path.read_bytes()[: last.offset + cut])
    truncated = open_recording(path)
    assert truncated.end is None
    assert truncated.intact == 60
    assert [m.seq for m in truncated.messages()] == list(range(60))
    assert len(truncated.problems) == 1
    assert truncated.problems[0].offset == last.offset
    assert "truncated" in truncated.problems[0].message
    assert not truncated.skipped_exact
    # with the block head still there (cut ≥ 25 bytes: frame head + first_seq + count) the loss is counted
    assert truncated.skipped == (20 if cut >= 25 else 0)


def test_a_recorder_killed_between_flushes_leaves_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sfrec"
    writer = RecordingWriter(path)
    for i in range(30):
        writer.add("t", str(i).encode(), qos=1, retain=False, received_at=writer.start_s)
    writer.abandon()
    recording = open_recording(path)
    assert recording.problems == []
    assert recording.end is None
    assert [m.payload for m in recording.messages()] == [str(i).encode() for i in range(30)]
    assert "no end frame" in recording.summary()


def test_files_that_are_not_recordings_are_refused_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sfrec"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        open_recording(empty)
    other = tmp_path / "other.sfrec"
    other.write_bytes(b"\x1f\x8b\x08\x00 a gzip file")
    with pytest.raises(RecordingError, match="not a smartfactory recording"):
        open_recording(other)
    with pytest.raises(RecordingError, match="no recording at"):
        open_recording(tmp_path / "missing.sfrec")
    foreign = tmp_path / "foreign.sfrec"
    foreign.write_bytes(frame(KIND_HEADER, json_body({"format": "something-else", "version": 1})))
    with pytest.raises(RecordingError, match="not a smartfactory recording"):
        open_recording(foreign)


def test_a_newer_format_version_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new.sfrec"
    path.write_bytes(frame(KIND_HEADER, json_body({"format": FORMAT_NAME, "version": FORMAT_VERSION + 1})))
    with pytest.raises(RecordingError, match="upgrade smartfactory"):
        open_recording(path)


def test_topic_classes() -> None:
    assert [topic_class(t) for t in TOPICS] == ["telemetry", "state", "sparkplug", "system", "other"]
