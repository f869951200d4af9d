"""The storage protocol every backend implements: ingestion writes through it; SPC, the dashboard, export and
the KPIs read through it. Besides the records of `smartfactory.model` it keeps the machines' facts from their
birth messages (`wire.MachineInfo`), so that readers need nothing but the store.
Times are epoch milliseconds; `since` is inclusive, `until` exclusive.

DataFrames returned (built by `storage/frames.py`, so every backend returns the same dtypes):
- `read_series`: columns `ts` (UTC datetimes) and `value` (float64), ordered by time.
- `read_aggregates`: `ts` (bucket start), `mean`, `min`, `max`, `count`.
- `latest`: `series`, `ts`, `value`, `unit`, one row per series.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # only the frame readers return DataFrames; a writer never loads pandas (storage/frames.py)
    import pandas as pd

from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    LimitsVersion,
    PartOutcome,
    PartResult,
    Reading,
    SeriesInfo,
    StateChange,
)
from smartfactory.wire import MachineInfo


@runtime_checkable
class Storage(Protocol):
    url: str

    # ---- writes (ingestion); each is idempotent: writing the same record twice stores it once
    def write_readings(self, readings: Sequence[Reading]) -> int:
        """Store readings; return how many were new (the rest were already stored).

        A backend that cannot tell a new point from a replaced one (InfluxDB overwrites duplicates) returns
        `len(readings)`; its class attribute `reports_duplicates` is False. Either way a replay adds nothing.
        A reading whose key is stored with another value replaces it: every backend keeps the last value written.
        A backend that can tell counts those replacements in its attribute `conflicts` (`reports_conflicts`).
        Raises `StoreUnavailable` when the store is down for now (retry later), `StoreError` otherwise.
        """
        ...

    def write_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        """Store dead letters. Backends with a natural key (SQLite) keep one row per rejected message, however
        often it was delivered."""
        ...

    def write_states(self, changes: Sequence[StateChange]) -> None: ...
    def write_parts(self, parts: Sequence[PartResult]) -> None: ...
    def write_events(self, events: Sequence[FaultEvent]) -> None: ...
    def write_alarms(self, alarms: Sequence[Alarm]) -> None:
        """Insert or update alarms by `alarm_id` (raise, clear and acknowledge are all updates)."""
        ...

    def ack_alarms(self, acks: Sequence[AlarmAck]) -> None:
        """Mark alarms acknowledged; acknowledgements of unknown alarms are ignored."""
        ...

    def write_limits(self, versions: Sequence[LimitsVersion]) -> None:
        """Store new versions of the live monitor's control limits (a version already stored is kept)."""
        ...

    def read_limits(self, series: str | None = None, *, latest_only: bool = True) -> list[LimitsVersion]:
        """Stored limits, ordered by series and version; by default only the newest version per series."""
        ...

    def write_machine_info(self, machine: str, ts_ms: int, info: MachineInfo) -> None:
        """Store a machine's facts from its birth message (at `ts_ms`); the newest per machine wins.

        Writing the same info again (a redelivered birth) changes nothing; an older one does not replace a newer.
        """
        ...

    def read_machine_info(self) -> dict[str, MachineInfo]:
        """The newest stored facts of every machine that announced them: machine path → `MachineInfo`."""
        ...

    # ---- reads
    def list_series(self) -> list[SeriesInfo]: ...
    def read_series(
        self, series: str, since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Readings of one series in [since, until); with `limit`, the most recent `limit` of them."""
        ...

    def read_aggregates(self, series: str, since_ms: int, until_ms: int, buckets: int) -> pd.DataFrame: ...
    def latest(self) -> pd.DataFrame: ...
    def iter_readings(
        self,
        since_ms: int | None = None,
        until_ms: int | None = None,
        machine: str | None = None,
        sensor: str | None = None,
        chunk: int = 50_000,
    ) -> Iterator[list[Reading]]:
        """Stream readings in (series, time) order, `chunk` at a time, without loading them all."""
        ...

    def count_readings(self) -> int: ...
    def read_deadletters(self, since_ms: int | None = None, limit: int | None = None) -> list[DeadLetter]: ...
    def read_states(self, machine: str | None = None, since_ms: int | None = None) -> list[StateChange]: ...
    def read_parts(self, machine: str | None = None, since_ms: int | None = None) -> list[PartResult]: ...
    def read_part_outcomes(self, since_ms: int | None = None, until_ms: int | None = None) -> list[PartOutcome]:
        """Machine, time and verdict of the parts in `[since_ms, until_ms)`, in time order: what OEE reads, without
        the measurements (a fraction of `read_parts`' cost where the backend can leave them out)."""
        ...

    def read_part_machines(self, since_ms: int | None = None, until_ms: int | None = None) -> list[str]:
        """The machines with at least one part in `[since_ms, until_ms)`, sorted: whether a window has parts, and
        whose, without reading them (the SPC page asks before it knows it needs them)."""
        ...

    def read_events(self, since_ms: int | None = None) -> list[FaultEvent]: ...
    def read_alarms(self, active_only: bool = False, since_ms: int | None = None) -> list[Alarm]: ...

    # ---- retention
    def delete_before(self, cutoff_ms: int) -> int | None:
        """Delete readings, dead letters, parts, events (and, where the backend can, cleared alarms and
        superseded states) older than `cutoff_ms`; return how many rows went, or None when unknown."""
        ...

    def close(self) -> None: ...


def deadletter_key(letter: DeadLetter) -> bytes:
    """The natural key of a dead letter: the same bytes on the same topic rejected for the same reason (and
    explanation) are one dead letter, however often they arrive (retained messages at every resubscribe,
    redeliveries). The receive time is not part of it; the decoder's explanations do not name it either."""
    digest = hashlib.blake2b(digest_size=16)
    parts = (letter.reason, letter.topic, letter.detail, str(letter.payload_size))
    for part in (*(text.encode() for text in parts), letter.payload):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()
