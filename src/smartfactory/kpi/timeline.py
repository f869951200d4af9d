"""One machine's time, classified instant by instant, and the sums (a `Tally`) over any window.

Each instant gets exactly one `Category`:

- the machine is running → RUN, also outside the shift calendar (running through a break makes that time
  planned production time, so parts made then are matched by run time);
- no state is known → UNRECORDED inside planned calendar time, PLANNED_DOWNTIME outside it;
- outside planned calendar time (off shift, breaks) and not running → PLANNED_DOWNTIME;
- otherwise the category of the state episode (`codes.classify`), e.g. a 3-minute jam → SMALL_STOPS.

The classification is built once over the whole span of the data and does not depend on the query window, so
sums over `[a, m)` and `[m, b)` add up to the sums over `[a, b)`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import accumulate, pairwise

from smartfactory.kpi.codes import PRODUCTION_CATEGORIES, Category, State, classify
from smartfactory.kpi.intervals import Episode, Span
from smartfactory.kpi.model import OeeSettings, PartEvent

# Starting to run after one of these opens a start-up window; after a small stop or more running, it does not.
_STARTUP_AFTER = frozenset(
    {Category.BREAKDOWNS, Category.SETUP_ADJUSTMENTS, Category.PLANNED_DOWNTIME, Category.UNRECORDED}
)


@dataclass(frozen=True, slots=True)
class Tally:
    """Additive sums for one machine (or several) over one window, in ms; `*_work_ms` are ideal times."""

    machines: int = 0
    planned_production_ms: int = 0
    planned_downtime_ms: int = 0
    unrecorded_ms: int = 0
    run_ms: int = 0
    breakdowns_ms: int = 0
    setup_adjustments_ms: int = 0
    small_stops_ms: int = 0
    total_count: int = 0
    good_count: int = 0
    startup_scrap_count: int = 0
    net_work_ms: float = 0.0  # ideal cycle time × total count
    good_work_ms: float = 0.0  # ideal cycle time × good count (fully productive time)
    startup_reject_work_ms: float = 0.0  # ideal cycle time × start-up scrap
    production_reject_work_ms: float = 0.0  # ideal cycle time × other scrap
    failures: int = 0
    repair_ms: int = 0  # whole length of the failures counted

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Tally)))


class MachineTimeline:
    """The classified timeline of one machine over `span`, ready to be summed over windows inside it."""

    def __init__(
        self,
        episodes: Sequence[Episode],
        parts: Sequence[PartEvent],
        ideal_cycle_s: float,
        span: Span,
        calendar_planned: Sequence[Span] | None,
        settings: OeeSettings,
    ) -> None:
        self.span = span
        self.ideal_ms = ideal_cycle_s * 1000.0
        self.startup_window_ms = settings.startup_window_ms
        categorised = [(ep, classify(ep.state, ep.reason, ep.duration_ms, settings.small_stop_ms)) for ep in episodes]
        self.segments = _segments(categorised, span, calendar_planned)
        self.seg_starts = [s for s, _, _ in self.segments]
        self.openings = [
            start
            for i, (start, _, cat) in enumerate(self.segments)
            if cat is Category.RUN and (i == 0 or self.segments[i - 1][2] in _STARTUP_AFTER)
        ]
        failures = sorted((ep.start_ms, ep.duration_ms) for ep, cat in categorised if cat is Category.BREAKDOWNS)
        self.failure_starts = [s for s, _ in failures]
        self.failure_lengths = [d for _, d in failures]
        ordered = sorted(parts, key=lambda p: p.ts_ms)
        self.part_ts = [p.ts_ms for p in ordered]
        # prefix sums, so that any window's counts take two bisections
        self.cum_good = list(accumulate((p.good for p in ordered), initial=0))
        self.cum_startup = list(accumulate((not p.good and self._in_startup(p.ts_ms) for p in ordered), initial=0))

    def tally(self, since_ms: int, until_ms: int) -> Tally:
        """Sums over `[since_ms, until_ms)`, which must lie inside the span."""
        lo, hi = self.span
        if since_ms < lo or until_ms > hi:
            raise ValueError(f"window [{since_ms}, {until_ms}) is outside the timeline span [{lo}, {hi})")
        by_cat = dict.fromkeys(Category, 0)
        i = max(bisect_right(self.seg_starts, since_ms) - 1, 0)
        while i < len(self.segments) and self.segments[i][0] < until_ms:
            start, end, cat = self.segments[i]
            by_cat[cat] += max(0, min(end, until_ms) - max(start, since_ms))
            i += 1
        p_lo, p_hi = bisect_left(self.part_ts, since_ms), bisect_left(self.part_ts, until_ms)
        total = p_hi - p_lo
        good = self.cum_good[p_hi] - self.cum_good[p_lo]
        startup_scrap = self.cum_startup[p_hi] - self.cum_startup[p_lo]
        production_scrap = total - good - startup_scrap
        f_lo, f_hi = bisect_left(self.failure_starts, since_ms), bisect_left(self.failure_starts, until_ms)
        return Tally(
            machines=1,
            planned_production_ms=sum(by_cat[c] for c in PRODUCTION_CATEGORIES),
            planned_downtime_ms=by_cat[Category.PLANNED_DOWNTIME],
            unrecorded_ms=by_cat[Category.UNRECORDED],
            run_ms=by_cat[Category.RUN],
            breakdowns_ms=by_cat[Category.BREAKDOWNS],
            setup_adjustments_ms=by_cat[Category.SETUP_ADJUSTMENTS],
            small_stops_ms=by_cat[Category.SMALL_STOPS],
            total_count=total,
            good_count=good,
            startup_scrap_count=startup_scrap,
            net_work_ms=self.ideal_ms * total,
            good_work_ms=self.ideal_ms * good,
            startup_reject_work_ms=self.ideal_ms * startup_scrap,
            production_reject_work_ms=self.ideal_ms * production_scrap,
            failures=f_hi - f_lo,
            repair_ms=sum(self.failure_lengths[f_lo:f_hi]),
        )

    def _in_startup(self, ts_ms: int) -> bool:
        k = bisect_right(self.openings, ts_ms) - 1
        return k >= 0 and ts_ms < self.openings[k] + self.startup_window_ms


def _segments(
    categorised: Sequence[tuple[Episode, Category]], span: Span, calendar_planned: Sequence[Span] | None
) -> list[tuple[int, int, Category]]:
    """Partition `span` into maximal pieces of one category (see the module docstring for the rules)."""
    lo, hi = span
    cal = [(lo, hi)] if calendar_planned is None else list(calendar_planned)
    bounds = {lo, hi}
    bounds.update(t for ep, _ in categorised for t in (ep.start_ms, ep.end_ms) if lo < t < hi)
    bounds.update(t for s in cal for t in s if lo < t < hi)
    cuts = sorted(bounds)
    out: list[tuple[int, int, Category]] = []
    e = c = 0
    for a, b in pairwise(cuts):
        while e < len(categorised) and categorised[e][0].end_ms <= a:
            e += 1
        while c < len(cal) and cal[c][1] <= a:
            c += 1
        has_ep = e < len(categorised) and categorised[e][0].start_ms <= a
        in_cal = c < len(cal) and cal[c][0] <= a
        if has_ep and categorised[e][0].state is State.RUNNING:
            cat = Category.RUN
        elif not in_cal:
            cat = Category.PLANNED_DOWNTIME
        elif has_ep:
            cat = categorised[e][1]
        else:
            cat = Category.UNRECORDED
        if out and out[-1][2] is cat:
            out[-1] = (out[-1][0], b, cat)
        else:
            out.append((a, b, cat))
    return out
