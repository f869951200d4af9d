"""Property tests: bounds, OEE = A × P × Q, time identities, additivity over split windows, input order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory.kpi import (
    Break,
    OeeReport,
    OeeResult,
    OeeSettings,
    PartEvent,
    Shift,
    ShiftCalendar,
    StateInterval,
    compute_oee,
)
from smartfactory.kpi.intervals import resolve, total, union
from tests.kpi.kpi_builders import MIN, T0

HOUR = 60 * MIN
HORIZON = 30 * HOUR  # from Monday 00:00 UTC: crosses midnight, so night shifts are split by the horizon too

STATES = [
    ("running", None),
    ("running", None),
    ("idle", None),
    ("setup", "changeover"),
    ("setup", "adjustment"),
    ("down", "breakdown"),
    ("down", "jam"),
    ("down", "tool_change"),
    ("down", "material_shortage"),
    ("down", "quality_check"),
    ("down", None),
    ("planned", "break"),
    ("planned", "no_orders"),
]

CALENDARS = [
    None,
    ShiftCalendar(
        (
            Shift("early", "06:00", "14:00", breaks=(Break("09:00", "09:15"), Break("11:30", "12:00"))),
            Shift("late", "14:00", "22:00", breaks=(Break("18:00", "18:30"),)),
            Shift(
                "night",
                "22:00",
                "06:00",
                days=("mon", "tue", "wed", "thu", "fri"),
                breaks=(Break("02:00", "02:30"),),
            ),
        )
    ),
    ShiftCalendar((Shift("day", "07:30", "16:00", breaks=(Break("12:00", "12:45"),)),), "Europe/Berlin"),
]

ADDITIVE_TIMES = ("planned_production_s", "planned_downtime_s", "unrecorded_s", "run_s", "fully_productive_s")
ADDITIVE_COUNTS = ("total_count", "good_count", "scrap_count", "startup_scrap_count", "failures")
LOSSES = (
    "breakdowns",
    "setup_adjustments",
    "small_stops",
    "reduced_speed",
    "startup_rejects",
    "production_rejects",
)


@dataclass(frozen=True)
class Case:
    intervals: list[StateInterval]
    parts: list[PartEvent]
    ideal: dict[str, float]
    calendar: ShiftCalendar | None
    settings: OeeSettings
    since: int
    middle: int
    until: int

    def report(self, since: int, until: int, reverse: bool = False) -> OeeReport:
        ivs, parts = (self.intervals[::-1], self.parts[::-1]) if reverse else (self.intervals, self.parts)
        return compute_oee(ivs, parts, self.ideal, since, until, calendar=self.calendar, settings=self.settings)


seconds = st.integers(min_value=0, max_value=HORIZON // 1000).map(lambda s: T0 + s * 1000)


@st.composite
def machine_records(draw: st.DrawFn, machine: str, line: str) -> tuple[list[StateInterval], list[PartEvent]]:
    records: list[StateInterval] = []
    if draw(st.booleans()):
        # the usual case: records laid end to end, as a state machine publishes them
        t = draw(seconds)
        for _ in range(draw(st.integers(0, 25))):
            length = draw(st.integers(0, 3 * 3600)) * 1000
            state, reason = draw(st.sampled_from(STATES))
            records.append(StateInterval(machine, line, state, reason, t, t + length))
            t += length + draw(st.sampled_from([0, 0, 0, 30_000]))  # sometimes a gap in the data
    else:
        # messy data: records anywhere, overlapping
        for _ in range(draw(st.integers(0, 15))):
            start = draw(seconds)
            state, reason = draw(st.sampled_from(STATES))
            records.append(
                StateInterval(machine, line, state, reason, start, start + draw(st.integers(0, 7200)) * 1000)
            )
    parts = [
        PartEvent(machine, line, ts, good)
        for ts, good in draw(st.lists(st.tuples(seconds, st.booleans()), max_size=150))
    ]
    return records, parts


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 3))
    intervals: list[StateInterval] = []
    parts: list[PartEvent] = []
    ideal: dict[str, float] = {}
    for i in range(n):
        machine = f"m{i}"
        ivs, ps = draw(machine_records(machine, f"L{i % 2}"))
        intervals += ivs
        parts += ps
        ideal[machine] = draw(st.sampled_from([0.25, 1.0, 7.5, 60.0, 400.0]))
    a, m, b = sorted(draw(st.lists(seconds, min_size=3, max_size=3)))
    return Case(
        intervals=intervals,
        parts=parts,
        ideal=ideal,
        calendar=draw(st.sampled_from(CALENDARS)),
        settings=OeeSettings(
            small_stop_s=draw(st.sampled_from([0.0, 60.0, 300.0])),
            startup_window_s=draw(st.sampled_from([0.0, 120.0, 600.0])),
        ),
        since=a,
        middle=m,
        until=b,
    )


def check_row(row: OeeResult) -> None:
    for ratio in (row.availability, row.performance, row.quality, row.oee):
        assert ratio is None or 0.0 <= ratio <= 1.0
    assert row.performance_raw is None or row.performance_raw >= 0.0
    assert row.performance_capped == (row.performance_raw is not None and row.performance_raw > 1.0)
    if row.availability is not None and row.performance is not None and row.quality is not None:
        assert row.oee == pytest.approx(row.availability * row.performance * row.quality, rel=1e-12)
    elif row.planned_production_s > 0 and row.good_count == 0:
        assert row.oee == 0.0
    # identity: six big losses + fully productive time = planned production time
    assert row.losses.total_s + row.fully_productive_s == pytest.approx(row.planned_production_s, rel=1e-12, abs=1e-6)
    # identity: the window = planned production + planned downtime + unrecorded (per machine)
    window_s = (row.until_ms - row.since_ms) / 1000 * row.machines
    assert row.planned_production_s + row.planned_downtime_s + row.unrecorded_s == pytest.approx(window_s, abs=1e-6)
    assert row.run_s <= row.planned_production_s
    assert row.scrap_count == row.total_count - row.good_count >= row.startup_scrap_count >= 0


@settings(deadline=None, max_examples=150)
@given(cases())
def test_every_row_respects_bounds_and_identities(case: Case) -> None:
    report = case.report(case.since, case.until)
    assert report.rows
    for row in report.rows:
        check_row(row)


@settings(deadline=None, max_examples=150)
@given(cases())
def test_splitting_the_window_adds_up_to_the_whole(case: Case) -> None:
    whole = case.report(case.since, case.until)
    first = case.report(case.since, case.middle)
    second = case.report(case.middle, case.until)
    for row in (r for r in whole.rows if r.shift is None):
        a, b = first.get(row.level, row.name), second.get(row.level, row.name)
        for name in ADDITIVE_COUNTS:
            assert getattr(a, name) + getattr(b, name) == getattr(row, name), name
        for name in ADDITIVE_TIMES:
            assert getattr(a, name) + getattr(b, name) == pytest.approx(getattr(row, name), abs=1e-6), name
        for name in LOSSES:
            split = getattr(a.losses, name) + getattr(b.losses, name)
            assert split == pytest.approx(getattr(row.losses, name), abs=1e-6), name


@settings(deadline=None, max_examples=100)
@given(cases())
def test_lines_and_plant_are_sums_of_their_machines(case: Case) -> None:
    report = case.report(case.since, case.until)
    machines = [r for r in report.rows if r.level == "machine" and r.shift is None]
    plant = report.plant
    for name in ADDITIVE_COUNTS:
        assert sum(getattr(r, name) for r in machines) == getattr(plant, name)
    for name in ADDITIVE_TIMES:
        assert sum(getattr(r, name) for r in machines) == pytest.approx(getattr(plant, name), abs=1e-6)
    fully = sum(r.fully_productive_s for r in machines)
    planned = sum(r.planned_production_s for r in machines)
    if plant.oee is not None and not plant.performance_capped and planned > 0:
        # time-weighted aggregation: the plant's OEE is its fully productive share of planned time
        assert plant.oee == pytest.approx(fully / planned, rel=1e-9, abs=1e-12)


@settings(deadline=None, max_examples=100)
@given(cases())
def test_input_order_does_not_matter(case: Case) -> None:
    assert case.report(case.since, case.until).rows == case.report(case.since, case.until, reverse=True).rows


@settings(deadline=None, max_examples=200)
@given(
    st.lists(
        st.tuples(st.integers(0, 1000), st.integers(0, 300), st.sampled_from(STATES)),
        max_size=20,
    )
)
def test_resolved_episodes_are_disjoint_and_cover_exactly_the_records(
    raw: list[tuple[int, int, tuple[str, str | None]]],
) -> None:
    records = [StateInterval("m", "L", s, r, start, start + length) for start, length, (s, r) in raw]
    episodes = resolve(records)
    spans = [(e.start_ms, e.end_ms) for e in episodes]
    assert all(a < b for a, b in spans)
    assert all(prev[1] <= nxt[0] for prev, nxt in itertools.pairwise(spans))
    assert total(spans) == total(union((r.start_ms, r.end_ms) for r in records))
    # touching episodes always differ in state or reason (they were merged otherwise)
    for prev, nxt in itertools.pairwise(episodes):
        if prev.end_ms == nxt.start_ms:
            assert (prev.state, prev.reason) != (nxt.state, nxt.reason)
