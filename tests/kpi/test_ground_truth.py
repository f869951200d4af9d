"""The simulator's ground-truth recorder and state changes → intervals match OEE from direct intervals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory.kpi import (
    GroundTruthRecorder,
    PartEvent,
    StateChange,
    StateInterval,
    compute_oee,
    intervals_from_changes,
)
from tests.kpi.kpi_builders import MIN, at


def test_changes_become_intervals_until_the_next_change() -> None:
    changes = [
        StateChange(machine="m", ts_ms=0, state="running", reason=None, line="L"),
        StateChange(
            machine="m", ts_ms=50, state="running", reason=None, line="L"
        ),  # repeats the state: the episode goes on
        StateChange(machine="m", ts_ms=100, state="down", reason="jam", line="L"),
        StateChange(machine="m", ts_ms=130, state="idle", reason=None, line="L"),
        StateChange(
            machine="m", ts_ms=130, state="running", reason=None, line="L"
        ),  # same instant: the later change wins
        StateChange(machine="m", ts_ms=500, state="down", reason="breakdown", line="L"),  # at `until`: dropped
        StateChange(machine="n", ts_ms=20, state="setup", reason="changeover", line="L"),
    ]
    assert intervals_from_changes(changes, until_ms=500) == [
        StateInterval("m", "L", "running", None, 0, 100),
        StateInterval("m", "L", "down", "jam", 100, 130),
        StateInterval("m", "L", "running", None, 130, 500),
        StateInterval("n", "L", "setup", "changeover", 20, 500),
    ]


def test_recorder_matches_the_engine_on_the_same_history() -> None:
    rec = GroundTruthRecorder()
    rec.state("press", "L1", "planned", "no_orders", at(0, 5))
    rec.state("press", "L1", "setup", "changeover", at(0, 6))
    rec.state("press", "L1", "running", None, at(0, 6, 20))
    for k in range(1_000):
        rec.part("press", "L1", at(0, 6, 20) + k * 2_000, good=k % 50 != 0)
    rec.state("press", "L1", "down", "breakdown", at(0, 7, 0))
    rec.state("press", "L1", "running", None, at(0, 7, 10))
    truth = rec.compute({"press": 1.5}, at(0, 6), at(0, 8))
    direct = compute_oee(
        [
            StateInterval("press", "L1", "planned", "no_orders", at(0, 5), at(0, 6)),
            StateInterval("press", "L1", "setup", "changeover", at(0, 6), at(0, 6, 20)),
            StateInterval("press", "L1", "running", None, at(0, 6, 20), at(0, 7)),
            StateInterval("press", "L1", "down", "breakdown", at(0, 7), at(0, 7, 10)),
            StateInterval("press", "L1", "running", None, at(0, 7, 10), at(0, 8)),
        ],
        rec.parts,
        {"press": 1.5},
        at(0, 6),
        at(0, 8),
    )
    assert truth == direct
    row = truth.machine("press")
    # planned 120 min; run 40 + 50 = 90 min; A = 0.75
    assert row.availability == pytest.approx(0.75)
    # P = 1.5 s × 1000 / 5400 s; Q = 980 / 1000
    assert row.performance == pytest.approx(1_500 / 5_400)
    assert row.quality == pytest.approx(0.98)
    assert row.run_s == 90 * MIN / 1000


def test_recorder_refuses_events_out_of_time_order() -> None:
    rec = GroundTruthRecorder()
    rec.state("m", "L", "running", None, 1_000)
    with pytest.raises(ValueError, match="went back in time"):
        rec.part("m", "L", 999, True)
    rec.state("other", "L", "running", None, 5)  # each machine has its own clock


STATES = [("running", None), ("idle", None), ("down", "jam"), ("down", "breakdown"), ("setup", "adjustment")]


@settings(deadline=None, max_examples=100)
@given(
    steps=st.lists(st.tuples(st.integers(1, 900), st.sampled_from(STATES), st.integers(0, 20)), max_size=30),
    window=st.tuples(st.integers(0, 5_000), st.integers(0, 5_000)),
)
def test_recorder_and_direct_intervals_agree(
    steps: list[tuple[int, tuple[str, str | None], int]], window: tuple[int, int]
) -> None:
    rec = GroundTruthRecorder()
    direct: list[StateInterval] = []
    parts: list[PartEvent] = []
    t = 0
    for seconds, (state, reason), n_parts in steps:
        rec.state("m", "L", state, reason, t * 1000)
        for k in range(n_parts if state == "running" else 0):
            ts = (t + k * seconds / max(n_parts, 1)) * 1000
            rec.part("m", "L", int(ts), good=k % 7 != 3)
            parts.append(PartEvent("m", "L", int(ts), k % 7 != 3))
        direct.append(StateInterval("m", "L", state, reason, t * 1000, (t + seconds) * 1000))
        t += seconds
    since, until = sorted(w * 1000 for w in window)
    until = max(until, t * 1000)
    if direct:  # the recorder keeps the last state open until `until`
        last = direct.pop()
        direct.append(StateInterval("m", "L", last.state, last.reason, last.start_ms, until))
    assert rec.compute({"m": 2.0}, since, until) == compute_oee(direct, parts, {"m": 2.0}, since, until)
