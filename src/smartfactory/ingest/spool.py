"""Store-and-forward spool: an append-only, fsync'd, segmented record log on local disk.

Ingestion appends one record per batch while the store is unavailable and acknowledges the batch's messages only
after `append` returns, that is after `fsync`. `replay` hands the records back, oldest first, and moves a cursor
past each one the store accepted; a segment is deleted once every record in it is replayed.

Layout of `directory` (one per worker):

    LOCK                 flock()ed while a worker uses the spool: two processes never share one
    0000000001.spool     segment: magic b"SFSPOOL1", then frames <u32 length><u32 CRC-32><body>
    0000000001.cursor    byte offset of the next record to replay (written after each replayed record)

A crash while appending leaves a torn last frame: its length or CRC does not match, it is cut off when the spool is
opened, and since it was never acknowledged the broker delivers those messages again. The cursor is replaced
atomically but not fsync'd: after a power cut a few records may be replayed twice, which the store's idempotent
keys absorb (dead letters too, in SQLite, through their natural key).
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from smartfactory.errors import SpoolError

log = logging.getLogger(__name__)

MAGIC = b"SFSPOOL1"
_FRAME = struct.Struct("<II")
__all__ = ["MAGIC", "Spool", "SpoolError", "SpoolFull"]


class SpoolFull(SpoolError):
    """Appending would take the spool over its size limit."""


@dataclass(slots=True)
class _Segment:
    number: int
    path: Path
    size: int  # end of the last valid frame
    cursor: int  # offset of the next record to replay
    records: int  # records not yet replayed

    @property
    def cursor_path(self) -> Path:
        return self.path.with_suffix(".cursor")


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int = 64 << 20, max_bytes: int = 2 << 30) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = (directory / "LOCK").open("a+b")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolError(
                f"the spool {directory} is in use by another ingestion worker; give each worker its own client id "
                "(--client-id) or its own spool directory (SMARTFACTORY_INGEST__SPOOL_DIR)"
            ) from None
        self._segments: list[_Segment] = []
        self._append: BinaryIO | None = None
        self._read: tuple[int, BinaryIO] | None = None
        for path in sorted(directory.glob("*.spool")):
            segment = self._scan(path)
            if segment is not None:
                self._segments.append(segment)
        if self._segments:
            last = self._segments[-1]
            with last.path.open("r+b") as handle:  # cut a torn tail so new frames follow valid ones
                handle.truncate(last.size)

    # ------------------------------------------------------------------ state

    @property
    def pending(self) -> int:
        """Records appended and not yet replayed."""
        return sum(s.records for s in self._segments)

    @property
    def pending_bytes(self) -> int:
        return sum(s.size - s.cursor for s in self._segments)

    def __bool__(self) -> bool:
        return any(s.records for s in self._segments)

    # ------------------------------------------------------------------ append

    def append(self, body: bytes) -> None:
        """Append one record and fsync it; raise `SpoolFull` or `SpoolError` (nothing appended) on failure."""
        frame = _FRAME.pack(len(body), zlib.crc32(body)) + body
        if self.pending_bytes + len(frame) > self.max_bytes:
            raise SpoolFull(f"the spool {self.directory} would exceed its limit of {self.max_bytes} bytes")
        segment = self._segments[-1] if self._segments else None
        if segment is None or (segment.size + len(frame) > self.segment_bytes and segment.size > len(MAGIC)):
            segment = self._new_segment()
        handle = self._append_handle(segment)
        try:
            handle.write(frame)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self._undo(handle, segment.size)
            raise SpoolError(f"cannot write the spool {segment.path}: {exc}") from exc
        segment.size += len(frame)
        segment.records += 1

    def _new_segment(self) -> _Segment:
        number = self._segments[-1].number + 1 if self._segments else 1
        path = self.directory / f"{number:010d}.spool"
        try:
            with path.open("xb") as handle:
                handle.write(MAGIC)
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_dir(self.directory)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise SpoolError(f"cannot create a spool segment in {self.directory}: {exc}") from exc
        segment = _Segment(number, path, len(MAGIC), len(MAGIC), 0)
        self._segments.append(segment)
        return segment

    def _append_handle(self, segment: _Segment) -> BinaryIO:
        if self._append is None or self._append.name != str(segment.path):
            if self._append is not None:
                self._append.close()
            self._append = segment.path.open("ab")
        return self._append

    def _undo(self, handle: BinaryIO, size: int) -> None:
        try:
            handle.truncate(size)
        except OSError:  # the torn frame stays; replay stops at it and opening the spool cuts it off
            log.exception("could not cut a failed write off the spool")

    # ------------------------------------------------------------------ replay

    def replay(self, handle: Callable[[bytes], None], budget_s: float) -> int:
        """Give records to `handle`, oldest first, for up to `budget_s` seconds; return how many it took.

        A record counts as replayed once `handle` returns; if it raises, the record stays first in line and the
        exception propagates.
        """
        deadline = time.monotonic() + budget_s
        done = 0
        while self._segments and time.monotonic() < deadline:
            segment = self._segments[0]
            if segment.cursor >= segment.size:
                if len(self._segments) == 1 and segment.size < self.segment_bytes:
                    break  # the segment being appended to: keep it
                self._drop(segment)
                continue
            body = self._read_frame(segment)
            if body is None:  # a frame that was never completed: nothing valid follows it in this segment
                segment.size = segment.cursor
                segment.records = 0
                continue
            handle(body)
            segment.cursor += _FRAME.size + len(body)
            segment.records -= 1
            done += 1
            _write_cursor(segment)
        if self._segments and not self and len(self._segments) == 1:
            self._reset_tail()
        return done

    def _read_frame(self, segment: _Segment) -> bytes | None:
        if self._read is None or self._read[0] != segment.number:
            if self._read is not None:
                self._read[1].close()
            self._read = (segment.number, segment.path.open("rb"))
        reader = self._read[1]
        reader.seek(segment.cursor)
        return _frame_body(reader, segment.size - segment.cursor)

    def _drop(self, segment: _Segment) -> None:
        if self._read is not None and self._read[0] == segment.number:
            self._read[1].close()
            self._read = None
        if self._append is not None and self._append.name == str(segment.path):
            self._append.close()
            self._append = None
        segment.path.unlink(missing_ok=True)
        segment.cursor_path.unlink(missing_ok=True)
        self._segments.pop(0)

    def _reset_tail(self) -> None:
        """Everything replayed: start the only segment afresh so the spool does not grow without end."""
        segment = self._segments[0]
        if segment.cursor < segment.size or segment.size == len(MAGIC):
            return
        self._drop(segment)

    # ------------------------------------------------------------------ open / close

    def _scan(self, path: Path) -> _Segment | None:
        try:
            number = int(path.stem)
        except ValueError:
            log.warning("ignoring %s: not a spool segment name", path)
            return None
        with path.open("rb") as reader:
            if reader.read(len(MAGIC)) != MAGIC:
                log.error("%s is not a spool segment (bad magic); moved aside as .bad", path)
                path.rename(path.with_suffix(".bad"))
                return None
            cursor = _read_cursor(path.with_suffix(".cursor"))
            offset, records = len(MAGIC), 0
            total = path.stat().st_size
            while True:
                body = _frame_body(reader, total - offset)
                if body is None:
                    break
                if offset >= cursor:
                    records += 1
                offset += _FRAME.size + len(body)
            if offset < total:
                log.warning("%s: cut %d bytes of an unfinished write (never acknowledged)", path, total - offset)
        return _Segment(number, path, offset, max(cursor, len(MAGIC)), records)

    def close(self) -> None:
        for handle in (self._append, self._read[1] if self._read else None):
            if handle is not None:
                handle.close()
        self._append = self._read = None
        self._lock.close()


def _frame_body(reader: BinaryIO, available: int) -> bytes | None:
    header = reader.read(_FRAME.size)
    if len(header) < _FRAME.size:
        return None
    length, crc = _FRAME.unpack(header)
    if length > available - _FRAME.size:
        return None
    body = reader.read(length)
    if len(body) < length or zlib.crc32(body) != crc:
        return None
    return body


def _read_cursor(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return len(MAGIC)


def _write_cursor(segment: _Segment) -> None:
    tmp = segment.cursor_path.with_suffix(".cursor.tmp")
    tmp.write_text(str(segment.cursor))
    os.replace(tmp, segment.cursor_path)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
