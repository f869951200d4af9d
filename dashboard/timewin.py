"""The time window every page shows: a preset length ending at the newest stored reading (pure, no Streamlit).

The window ends at the newest reading rather than at the wall clock, so a store filled by a backfill, a replay
or a run that has stopped still shows its data; while the simulator runs, the two are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

#: Label → length in ms (None = everything stored).
PRESETS: dict[str, int | None] = {
    "15 min": 15 * MINUTE_MS,
    "1 h": HOUR_MS,
    "8 h": 8 * HOUR_MS,
    "24 h": DAY_MS,
    "7 days": 7 * DAY_MS,
    "All data": None,
}
DEFAULT_PRESET = "1 h"


@dataclass(frozen=True, slots=True)
class Window:
    """`[since_ms, until_ms)` in epoch milliseconds, with the label the user chose."""

    since_ms: int
    until_ms: int
    label: str

    @property
    def length_ms(self) -> int:
        return self.until_ms - self.since_ms

    def describe(self) -> str:
        return f"{self.label}: {fmt_ms(self.since_ms)} → {fmt_ms(self.until_ms)} UTC"


def fmt_ms(ts_ms: int) -> str:
    """`2026-11-22 10:00:05` (UTC, seconds)."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def resolve(preset: str, newest_ms: int | None, oldest_ms: int | None, now_ms: int) -> Window:
    """The window for `preset` ending just after the newest reading (or now, when the store is empty)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown window {preset!r}: choose one of {', '.join(PRESETS)}")
    until = (newest_ms + 1) if newest_ms is not None else now_ms
    length = PRESETS[preset]
    if length is None:
        since = oldest_ms if oldest_ms is not None and oldest_ms < until else until - HOUR_MS
    else:
        since = until - length
    return Window(int(since), int(until), preset)


def custom(since_ms: int, until_ms: int) -> Window:
    if until_ms <= since_ms:
        raise ValueError("the window must end after it starts")
    return Window(int(since_ms), int(until_ms), "custom")
