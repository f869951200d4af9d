"""Reading a recording: check every frame, skip what is damaged, say where and how much.

    recording = open_recording(Path("session.sfrec"))
    recording.header["version"], recording.intact, recording.skipped
    for problem in recording.problems:        # "byte 81234: frame damaged (CRC mismatch); ..."
        print(problem)
    for message in recording.messages():      # RecordedMessage, in recorded order
        ...

`open_recording` scans the whole file once (CRC of every frame, no decompression) before anything is replayed,
so the problems are known up front. A file that is not a recording at all, or one written by a newer format
version, raises `RecordingError`; a damaged or truncated one opens, and `problems` names each damaged place by
its byte offset. Messages are counted by the blocks' sequence numbers: a block lost in the middle shows as a gap,
messages lost at the end show against the end frame's total (a file cut off has no end frame: then the count of a
cut-off last block comes from its own head, which is unchecked, and `skipped_exact` is False).
"""

from __future__ import annotations

import json
import mmap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartfactory.recording.format import (
    BLOCK_HEAD,
    FORMAT_NAME,
    FORMAT_VERSION,
    FRAME_HEAD,
    KIND_BLOCK,
    KIND_END,
    KIND_HEADER,
    KINDS,
    MAGIC,
    MAX_BODY,
    RecordedMessage,
    RecordingError,
    block_range,
    decode_block,
    frame_crc,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """A damaged place in a recording: its byte offset and what is wrong there."""

    offset: int
    message: str

    def __str__(self) -> str:
        return f"byte {self.offset}: {self.message}"


@dataclass(frozen=True, slots=True)
class BlockRef:
    """Where an intact message block sits: the frame's offset, its body's length, its messages' range."""

    offset: int
    length: int
    first_seq: int
    count: int


@dataclass
class Recording:
    """A scanned recording: its header, its end frame (None when missing), its intact blocks and its problems."""

    path: Path
    size: int
    header: dict[str, Any]
    end: dict[str, Any] | None
    blocks: list[BlockRef]
    problems: list[Problem] = field(default_factory=list)
    #: messages missing between intact blocks (sequence gaps) and after the last one
    skipped: int = 0
    #: False when the file ends without an end frame and the count of what was lost at the end is a guess
    skipped_exact: bool = True

    @property
    def intact(self) -> int:
        """Messages in intact blocks: what `messages()` yields."""
        return sum(b.count for b in self.blocks)

    @property
    def complete(self) -> bool:
        """True for an undamaged file with its end frame."""
        return not self.problems and self.end is not None

    @property
    def duration_ms(self) -> int:
        """The recorded span: from the end frame, else the time of the last intact message."""
        if self.end is not None and isinstance(self.end.get("duration_ms"), int):
            return int(self.end["duration_ms"])
        last = max(self.blocks, key=lambda b: b.first_seq, default=None)
        if last is None:
            return 0
        messages = self._read_block(last)
        return messages[-1].t_ms if messages else 0

    def summary(self) -> str:
        """One line: messages, span and damage."""
        text = f"{self.path}: {self.intact} messages over {self.duration_ms / 1000:.1f} s"
        if self.problems:
            about = "" if self.skipped_exact else "at least "
            text += f"; DAMAGED in {len(self.problems)} place(s), {about}{self.skipped} messages skipped"
        elif self.end is None:
            text += "; no end frame (the recorder did not stop cleanly)"
        return text

    def messages(self) -> Iterator[RecordedMessage]:
        """The messages of the intact blocks, in recorded order."""
        with self.path.open("rb") as file:
            for block in self.blocks:
                yield from self._read_block(block, file)

    def _read_block(self, block: BlockRef, file: Any = None) -> list[RecordedMessage]:
        if file is None:
            with self.path.open("rb") as own:
                return self._read_block(block, own)
        file.seek(block.offset)
        data = file.read(FRAME_HEAD.size + block.length)
        if len(data) != FRAME_HEAD.size + block.length:
            raise RecordingError(f"{self.path} changed while it was read (block at byte {block.offset})")
        _, kind, length, crc = FRAME_HEAD.unpack_from(data)
        body = memoryview(data)[FRAME_HEAD.size :]
        if length != block.length or frame_crc(kind, length, body) != crc:
            raise RecordingError(f"{self.path} changed while it was read (block at byte {block.offset})")
        try:
            return decode_block(body)
        except (ValueError, zlib.error) as exc:  # the CRC held, so this is a writer's bug, not damage
            raise RecordingError(f"{self.path}: the block at byte {block.offset} does not decode: {exc}") from None


def _frame_at(buf: mmap.mmap | bytes, pos: int) -> tuple[bytes, int] | str:
    """(kind, body length) of an intact frame at `pos`, or why there is none."""
    size = len(buf)
    if size - pos < FRAME_HEAD.size:
        return f"the file ends {size - pos} bytes into a frame head (truncated)"
    magic, kind, length, crc = FRAME_HEAD.unpack_from(buf, pos)
    if magic != MAGIC:
        return "no frame starts here (damaged)"
    if kind not in KINDS:
        return f"unknown frame kind {kind!r} (damaged)"
    if length > MAX_BODY:
        return f"implausible frame length {length} (damaged)"
    start = pos + FRAME_HEAD.size
    if start + length > size:
        return f"the frame needs {length} bytes but the file ends after {size - start} (truncated)"
    if frame_crc(kind, length, memoryview(buf)[start : start + length]) != crc:
        return "frame damaged (CRC mismatch)"
    return kind, length


def _next_frame(buf: mmap.mmap | bytes, start: int) -> int | None:
    """Offset of the next intact frame at or after `start`."""
    at = buf.find(MAGIC, start)
    while at != -1:
        if not isinstance(_frame_at(buf, at), str):
            return at
        at = buf.find(MAGIC, at + 1)
    return None


def _json(buf: mmap.mmap | bytes, start: int, length: int) -> dict[str, Any] | None:
    try:
        document = json.loads(bytes(buf[start : start + length]))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _check_header(path: Path, header: dict[str, Any] | None) -> None:
    if header is None or header.get("format") != FORMAT_NAME:
        raise RecordingError(f"{path} is not a smartfactory recording (its header does not say {FORMAT_NAME!r})")
    version = header.get("version")
    if not isinstance(version, int) or version < 1:
        raise RecordingError(f"{path}: the header has no valid format version ({version!r})")
    if version > FORMAT_VERSION:
        raise RecordingError(
            f"{path} is a recording of format version {version}; this smartfactory reads up to version "
            f"{FORMAT_VERSION}: upgrade smartfactory"
        )


def _unchecked_tail_count(buf: mmap.mmap | bytes, pos: int) -> int | None:
    """The message count a cut-off block at `pos` announces in its head (not covered by a checked CRC)."""
    start = pos + FRAME_HEAD.size
    if len(buf) < start + BLOCK_HEAD.size or bytes(buf[pos : pos + 5]) != MAGIC + KIND_BLOCK:
        return None
    return block_range(memoryview(buf)[start : start + BLOCK_HEAD.size])[1]


def scan(path: Path, buf: mmap.mmap | bytes) -> Recording:
    """Check every frame of `buf` (the bytes of `path`); see the module docstring."""
    size = len(buf)
    if size == 0:
        raise RecordingError(f"{path} is empty: not a recording (the recorder never got to write its header)")
    if bytes(buf[:4]) != MAGIC:
        raise RecordingError(
            f"{path} is not a smartfactory recording: it starts with {bytes(buf[:8])!r}, not {MAGIC!r}"
        )
    problems: list[Problem] = []
    blocks: list[BlockRef] = []
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    expected = 0
    skipped = 0
    exact = True
    pos = 0
    while pos < size:
        found = _frame_at(buf, pos)
        if isinstance(found, str):
            resume = _next_frame(buf, pos + 1)
            if resume is None:
                tail = _unchecked_tail_count(buf, pos)
                lost = "" if tail is None else f"; it announces {tail} messages, lost"
                problems.append(Problem(pos, f"{found}; the last {size - pos} bytes are unreadable{lost}"))
                if end is None:
                    exact = False
                    skipped += tail or 0
                break
            problems.append(Problem(pos, f"{found}; skipped {resume - pos} bytes to the next intact frame"))
            pos = resume
            continue
        kind, length = found
        body = pos + FRAME_HEAD.size
        if kind == KIND_HEADER:
            if pos == 0:
                header = _json(buf, body, length)
                _check_header(path, header)
            else:
                problems.append(Problem(pos, "a second header (two recordings joined?): ignored"))
        elif kind == KIND_BLOCK:
            first, count = block_range(memoryview(buf)[body : body + BLOCK_HEAD.size])
            if first < expected:
                problems.append(Problem(pos, f"block of messages {first}…{first + count - 1} repeats earlier ones"))
            else:
                if first > expected:
                    skipped += first - expected
                blocks.append(BlockRef(pos, length, first, count))
                expected = first + count
        elif kind == KIND_END:
            end = _json(buf, body, length)
            if end is None:
                problems.append(Problem(pos, "the end frame is not JSON"))
            elif isinstance(end.get("messages"), int) and end["messages"] > expected:
                skipped += end["messages"] - expected
        pos = body + length
    if header is None:
        problems.insert(0, Problem(0, "the header is damaged: read as format version 1"))
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    if end is None and not problems:
        exact = False  # no end frame: the recorder was killed; what it had not flushed is unknown
    return Recording(path, size, header, end, blocks, problems, skipped, exact)


def open_recording(path: Path) -> Recording:
    """Scan the recording at `path` (see the module docstring). `RecordingError` if it is none at all."""
    try:
        with path.open("rb") as file:
            if path.stat().st_size == 0:
                return scan(path, b"")
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return scan(path, buf)
    except FileNotFoundError:
        raise RecordingError(f"no recording at {path}") from None
    except IsADirectoryError:
        raise RecordingError(f"{path} is a folder, not a recording") from None
