"""The recording file format, version 1 (`.sfrec`): frames with a CRC each, messages in compressed blocks.

A recording is a sequence of frames (docs/recording.md has the full specification):

    frame := magic "SFRC" (4 bytes) | kind (1 byte) | length L (u32) | crc (u32) | body (L bytes)

All integers are big-endian. `crc` is the CRC-32 of ISO-HDLC / IEEE 802.3 (`zlib.crc32`) over kind, length and
body, so a damaged length is caught as well as a damaged body. Kinds:

- `H` header, first in the file: UTF-8 JSON `{"format": "smartfactory-recording", "version": 1, ...}`.
- `M` message block: `first_seq` (u64) | `count` (u32) | zlib-compressed records (RFC 1950), each record
  `t_ms` (u64) | `qos` (u8) | `flags` (u8: bit 0 retain, bit 1 initial) | topic length (u16) | payload
  length (u32) | topic (UTF-8) | payload (raw bytes).
- `E` end, last in the file: UTF-8 JSON with the totals (`messages`, `duration_ms`, `ended_by`, ...).

Every frame stands on its own, so a reader that meets a damaged frame skips forward to the next magic whose frame
checks out and goes on; the sequence numbers of the blocks tell how many messages were lost on the way. This module
is pure apart from file I/O: no MQTT, no store.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from smartfactory.errors import SmartfactoryError

FORMAT_NAME = "smartfactory-recording"
FORMAT_VERSION = 1
MAGIC = b"SFRC"
KIND_HEADER = b"H"
KIND_BLOCK = b"M"
KIND_END = b"E"
KINDS = (KIND_HEADER, KIND_BLOCK, KIND_END)
#: magic, kind, length, crc
FRAME_HEAD = struct.Struct(">4scII")
#: first_seq, count at the start of a block's body
BLOCK_HEAD = struct.Struct(">QI")
#: t_ms, qos, flags, topic length, payload length of one record
RECORD_HEAD = struct.Struct(">QBBHI")
#: a frame body larger than this is taken for a damaged length (writers stay far below it)
MAX_BODY = 256 * 1024 * 1024
FLAG_RETAIN = 0x01
FLAG_INITIAL = 0x02


class RecordingError(SmartfactoryError):
    """A file that is not a recording, or one this version cannot read (a newer format version)."""


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One captured MQTT message.

    `t_ms` is when it arrived, in milliseconds after the recording started (never decreasing along the file);
    `seq` its number in the recording (0, 1, 2, ...); `retain` the retain flag as the broker delivered it;
    `initial` marks the retained messages the broker handed over at subscription time (the state of the broker
    when the recording began).
    """

    seq: int
    t_ms: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    initial: bool = False


def frame(kind: bytes, body: bytes) -> bytes:
    """One frame: magic, kind, length, CRC-32 over kind + length + body, body."""
    if kind not in KINDS:
        raise ValueError(f"unknown frame kind {kind!r}")
    length = struct.pack(">I", len(body))
    crc = zlib.crc32(body, zlib.crc32(length, zlib.crc32(kind)))
    return MAGIC + kind + length + struct.pack(">I", crc) + body


def frame_crc(kind: bytes, length: int, body: bytes | memoryview) -> int:
    """The CRC a frame with this kind, length and body must carry."""
    return zlib.crc32(body, zlib.crc32(struct.pack(">I", length), zlib.crc32(kind)))


def json_body(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def encode_block(messages: Sequence[RecordedMessage], level: int = 6) -> bytes:
    """The body of an `M` frame: the first sequence number, the count and the compressed records.

    The messages must be consecutive (seq n, n+1, ...)."""
    if not messages:
        raise ValueError("a block holds at least one message")
    first = messages[0].seq
    parts: list[bytes] = []
    for i, m in enumerate(messages):
        if m.seq != first + i:
            raise ValueError(f"block messages must be consecutive: {m.seq} after {first + i - 1}")
        topic = m.topic.encode("utf-8", "surrogateescape")
        flags = (FLAG_RETAIN if m.retain else 0) | (FLAG_INITIAL if m.initial else 0)
        parts.append(RECORD_HEAD.pack(m.t_ms, m.qos, flags, len(topic), len(m.payload)))
        parts.append(topic)
        parts.append(m.payload)
    return BLOCK_HEAD.pack(first, len(messages)) + zlib.compress(b"".join(parts), level)


def decode_block(body: bytes | memoryview) -> list[RecordedMessage]:
    """The messages of an `M` frame's body; `ValueError` when it does not decode (a CRC collision, a bug)."""
    if len(body) < BLOCK_HEAD.size:
        raise ValueError("block shorter than its head")
    first, count = BLOCK_HEAD.unpack_from(body)
    raw = zlib.decompress(bytes(body[BLOCK_HEAD.size :]))
    out: list[RecordedMessage] = []
    pos = 0
    for i in range(count):
        if pos + RECORD_HEAD.size > len(raw):
            raise ValueError(f"record {i} of {count} is cut off")
        t_ms, qos, flags, topic_len, payload_len = RECORD_HEAD.unpack_from(raw, pos)
        pos += RECORD_HEAD.size
        end = pos + topic_len + payload_len
        if end > len(raw):
            raise ValueError(f"record {i} of {count} is cut off")
        topic = raw[pos : pos + topic_len].decode("utf-8", "surrogateescape")
        payload = raw[pos + topic_len : end]
        pos = end
        out.append(
            RecordedMessage(
                seq=first + i,
                t_ms=t_ms,
                topic=topic,
                payload=payload,
                qos=qos,
                retain=bool(flags & FLAG_RETAIN),
                initial=bool(flags & FLAG_INITIAL),
            )
        )
    if pos != len(raw):
        raise ValueError(f"{len(raw) - pos} bytes after the last of {count} records")
    return out


def block_range(body: bytes | memoryview) -> tuple[int, int]:
    """(first_seq, count) of a block body, without decompressing it."""
    first, count = BLOCK_HEAD.unpack_from(body)
    return int(first), int(count)


def header_document(**fields: Any) -> dict[str, Any]:
    """A header: the format name and version first, then what the writer knows about the session."""
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **fields}


def write_frames(out: BinaryIO, frames: Iterable[bytes]) -> int:
    """Write frames and flush; return the bytes written."""
    written = 0
    for data in frames:
        out.write(data)
        written += len(data)
    out.flush()
    return written
