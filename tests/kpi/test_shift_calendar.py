"""Shift calendar: occurrences, breaks, night shifts over midnight, windows starting mid-shift, zones."""

from __future__ import annotations

from datetime import date

import pytest

from smartfactory.errors import ConfigError
from smartfactory.kpi import Break, Shift, ShiftCalendar, compute_oee, planned_intervals, shift_occurrences
from tests.kpi.kpi_builders import MIN, at, intervals, spread_parts

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NIGHT = Shift("night", "22:00", "06:00", days=WEEKDAYS, breaks=(Break("02:00", "02:30"),))
EARLY = Shift("early", "06:00", "14:00", days=WEEKDAYS, breaks=(Break("10:00", "10:30"),))
CALENDAR = ShiftCalendar((EARLY, NIGHT))


def test_night_shift_crosses_midnight_and_its_break_is_on_the_next_day() -> None:
    # window Monday 00:00 to Wednesday 00:00 UTC
    occurrences = shift_occurrences(ShiftCalendar((NIGHT,)), at(0, 0), at(2, 0))
    # no Sunday night shift (weekdays only); Monday night and Tuesday night overlap the window
    assert [(o.label, o.start_ms, o.end_ms) for o in occurrences] == [
        ("night 2024-01-01", at(0, 22), at(1, 6)),
        ("night 2024-01-02", at(1, 22), at(2, 6)),
    ]
    assert occurrences[0].day == date(2024, 1, 1)
    assert occurrences[0].breaks == ((at(1, 2), at(1, 2, 30)),)
    # planned: Mon 22:00-Tue 02:00, Tue 02:30-06:00, Tue 22:00-Wed 00:00 (clipped at the window's end)
    assert planned_intervals(ShiftCalendar((NIGHT,)), at(0, 0), at(2, 0)) == [
        (at(0, 22), at(1, 2)),
        (at(1, 2, 30), at(1, 6)),
        (at(1, 22), at(2, 0)),
    ]


def test_friday_night_runs_into_saturday_and_there_is_no_weekend_shift() -> None:
    planned = planned_intervals(CALENDAR, at(4, 0), at(7, 0))  # Friday 00:00 to Monday 00:00
    # Thursday's night shift ends Friday 06:00 where the early shift starts; Friday's night ends Sat 06:00
    assert planned == [
        (at(4, 0), at(4, 2)),
        (at(4, 2, 30), at(4, 10)),
        (at(4, 10, 30), at(4, 14)),
        (at(4, 22), at(5, 2)),
        (at(5, 2, 30), at(5, 6)),
    ]


def test_adjacent_shifts_merge_into_one_planned_interval() -> None:
    # Tuesday: night (from Monday) ends 06:00 where early starts
    planned = planned_intervals(CALENDAR, at(1, 3), at(1, 12))
    assert planned == [(at(1, 3), at(1, 10)), (at(1, 10, 30), at(1, 12))]


def test_window_that_starts_mid_shift() -> None:
    # window Tuesday 03:00-09:00: the tail of Monday's night shift and the start of Tuesday's early shift
    since, until = at(1, 3), at(1, 9)
    ivs = intervals(
        "m",
        "L",
        [
            (at(0, 22), at(1, 4), "running", None),  # started before the window
            (at(1, 4), at(1, 4, 20), "down", "breakdown"),
            (at(1, 4, 20), at(1, 9), "running", None),
        ],
    )
    parts = spread_parts("m", "L", [(at(0, 22), at(1, 4)), (at(1, 4, 20), at(1, 9))], count=10_000, scrap=0)
    report = compute_oee(ivs, parts, {"m": 1.0}, since, until, calendar=CALENDAR)
    whole = report.machine("m")
    # planned = 6 h, all inside shifts; run = 6 h − 20 min = 340 min
    assert whole.planned_production_s == 6 * 3600
    assert whole.run_s == 340 * 60
    assert report.shifts == ("night 2024-01-01", "early 2024-01-02")
    night = report.machine("m", shift="night 2024-01-01")
    early = report.machine("m", shift="early 2024-01-02")
    # the night row covers 03:00-06:00 only (window ∩ shift), the early row 06:00-09:00
    assert (night.since_ms, night.until_ms) == (since, at(1, 6))
    assert (early.since_ms, early.until_ms) == (at(1, 6), until)
    assert night.planned_production_s == 3 * 3600
    assert night.losses.breakdowns == 20 * 60
    assert night.failures == 1
    assert early.failures == 0
    # shift rows add up to the whole window here, because the window lies inside shifts
    assert night.total_count + early.total_count == whole.total_count
    assert night.run_s + early.run_s == whole.run_s


