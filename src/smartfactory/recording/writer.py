"""Writing a recording: messages in, blocks out, a valid file at every flush.

    with RecordingWriter(path, header={"broker": "mqtt://127.0.0.1:1883", "topics": ["#"]}) as writer:
        writer.add("acme/.../telemetry", b"{...}", qos=1, retain=False, received_at=time.time())
        writer.flush()          # the messages so far are one block on disk
    # closing writes the end frame with the totals

`add` may be called from one thread (the MQTT network thread) while another calls `flush` (the recorder's loop):
a lock guards the pending messages. Each flush writes the pending messages as blocks of at most `block_messages`
messages and `block_bytes` bytes and flushes the file, so a writer killed between flushes leaves a file that
reads up to its last block (the end frame is then missing, and a reader says so).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from smartfactory import __version__
from smartfactory.recording.format import (
    KIND_BLOCK,
    KIND_END,
    KIND_HEADER,
    RecordedMessage,
    encode_block,
    frame,
    header_document,
    json_body,
)

#: defaults: a block per flush, split at this many messages or raw bytes
BLOCK_MESSAGES = 5000
BLOCK_BYTES = 4 * 1024 * 1024


class RecordingWriter:
    """Append-only writer of one recording file (format version 1, `recording.format`)."""

    def __init__(
        self,
        path: Path,
        header: dict[str, Any] | None = None,
        *,
        start_s: float | None = None,
        block_messages: int = BLOCK_MESSAGES,
        block_bytes: int = BLOCK_BYTES,
    ) -> None:
        self.path = path
        #: wall-clock second of t = 0
        self.start_s = time.time() if start_s is None else start_s
        self.block_messages = block_messages
        self.block_bytes = block_bytes
        self._lock = threading.Lock()
        self._pending: list[RecordedMessage] = []
        self._seq = 0
        self._last_t_ms = 0
        self._flushed = 0
        self._blocks = 0
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")
        document = header_document(
            created_ms=round(self.start_s * 1000),
            smartfactory=__version__,
            **(header or {}),
        )
        self._file.write(frame(KIND_HEADER, json_body(document)))
        self._file.flush()

    @property
    def messages(self) -> int:
        """Messages added so far (flushed or not)."""
        return self._seq

    @property
    def blocks(self) -> int:
        return self._blocks

    def add(
        self, topic: str, payload: bytes, *, qos: int, retain: bool, received_at: float, initial: bool = False
    ) -> int:
        """Add one message received at wall-clock second `received_at`; return its sequence number.

        Its time is kept in whole milliseconds after the start and never goes back (a clock step backwards, or a
        message that arrived while connecting, gets the time of the one before it)."""
        with self._lock:
            if self._closed:
                raise ValueError(f"the recording {self.path} is closed")
            t_ms = max(self._last_t_ms, round((received_at - self.start_s) * 1000))
            self._last_t_ms = t_ms
            seq = self._seq
            self._pending.append(
                RecordedMessage(
                    seq=seq, t_ms=t_ms, topic=topic, payload=payload, qos=qos, retain=retain, initial=initial
                )
            )
            self._seq += 1
            return seq

    def flush(self) -> int:
        """Write the pending messages as blocks and flush the file; return how many were written."""
        with self._lock:
            pending, self._pending = self._pending, []
        written = 0
        while written < len(pending):
            end, size = written, 0
            while (
                end < len(pending)
                and end - written < self.block_messages
                and (size < self.block_bytes or end == written)
            ):
                size += len(pending[end].payload) + len(pending[end].topic) + 16
                end += 1
            self._file.write(frame(KIND_BLOCK, encode_block(pending[written:end])))
            self._blocks += 1
            written = end
        if written:
            self._file.flush()
        self._flushed += written
        return written

    def close(self, **end: Any) -> None:
        """Flush, write the end frame (totals and `end`'s fields), sync the file to disk and close it."""
        if self._closed:
            return
        self.flush()
        with self._lock:
            self._closed = True
        document = {
            "messages": self._seq,
            "blocks": self._blocks,
            "duration_ms": self._last_t_ms,
            **end,
        }
        self._file.write(frame(KIND_END, json_body(document)))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abandon(self) -> None:
        """Close the file without an end frame (what a crash leaves behind; for tests of the reader)."""
        self.flush()
        self._closed = True
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close(ended_by="closed" if kind is None else f"error: {kind.__name__}")
