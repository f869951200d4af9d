"""When the plant plans to produce: the shift calendar seen from a machine (pure).

`Schedule` answers "is `t` planned production time?" and "when does that change next?" from a
`kpi.ShiftCalendar`, the same calendar the OEE engine uses, so simulator and OEE agree on what a break is.
Without a calendar every instant is planned.
"""

from __future__ import annotations

from bisect import bisect_right

from smartfactory.kpi.calendar import ShiftCalendar, planned_intervals, shift_occurrences

DAY_MS = 86_400_000
#: Outside every shift the plant has nothing to make: state "planned" with this reason.
OFF_SHIFT_REASON = "no_orders"
#: A gap inside a shift is a break: state "planned" with this reason.
BREAK_REASON = "break"


class Schedule:
    """Planned production time of one calendar, computed a week at a time."""

    def __init__(self, calendar: ShiftCalendar | None) -> None:
        self.calendar = calendar
        self._lo = self._hi = 0
        self._edges: list[int] = []  # alternating starts and ends of planned spans
        self._shifts: list[tuple[int, int]] = []

    def _cover(self, t: int) -> None:
        if self.calendar is None or self._lo <= t < self._hi - DAY_MS:
            return
        lo, hi = t - DAY_MS, t + 8 * DAY_MS
        spans = planned_intervals(self.calendar, lo, hi)
        self._edges = [edge for span in spans for edge in span]
        self._shifts = [(o.start_ms, o.end_ms) for o in shift_occurrences(self.calendar, lo, hi)]
        self._lo, self._hi = lo, hi

    def planned(self, t: int) -> bool:
        """True when `t` lies in planned production time (a shift, not a break)."""
        if self.calendar is None:
            return True
        self._cover(t)
        return bisect_right(self._edges, t) % 2 == 1

    def next_change(self, t: int) -> int | None:
        """The next instant after `t` where `planned` may change (None without a calendar)."""
        if self.calendar is None:
            return None
        self._cover(t)
        i = bisect_right(self._edges, t)
        horizon = self._hi - DAY_MS  # beyond this the window is recomputed; waking up there is harmless
        return min(self._edges[i], horizon) if i < len(self._edges) else horizon

    def off_reason(self, t: int) -> str:
        """Why `t` is not planned: a break inside a shift, or no shift at all."""
        self._cover(t)
        inside_shift = any(start <= t < end for start, end in self._shifts)
        return BREAK_REASON if inside_shift else OFF_SHIFT_REASON
