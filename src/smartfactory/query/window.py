"""Read windows in the store's own time: what `--since 8h` means when the plant runs on simulated time.

A scenario at `--speed 5`, or a backfill, stores simulated timestamps that run ahead of (or behind) the wall
clock. A reader that measures "the last 8 hours" against the wall clock then looks at the wrong hours. So every
read window is measured against the data: "now" is the newest timestamp in the store
(`query.detection.data_span`), a relative bound (`8h`, `15m`, `1h30m`) counts back from it, and an absent bound
is the edge of the stored data. Only an empty store falls back to the wall clock.

    window = resolve_window(store, since="8h", until=None)
    window.start_ms, window.end_ms     # [start, end): concrete bounds (None only for an empty store)
    window.describe()                  # "2026-11-22T06:00:00.000Z … 2026-11-22T14:00:00.001Z (8.0 h, …)"

Used by `smartfactory oee`, `export` and `report detection` alike.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from smartfactory.durations import parse_duration
from smartfactory.errors import ConfigError
from smartfactory.query.detection import Span, data_span
from smartfactory.storage import Storage
from smartfactory.wire import format_ts, ms_from_datetime

#: How to write a time on the command line (help texts and error messages).
TIME_FORMS = "ISO-8601 (2026-11-22T10:00Z, 2026-11-22) or a time before the newest stored data (15m, 2h, 1h30m, 7d)"


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


def parse_time(text: str | None, now_ms: int | None = None) -> int | None:
    """Epoch ms of `2026-11-22T10:00Z`, `2026-11-22` (UTC when no zone is given), or of a duration with a unit
    (`15m`, `2h`, `1h30m`, `7d`: the one duration syntax of `smartfactory.durations`) before `now_ms`
    (default: the wall clock). None stays None. `ConfigError` names the accepted forms."""
    if text is None:
        return None
    with contextlib.suppress(ConfigError):
        ago_s = parse_duration(text, unit_required=True)
        return (wall_clock_ms() if now_ms is None else now_ms) - round(ago_s * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"cannot read time {text!r}: use {TIME_FORMS}") from None
    return ms_from_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class Window:
    """A read window `[start_ms, end_ms)` and what it was measured against.

    `now_ms` is the newest stored timestamp, or the wall clock when the store is empty (`span` None); `span` is
    the stored data, oldest to just past the newest timestamp (`query.detection.data_span`). `since_ms` and
    `until_ms` are the bounds as given (None: not given); `start_ms`/`end_ms` fill what was not given with the
    edges of the stored data, so the window holds every stored item.
    """

    since_ms: int | None
    until_ms: int | None
    now_ms: int
    span: Span | None

    @property
    def start_ms(self) -> int | None:
        if self.since_ms is not None:
            return self.since_ms
        return None if self.span is None else self.span.since_ms

    @property
    def end_ms(self) -> int | None:
        """Exclusive end; by default one millisecond after the newest stored item, so that it is inside."""
        if self.until_ms is not None:
            return self.until_ms
        return None if self.span is None else self.span.until_ms

    @property
    def empty_store(self) -> bool:
        return self.span is None

    def describe(self) -> str:
        """One line for the output: the span used, its length, and what "now" was."""
        if self.span is None:
            if self.since_ms is None and self.until_ms is None:
                return "the store holds no data yet"
            given_start = "…" if self.since_ms is None else format_ts(self.since_ms)
            given_end = "…" if self.until_ms is None else format_ts(self.until_ms)
            return f"{given_start} … {given_end} (an empty store: relative times count from the wall clock)"
        first, end = self.start_ms, self.end_ms
        assert first is not None  # a span gives both
        assert end is not None
        hours = max(end - first, 0) / 3_600_000
        return (
            f"{format_ts(first)} … {format_ts(end)} ({hours:.2f} h; now = newest stored data, "
            f"{format_ts(self.now_ms)}; stored data spans {format_ts(self.span.since_ms)} … "
            f"{format_ts(self.span.until_ms)})"
        )

    def to_dict(self) -> dict[str, object]:
        """The window for JSON output: concrete bounds (ms and ISO) and what "now" meant."""
        return {
            "since_ms": self.start_ms,
            "until_ms": self.end_ms,
            "since": None if self.start_ms is None else format_ts(self.start_ms),
            "until": None if self.end_ms is None else format_ts(self.end_ms),
            "now": format_ts(self.now_ms),
            "now_is": "wall clock (empty store)" if self.span is None else "newest stored timestamp",
        }


def resolve_window(store: Storage, since: str | None, until: str | None) -> Window:
    """The window `--since`/`--until` name, measured against the newest stored timestamp (see the module)."""
    span = data_span(store)
    now_ms = wall_clock_ms() if span is None else span.until_ms - 1
    since_ms = parse_time(since, now_ms)
    until_ms = parse_time(until, now_ms)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise ConfigError(
            f"the window is empty: --until ({format_ts(until_ms)}) is not after --since ({format_ts(since_ms)})"
        )
    return Window(since_ms, until_ms, now_ms, span)
