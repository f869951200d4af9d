"""Hand-computed OEE examples; the arithmetic is written out next to each expected number."""

from __future__ import annotations

import pytest

from smartfactory.errors import ConfigError
from smartfactory.kpi import (
    Break,
    OeeReport,
    OeeSettings,
    PartEvent,
    Shift,
    ShiftCalendar,
    StateInterval,
    compute_oee,
)
from tests.kpi.kpi_builders import MIN, at, intervals, spread_parts

NO_STARTUP = OeeSettings(startup_window_s=0)

# One 8-hour day shift, 06:00-14:00, with two 15-minute breaks and a 30-minute lunch.
DAY_SHIFT = ShiftCalendar(
    (
        Shift(
            "day",
            "06:00",
            "14:00",
            breaks=(Break("08:00", "08:15"), Break("10:00", "10:30", "lunch"), Break("12:00", "12:15")),
        ),
    )
)

# Monday 2024-01-01. The machine reports `planned` in the breaks; 47 minutes are lost to stops:
# a 30-minute breakdown (09:00-09:30) and a 17-minute changeover (11:00-11:17).
TEXTBOOK_SPANS = [
    (at(0, 6), at(0, 8), "running", None),
    (at(0, 8), at(0, 8, 15), "planned", "break"),
    (at(0, 8, 15), at(0, 9), "running", None),
    (at(0, 9), at(0, 9, 30), "down", "breakdown"),
    (at(0, 9, 30), at(0, 10), "running", None),
    (at(0, 10), at(0, 10, 30), "planned", "break"),
    (at(0, 10, 30), at(0, 11), "running", None),
    (at(0, 11), at(0, 11, 17), "setup", "changeover"),
    (at(0, 11, 17), at(0, 12), "running", None),
    (at(0, 12), at(0, 12, 15), "planned", "break"),
    (at(0, 12, 15), at(0, 14), "running", None),
]
RUNNING = [(a, b) for a, b, state, _ in TEXTBOOK_SPANS if state == "running"]


def textbook_report(
    calendar: ShiftCalendar | None = DAY_SHIFT, spans: list[tuple[int, int, str, str | None]] | None = None
) -> OeeReport:
    ivs = intervals("press1", "L1", spans or TEXTBOOK_SPANS)
    # 19,271 parts spread over the run time, 423 of them scrap, ideal cycle time 1.0 s (60 parts/min)
    parts = spread_parts("press1", "L1", RUNNING, count=19_271, scrap=423)
    return compute_oee(ivs, parts, {"press1": 1.0}, at(0, 6), at(0, 14), calendar=calendar, settings=NO_STARTUP)


def test_textbook_shift_with_breaks_downtime_and_scrap() -> None:
    row = textbook_report().machine("press1")
    # planned production time = 480 min shift − 2 × 15 min breaks − 30 min lunch = 420 min = 25,200 s
    assert row.planned_production_s == 25_200
    assert row.planned_downtime_s == 60 * 60
    # run time = 420 − 47 min down = 373 min = 22,380 s
    assert row.run_s == 22_380
    # availability = 373 / 420 = 0.888095...
    assert row.availability == pytest.approx(0.888095238, abs=1e-9)
    # performance = 1.0 s × 19,271 / 22,380 s = 0.861081...
    assert row.performance == pytest.approx(0.861081323, abs=1e-9)
    assert not row.performance_capped
    # quality = (19,271 − 423) / 19,271 = 18,848 / 19,271 = 0.978050 (0.97804992)
    assert row.quality == pytest.approx(0.978049920, abs=1e-9)
    # OEE = 0.888095 × 0.861081 × 0.978050 = 18,848 s / 25,200 s = 0.747937 (74.79 %)
    assert row.oee == pytest.approx(0.747936508, abs=1e-9)
    assert (row.total_count, row.good_count, row.scrap_count) == (19_271, 18_848, 423)