def test_shift_rows_are_clipped_to_the_window_and_times_outside_shifts_are_planned_downtime() -> None:
    since, until = at(0, 12), at(0, 23)  # Monday 12:00-23:00
    ivs = intervals("m", "L", [(since, until, "idle", None)])
    report = compute_oee(ivs, [], {"m": 1.0}, since, until, calendar=CALENDAR)
    whole = report.machine("m")
    # planned: 12:00-14:00 (early) + 22:00-23:00 (night) = 3 h; the rest is planned downtime
    assert whole.planned_production_s == 3 * 3600
    assert whole.planned_downtime_s == 8 * 3600
    assert whole.losses.small_stops == 3 * 3600  # idle inside planned time is a small stop (idling)
    assert report.machine("m", shift="early 2024-01-01").planned_production_s == 2 * 3600
    assert report.machine("m", shift="night 2024-01-01").planned_production_s == 1 * 3600


def test_time_zone_and_daylight_saving() -> None:
    berlin = ShiftCalendar((Shift("early", "06:00", "14:00"), Shift("night", "22:00", "06:00")), "Europe/Berlin")
    # in winter Berlin is UTC+1: early shift 06:00 local = 05:00 UTC
    occ = shift_occurrences(berlin, at(0, 5), at(0, 6))
    assert [(o.label, o.start_ms) for o in occ] == [("early 2024-01-01", at(0, 5))]
    # clocks go forward at 02:00 on Sunday 2024-03-31: the night shift from Saturday is 7 h long
    sat = at(89, 0)  # 2024-03-30 00:00 UTC
    night = next(o for o in shift_occurrences(berlin, sat, sat + 2 * 24 * 60 * MIN) if o.label == "night 2024-03-30")
    assert night.end_ms - night.start_ms == 7 * 60 * MIN
    assert night.start_ms == sat + 21 * 60 * MIN  # 22:00 CET = 21:00 UTC


def test_24_hour_shift_and_shift_lengths() -> None:
    assert Shift("all", "06:00", "06:00").length_minutes == 24 * 60
    assert NIGHT.length_minutes == 8 * 60
    continuous = ShiftCalendar((Shift("all", "00:00", "00:00"),))
    assert planned_intervals(continuous, at(0, 3), at(3, 3)) == [(at(0, 3), at(3, 3))]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Shift("s", "25:00", "06:00"), "not a wall-clock time"),
        (lambda: Shift("s", "6:00", "14:00"), "HH:MM"),
        (lambda: Shift("s", "06:00", "14:00", days=("monday",)), "use a non-empty list"),
        (lambda: Shift("s", "06:00", "14:00", breaks=(Break("15:00", "15:30"),)), "not inside shift"),
        (lambda: Shift("s", "22:00", "06:00", breaks=(Break("05:45", "06:15"),)), "not inside shift"),
        (lambda: Break("10:00", "10:00"), "give it a length"),
        (lambda: ShiftCalendar((EARLY,), "Mars/Olympus"), "unknown time zone"),
        (lambda: ShiftCalendar((EARLY, EARLY)), "unique"),
    ],
)
def test_bad_calendars_are_refused_with_a_hint(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_calendar_from_the_plant_file_mapping() -> None:
    data = {
        "timezone": "Europe/Berlin",
        "shifts": [
            {
                "name": "early",
                "start": "06:00",
                "end": "14:00",
                "days": ["Mon", "tue", "wed", "thu", "fri"],
                "breaks": [
                    {"start": "09:00", "end": "09:15"},
                    {"start": "11:30", "end": "12:00", "name": "lunch"},
                ],
            },
            {"name": "night", "start": "22:00", "end": "06:00"},
        ],
    }
    calendar = ShiftCalendar.from_mapping(data)
    assert calendar.timezone == "Europe/Berlin"
    assert calendar.shifts[0] == Shift(
        "early",
        "06:00",
        "14:00",
        ("mon", "tue", "wed", "thu", "fri"),
        (Break("09:00", "09:15"), Break("11:30", "12:00", "lunch")),
    )
    assert calendar.shifts[1].days == ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    with pytest.raises(ConfigError, match=r"unknown shift key\(s\) \['stop'\]"):
        ShiftCalendar.from_mapping({"shifts": [{"name": "x", "start": "06:00", "stop": "14:00"}]})
    with pytest.raises(ConfigError, match="lacks 'end'"):
        ShiftCalendar.from_mapping({"shifts": [{"name": "x", "start": "06:00"}]})
    with pytest.raises(ConfigError, match="must be a mapping"):
        ShiftCalendar.from_mapping({"shifts": ["early"]})
