"""OEE per machine, line and plant, for a window and for each shift in it (Nakajima's TPM definitions).

Aggregation: a line (or the plant) sums the times and counts of its machines (time-weighted), it does not
average their OEEs. Availability = Σ run / Σ planned production time, Performance = Σ (ideal × total) / Σ run,
Quality = Σ (ideal × good) / Σ (ideal × total). A machine that is down a whole shift therefore pulls the line
down by its share of planned time, and a line's OEE equals its fully productive time / planned time.
Counts are summed too: a part that passes three machines of a line counts three times in the line's counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import reduce
from operator import add

from smartfactory.kpi.calendar import ShiftCalendar, planned_intervals, shift_occurrences
from smartfactory.kpi.intervals import resolve
from smartfactory.kpi.model import OeeSettings, PartEvent, StateInterval, check_ideal_cycle
from smartfactory.kpi.result import Level, OeeReport, OeeResult, result_from_tally
from smartfactory.kpi.timeline import MachineTimeline, Tally


def build_timelines(
    intervals: Iterable[StateInterval],
    parts: Iterable[PartEvent],
    ideal_cycle_s: Mapping[str, float],
    since_ms: int,
    until_ms: int,
    *,
    calendar: ShiftCalendar | None = None,
    settings: OeeSettings | None = None,
) -> tuple[dict[str, MachineTimeline], dict[str, str]]:
    """Classified timelines per machine and the machine → line map, covering `[since_ms, until_ms)`.

    Every machine that appears in `intervals` or `parts` gets a timeline; it needs an ideal cycle time.
    Intervals should be whole (not clipped to the window) so that stops are classified by their real length.
    """
    if until_ms < since_ms:
        raise ValueError(f"window ends before it starts: since={since_ms} until={until_ms}")
    settings = settings or OeeSettings()
    by_machine: dict[str, list[StateInterval]] = defaultdict(list)
    parts_by_machine: dict[str, list[PartEvent]] = defaultdict(list)
    line_of: dict[str, str] = {}

    def note_line(machine: str, line: str) -> None:
        if line_of.setdefault(machine, line) != line:
            raise ValueError(
                f"machine {machine!r} reported on two lines ({line_of[machine]!r} and {line!r}): "
                "machine names must be unique in the plant"
            )

    for iv in intervals:
        by_machine[iv.machine].append(iv)
        note_line(iv.machine, iv.line)
    for part in parts:
        parts_by_machine[part.machine].append(part)
        note_line(part.machine, part.line)

    timelines: dict[str, MachineTimeline] = {}
    for machine in sorted(line_of):
        ideal = check_ideal_cycle(machine, ideal_cycle_s.get(machine))
        episodes = resolve(by_machine[machine])
        lo = min([since_ms, *(ep.start_ms for ep in episodes[:1])])
        hi = max([until_ms, *(ep.end_ms for ep in episodes[-1:])])
        cal = None if calendar is None else planned_intervals(calendar, lo, hi)
        timelines[machine] = MachineTimeline(episodes, parts_by_machine[machine], ideal, (lo, hi), cal, settings)
    return timelines, line_of


def compute_oee(
    intervals: Iterable[StateInterval],
    parts: Iterable[PartEvent],
    ideal_cycle_s: Mapping[str, float],
    since_ms: int,
    until_ms: int,
    *,
    calendar: ShiftCalendar | None = None,
    settings: OeeSettings | None = None,
    plant: str = "plant",
) -> OeeReport:
    """OEE for `[since_ms, until_ms)`: every machine, line and the plant, whole window and per shift.

    - `intervals`: state records of any number of machines, whole (a storage query should return every record
      that overlaps the window, unclipped); overlaps and adjacent records are resolved (`intervals.resolve`).
    - `parts`: part events; those with `since_ms ≤ ts_ms < until_ms` are counted.
    - `ideal_cycle_s`: ideal cycle time in seconds per machine name.
    - `calendar`: shift calendar; without one, all time is planned unless a machine reports state `planned`.
      With one, shift rows (window ∩ shift) follow the whole-window rows, labelled like "night 2024-03-04".
    - `settings`: small-stop threshold and start-up window.

    Rows come in this order: for the whole window, then each shift in time order: machines (by name), lines
    (by name), plant.
    """
    timelines, line_of = build_timelines(
        intervals, parts, ideal_cycle_s, since_ms, until_ms, calendar=calendar, settings=settings
    )
    periods: list[tuple[str | None, int, int]] = [(None, since_ms, until_ms)]
    if calendar is not None:
        for occ in shift_occurrences(calendar, since_ms, until_ms):
            periods.append((occ.label, max(since_ms, occ.start_ms), min(until_ms, occ.end_ms)))
    rows: list[OeeResult] = []
    for label, lo, hi in periods:
        rows.extend(_period_rows(timelines, line_of, label, lo, hi, plant))
    return OeeReport(since_ms=since_ms, until_ms=until_ms, rows=tuple(rows))


def _period_rows(
    timelines: Mapping[str, MachineTimeline],
    line_of: Mapping[str, str],
    label: str | None,
    lo: int,
    hi: int,
    plant: str,
) -> list[OeeResult]:
    tallies = {machine: timeline.tally(lo, hi) for machine, timeline in timelines.items()}
    by_line: dict[str, list[Tally]] = defaultdict(list)
    for machine, tally in tallies.items():
        by_line[line_of[machine]].append(tally)
    rows = [result_from_tally(t, Level.MACHINE, m, label, lo, hi) for m, t in tallies.items()]
    rows += [
        result_from_tally(reduce(add, ts, Tally()), Level.LINE, line, label, lo, hi)
        for line, ts in sorted(by_line.items())
    ]
    rows.append(result_from_tally(reduce(add, tallies.values(), Tally()), Level.PLANT, plant, label, lo, hi))
    return rows