def test_textbook_six_big_losses_add_up_to_planned_time() -> None:
    row = textbook_report().machine("press1")
    losses = row.losses
    assert losses.breakdowns == 30 * 60  # the 30-minute breakdown
    assert losses.setup_adjustments == 17 * 60  # the 17-minute changeover
    assert losses.small_stops == 0
    # reduced speed = run time − ideal × total = 22,380 s − 19,271 s = 3,109 s
    assert losses.reduced_speed == pytest.approx(3_109)
    # production rejects = 423 scrap × 1.0 s; no start-up window in this example
    assert losses.production_rejects == pytest.approx(423)
    assert losses.startup_rejects == 0
    # fully productive time = 18,848 good × 1.0 s
    assert row.fully_productive_s == pytest.approx(18_848)
    # 1,800 + 1,020 + 0 + 3,109 + 0 + 423 + 18,848 = 25,200 s = planned production time
    assert losses.total_s + row.fully_productive_s == pytest.approx(25_200, abs=1e-9)
    # one failure: MTBF = run time / 1 = 22,380 s; MTTR = 1,800 s / 1
    assert (row.failures, row.mtbf_s, row.mttr_s) == (1, 22_380, 1_800)


def test_calendar_breaks_give_the_same_answer_when_the_machine_idles_through_them() -> None:
    # the machine does not report `planned` in the breaks, it sits idle; the calendar excludes that time
    idle_in_breaks = [
        (a, b, "idle" if s == "planned" else s, None if s == "planned" else r) for a, b, s, r in TEXTBOOK_SPANS
    ]
    row = textbook_report(spans=idle_in_breaks).machine("press1")
    assert row.planned_production_s == 25_200
    assert row.oee == pytest.approx(18_848 / 25_200)


def test_without_calendar_the_states_alone_define_planned_time() -> None:
    row = textbook_report(calendar=None).machine("press1")
    # the `planned` records (60 min) are the only planned downtime: 420 min planned again
    assert row.planned_production_s == 25_200
    assert row.oee == pytest.approx(18_848 / 25_200)


def test_running_through_a_break_counts_as_planned_production_time() -> None:
    # the machine runs through the 08:00 break instead of stopping: those 15 minutes become planned time
    spans = [(at(0, 6), at(0, 8, 15), "running", None), *TEXTBOOK_SPANS[2:]]
    row = textbook_report(spans=spans).machine("press1")
    # planned = 420 + 15 = 435 min = 26,100 s, run = 373 + 15 = 388 min = 23,280 s
    assert row.planned_production_s == 26_100
    assert row.run_s == 23_280


def test_startup_rejects_after_a_changeover() -> None:
    # 06:00-06:20 changeover, then running until 07:00. Start-up window 5 min, ideal cycle 2 s.
    ivs = intervals(
        "lathe",
        "L2",
        [(at(0, 6), at(0, 6, 20), "setup", "changeover"), (at(0, 6, 20), at(0, 7), "running", None)],
    )
    # one part every 5 s from 06:20:00 to 06:59:55: 40 min × 12 per min = 480 parts
    parts = [PartEvent("lathe", "L2", at(0, 6, 20) + k * 5_000, True) for k in range(480)]
    # scrap: parts 0-9 (06:20:00-06:20:45, inside 06:20-06:25) and parts 100, 200, 300 (outside it)
    for k in [*range(10), 100, 200, 300]:
        parts[k] = PartEvent("lathe", "L2", parts[k].ts_ms, False)
    row = compute_oee(
        ivs, parts, {"lathe": 2.0}, at(0, 6), at(0, 7), settings=OeeSettings(startup_window_s=300)
    ).machine("lathe")
    assert (row.scrap_count, row.startup_scrap_count) == (13, 10)
    # start-up rejects = 10 × 2 s = 20 s; production rejects = 3 × 2 s = 6 s
    assert row.losses.startup_rejects == pytest.approx(20)
    assert row.losses.production_rejects == pytest.approx(6)
    # setup 20 min = 1,200 s; run 40 min = 2,400 s; speed loss = 2,400 − 480 × 2 = 1,440 s
    assert row.losses.setup_adjustments == 1_200
    assert row.losses.reduced_speed == pytest.approx(1_440)
    # OEE = fully productive / planned = 467 × 2 / 3,600 = 0.259444...
    assert row.oee == pytest.approx(934 / 3_600)


def test_short_stops_are_small_stops_and_long_ones_are_classified_by_reason() -> None:
    spans = [
        (at(0, 0), at(0, 1), "running", None),
        (at(0, 1), at(0, 1, 3), "down", "jam"),  # 3 min < 5 min → small stop
        (at(0, 1, 3), at(0, 2), "running", None),
        (at(0, 2), at(0, 2, 6), "down", "jam"),  # 6 min ≥ 5 min → breakdown (a failure)
        (at(0, 2, 6), at(0, 3), "running", None),
        (at(0, 3), at(0, 3, 10), "down", "tool_change"),  # 10 min → setup and adjustments
        (at(0, 3, 10), at(0, 4), "idle", None),  # 50 min idle → small stops (idling)
        (at(0, 4), at(0, 4, 2), "down", "breakdown"),  # 2 min, but a breakdown is always a breakdown
        (at(0, 4, 2), at(0, 5), "running", None),
    ]
    row = compute_oee(intervals("m", "L", spans), [], {"m": 1.0}, at(0, 0), at(0, 5)).machine("m")
    assert row.losses.small_stops == (3 + 50) * 60
    assert row.losses.breakdowns == (6 + 2) * 60
    assert row.losses.setup_adjustments == 10 * 60
    # failures: the long jam and the breakdown; MTTR = (6 + 2) / 2 = 4 min
    assert row.failures == 2
    assert row.mttr_s == 4 * 60
    # run = 60 + 57 + 54 + 58 = 229 min; MTBF = 229 / 2 = 114.5 min
    assert row.run_s == 229 * 60
    assert row.mtbf_s == pytest.approx(114.5 * 60)
    # with a 10-minute threshold the 6-minute jam and the tool change become small stops
    wide = compute_oee(
        intervals("m", "L", spans), [], {"m": 1.0}, at(0, 0), at(0, 5), settings=OeeSettings(small_stop_s=600)
    ).machine("m")
    assert wide.losses.small_stops == (3 + 6 + 50) * 60
    assert wide.losses.setup_adjustments == 10 * 60  # exactly 10 min is not shorter than 10 min
    assert wide.failures == 1


def test_a_stop_split_over_two_records_is_classified_by_its_whole_length() -> None:
    spans = [
        (at(0, 0), at(0, 0, 3), "down", "jam"),
        (at(0, 0, 3), at(0, 0, 6), "down", "jam"),  # adjacent, same reason: one 6-minute jam
        (at(0, 0, 6), at(0, 1), "running", None),
    ]
    row = compute_oee(intervals("m", "L", spans), [], {"m": 1.0}, at(0, 0), at(0, 1)).machine("m")
    assert row.losses.breakdowns == 6 * 60
    assert row.failures == 1
    # a window holding only the first 3 minutes still sees a breakdown, not a small stop
    part = compute_oee(intervals("m", "L", spans), [], {"m": 1.0}, at(0, 0), at(0, 0, 3)).machine("m")
    assert part.losses.breakdowns == 3 * 60
    assert part.mttr_s == 6 * 60


def test_performance_above_one_is_capped_and_flagged() -> None:
    # 100 s running, ideal cycle 1 s, 120 parts: raw performance 120 / 100 = 1.2
    ivs = [StateInterval("m", "L", "running", None, 0, 100_000)]
    parts = [PartEvent("m", "L", k * 800, True) for k in range(120)]
    row = compute_oee(ivs, parts, {"m": 1.0}, 0, 100_000).machine("m")
    assert row.performance_raw == pytest.approx(1.2)
    assert row.performance == 1.0
    assert row.performance_capped
    assert row.oee == 1.0  # A = 1, P capped at 1, Q = 1
    assert row.losses.reduced_speed == pytest.approx(-20)  # 100 s − 120 × 1 s: the ideal is set too slow


def test_zero_denominators_give_none_not_nan() -> None:
    # nothing known: no planned time at all
    empty = compute_oee([], [PartEvent("m", "L", 5, True)], {"m": 1.0}, 0, 1_000).machine("m")
    assert (empty.availability, empty.performance, empty.oee, empty.mtbf_s, empty.mttr_s) == (None,) * 5
    assert empty.quality == 1.0
    # planned time but the machine never ran and made nothing: A = 0, P and Q undefined, OEE = 0
    down = compute_oee([StateInterval("m", "L", "down", "breakdown", 0, 1_000)], [], {"m": 1.0}, 0, 1_000)
    row = down.machine("m")
    assert (row.availability, row.performance, row.quality, row.oee) == (0.0, None, None, 0.0)
    # ran but made nothing: P = 0, Q undefined, OEE = 0
    idle_run = compute_oee([StateInterval("m", "L", "running", None, 0, 1_000)], [], {"m": 1.0}, 0, 1_000)
    assert (idle_run.machine("m").performance, idle_run.machine("m").quality) == (0.0, None)
    assert idle_run.machine("m").oee == 0.0


def test_overlapping_records_the_later_one_wins_and_gaps_are_unrecorded() -> None:
    ivs = [
        StateInterval("m", "L", "running", None, 0, 100_000),
        StateInterval("m", "L", "down", "breakdown", 40_000, 60_000),  # overrides the running record
        StateInterval("m", "L", "running", None, 150_000, 200_000),  # 50 s gap before it
    ]
    row = compute_oee(ivs, [], {"m": 1.0}, 0, 200_000).machine("m")
    assert row.run_s == 40 + 40 + 50
    assert row.losses.breakdowns == 20
    assert row.unrecorded_s == 50
    assert row.planned_production_s + row.unrecorded_s + row.planned_downtime_s == 200


def test_records_are_clipped_to_the_window() -> None:
    ivs = [StateInterval("m", "L", "running", None, 0, 1_000_000)]
    parts = [PartEvent("m", "L", t, True) for t in range(0, 1_000_000, 10_000)]  # 100 parts
    row = compute_oee(ivs, parts, {"m": 5.0}, 250_000, 750_000).machine("m")
    # the window holds 500 s of the run and parts at 250 s, 260 s, … 740 s: 50 parts
    assert row.run_s == 500
    assert row.total_count == 50
    assert row.performance == pytest.approx(50 * 5.0 / 500)


def test_line_and_plant_sum_times_and_counts_not_average_oee() -> None:
    # m1 (line A): 1000 s running, ideal 1 s, 800 parts, 80 scrap
    # m2 (line A): 500 s planned maintenance, 200 s breakdown, 300 s running, ideal 2 s, 150 parts, no scrap
    # m3 (line B): 1000 s running, ideal 1 s, 1000 parts, no scrap
    ivs = [
        StateInterval("m1", "A", "running", None, 0, 1_000_000),
        StateInterval("m2", "A", "planned", "planned_maintenance", 0, 500_000),
        StateInterval("m2", "A", "down", "breakdown", 500_000, 700_000),
        StateInterval("m2", "A", "running", None, 700_000, 1_000_000),
        StateInterval("m3", "B", "running", None, 0, 1_000_000),
    ]
    parts = [PartEvent("m1", "A", k * 1_000, k % 10 != 0) for k in range(800)]
    parts += [PartEvent("m2", "A", 700_000 + k * 2_000, True) for k in range(150)]
    parts += [PartEvent("m3", "B", k * 1_000, True) for k in range(1000)]
    report = compute_oee(ivs, parts, {"m1": 1.0, "m2": 2.0, "m3": 1.0}, 0, 1_000_000)
    # m1: A = 1000/1000, P = 800/1000, Q = 720/800 → OEE 0.72
    assert report.machine("m1").oee == pytest.approx(0.72)
    # m2: A = 300/500, P = 2 × 150/300 = 1, Q = 1 → OEE 0.6
    assert report.machine("m2").oee == pytest.approx(0.6)
    line = report.line("A")
    # A = (1000 + 300) / (1000 + 500) = 0.8667
    assert line.availability == pytest.approx(1_300 / 1_500)
    # P = (1 × 800 + 2 × 150) / 1300 = 1100 / 1300
    assert line.performance == pytest.approx(1_100 / 1_300)
    # Q = (1 × 720 + 2 × 150) / (1 × 800 + 2 × 150) = 1020 / 1100 (weighted by ideal cycle time)
    assert line.quality == pytest.approx(1_020 / 1_100)
    # OEE = A × P × Q = 1020 s fully productive / 1500 s planned = 0.68, not the mean (0.72 + 0.6) / 2 = 0.66
    assert line.oee == pytest.approx(0.68)
    assert line.oee != pytest.approx((0.72 + 0.6) / 2)
    # plant: fully productive (720 + 300 + 1000) / planned (1000 + 500 + 1000) = 2020 / 2500
    assert report.plant.oee == pytest.approx(2_020 / 2_500)
    assert report.plant.total_count == 1_950
    assert (report.plant.machines, line.machines) == (3, 2)
    assert (line.failures, line.mtbf_s, line.mttr_s) == (1, 1_300, 200)


def test_missing_ideal_cycle_time_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ideal cycle time for machine 'm'"):
        compute_oee([StateInterval("m", "L", "running", None, 0, 10)], [], {}, 0, 10)
    with pytest.raises(ConfigError, match="positive"):
        compute_oee([StateInterval("m", "L", "running", None, 0, 10)], [], {"m": 0.0}, 0, 10)


def test_bad_records_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown machine state 'broken'"):
        StateInterval("m", "L", "broken", None, 0, 10)
    with pytest.raises(ValueError, match="ends before it starts"):
        StateInterval("m", "L", "running", None, 10, 0)
    with pytest.raises(ValueError, match="two lines"):
        compute_oee(
            [StateInterval("m", "L1", "running", None, 0, 10)],
            [PartEvent("m", "L2", 1, True)],
            {"m": 1},
            0,
            10,
        )


def test_shift_rows_follow_the_whole_window_rows() -> None:
    report = textbook_report()
    assert report.shifts == ("day 2024-01-01",)
    shift_row = report.machine("press1", shift="day 2024-01-01")
    assert shift_row.oee == report.machine("press1").oee
    assert [(r.level.value, r.shift) for r in report.rows] == [
        ("machine", None),
        ("line", None),
        ("plant", None),
        ("machine", "day 2024-01-01"),
        ("line", "day 2024-01-01"),
        ("plant", "day 2024-01-01"),
    ]
    as_json = report.to_dicts()[0]
    assert as_json["level"] == "machine"
    assert as_json["losses"]["breakdowns"] == 1_800
    assert report.machine("press1").run_s == 373 * MIN / 1000


def test_startup_window_opens_after_long_stops_and_breaks_but_not_after_small_stops() -> None:
    # calendar: one shift 06:00-10:00 with a break 08:00-08:15; start-up window 2 min, small stops < 5 min
    calendar = ShiftCalendar((Shift("s", "06:00", "10:00", breaks=(Break("08:00", "08:15"),)),))
    spans = [
        (at(0, 5), at(0, 6, 30), "running", None),  # runs before the shift: no start-up at 06:00
        (at(0, 6, 30), at(0, 6, 31), "down", "jam"),  # 1-min jam = small stop
        (at(0, 6, 31), at(0, 7), "running", None),  # → 06:31 is not a start-up
        (at(0, 7), at(0, 7, 1), "idle", None),  # idling = small stop
        (at(0, 7, 1), at(0, 7, 30), "running", None),  # → 07:01 is not a start-up
        (at(0, 7, 30), at(0, 7, 40), "down", "jam"),  # 10-min jam = breakdown
        (at(0, 7, 40), at(0, 8), "running", None),  # → 07:40 is a start-up
        (at(0, 8), at(0, 8, 15), "idle", None),  # idle in the calendar break = planned downtime
        (at(0, 8, 15), at(0, 10), "running", None),  # → 08:15 is a start-up
    ]
    # one scrap part 30 s after each restart
    restarts = [at(0, 6, 31), at(0, 7, 1), at(0, 7, 40), at(0, 8, 15)]
    parts = [PartEvent("m", "L", t + 30_000, False) for t in restarts]
    row = compute_oee(
        intervals("m", "L", spans),
        parts,
        {"m": 1.0},
        at(0, 6),
        at(0, 10),
        calendar=calendar,
        settings=OeeSettings(startup_window_s=120),
    ).machine("m")
    assert (row.scrap_count, row.startup_scrap_count) == (4, 2)
    # a machine that starts with the shift after being idle off-shift also starts up at 06:00
    cold = [(at(0, 5), at(0, 6), "idle", None), (at(0, 6), at(0, 7), "running", None)]
    row = compute_oee(
        intervals("m", "L", cold),
        [PartEvent("m", "L", at(0, 6, 1), False), PartEvent("m", "L", at(0, 6, 3), False)],
        {"m": 1.0},
        at(0, 6),
        at(0, 7),
        calendar=calendar,
        settings=OeeSettings(startup_window_s=120),
    ).machine("m")
    assert (row.scrap_count, row.startup_scrap_count) == (2, 1)  # 06:01 inside [06:00, 06:02), 06:03 not
