"""The shipped lecture scenarios keep telling their story, rehearsed through the live SPC monitor.

Each story is checked against a baseline: the same scenario, seed and plant without the fault, so that an
alarm counts only if the fault caused it (in-control charts raise false alarms too).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from smartfactory.durations import parse_duration
from smartfactory.kpi import Level
from smartfactory.plant import Plant
from smartfactory.sim.lifecycle import MACHINE_FAULTS
from smartfactory.sim.loader import Catalog
from smartfactory.sim.scenario import Scenario, load_scenario
from smartfactory.sim.signals import FAULT_KINDS
from smartfactory.wire import alarm_class
from tests.conftest import ROOT
from tests.sim.conftest import SIMULATORS
from tests.sim.rehearse import Rehearsal, rehearse

SCENARIOS = sorted((SIMULATORS / "scenarios").glob("*.yaml"))
RUN_RULES = {"WE2", "WE3", "WE4"}
CNC2, FILLER, IMM = "cnc-02", "filler-01", "imm-01"


def scenario(name: str) -> Scenario:
    return load_scenario(SIMULATORS / "scenarios" / f"{name}.yaml")


def without_faults(s: Scenario) -> Scenario:
    return dataclasses.replace(s, events=())


@pytest.fixture(scope="module")
def tool_wear(catalog: Catalog, default_plant: Plant) -> tuple[Rehearsal, Rehearsal]:
    s = scenario("tool-wear")
    return rehearse(default_plant, catalog, s, only={CNC2}), rehearse(
        default_plant, catalog, without_faults(s), only={CNC2}
    )


@pytest.fixture(scope="module")
def sudden_shift(catalog: Catalog, default_plant: Plant) -> tuple[Rehearsal, Rehearsal]:
    s = scenario("sudden-shift")
    only = {FILLER, IMM}
    return rehearse(default_plant, catalog, s, only=only), rehearse(
        default_plant, catalog, without_faults(s), only=only
    )


def test_at_least_three_scenarios_ship_and_each_parses(catalog: Catalog, default_plant: Plant) -> None:
    names = {p.stem for p in SCENARIOS}
    assert {"tool-wear", "sudden-shift", "breakdown"} <= names
    for path in SCENARIOS:
        s = load_scenario(path)
        assert s.description, path.name
        assert s.events, path.name
        assert s.seed is not None, path.name
        assert s.auto_stops is False  # lecture scenarios show only their own faults


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_event_of_every_scenario_is_obeyed(
    path: Path, catalog: Catalog, default_plant: Plant, caplog: pytest.LogCaptureFixture
) -> None:
    s = load_scenario(path)
    names = {e.machine.split("/")[-1] for e in s.events}
    with caplog.at_level(logging.WARNING):
        result = rehearse(default_plant, catalog, s, only=names, phase1_points=10**9)
    assert not [r.message for r in caplog.records if "ignored" in r.message]
    fired = sorted((e.at_s, e.kind) for e in result.events)
    for event in s.events:  # every scripted fault starts (and every clear repairs) at its exact time
        kind = "fault" if event.action == "inject" else "repair"
        assert (event.at_s, kind) in fired, event.describe()


def test_tool_wear_is_caught_before_any_part_is_out_of_spec(tool_wear: tuple[Rehearsal, Rehearsal]) -> None:
    worn, baseline = tool_wear
    onset, repair = 300.0, 2400.0  # 5 min and 40 min after the live start (simulated time)
    vibration = worn.first_alarm(f"{CNC2}/telemetry/vibration_rms", after_s=onset)
    assert vibration is not None
    assert vibration.at_s - onset < 300
    assert alarm_class(vibration.rules) == "spc"
    diameter = worn.first_alarm(f"{CNC2}/telemetry/diameter", after_s=onset)
    assert diameter is not None
    first_scrap = min(worn.scrap.get(f"acme/plant1/machining/line-1/{CNC2}", [repair]))
    assert diameter.at_s < first_scrap  # SPC warns before the parts go bad
    # the same seed without the worn tool raises neither alarm by then
    assert not baseline.alarms_on(f"{CNC2}/telemetry/vibration_rms", onset, vibration.at_s + 1)
    assert not baseline.alarms_on(f"{CNC2}/telemetry/diameter", onset, diameter.at_s + 1)
    assert not baseline.scrap


def test_a_sudden_shift_is_caught_at_once_and_a_small_one_later(sudden_shift: tuple[Rehearsal, Rehearsal]) -> None:
    shifted, baseline = sudden_shift
    fill = shifted.first_alarm(f"{FILLER}/telemetry/fill_weight", after_s=120.0)
    assert fill is not None
    assert fill.at_s - 120.0 <= 5.0
    assert fill.rules[0] in ("shock", "cusum_mean")
    assert not baseline.alarms_on(f"{FILLER}/telemetry/fill_weight", 120.0, 126.0)
    rejects = shifted.first_alarm(f"{FILLER}/telemetry/reject_count", after_s=120.0)
    assert rejects is not None
    assert rejects.rules == ("poisson",)  # a count: its own exact Poisson chart
    scrap = shifted.scrap[f"acme/plant1/packaging/line-2/{FILLER}"]
    assert sum(120 <= t < 360 for t in scrap) > 20 * sum(t < 120 or t >= 360 for t in scrap)
    small = shifted.first_alarm(f"{IMM}/telemetry/part_weight", after_s=420.0)
    assert small is not None
    assert 60.0 < small.at_s - 420.0 < 420.0  # found within the 7 minutes the shift lasts, but not at once
    assert not baseline.alarms_on(f"{IMM}/telemetry/part_weight", 420.0, small.at_s + 1)
    assert not baseline.alarms  # in control, the live part of this lecture raises nothing


def test_the_old_run_rules_cry_wolf_where_the_budget_design_is_quiet(
    sudden_shift: tuple[Rehearsal, Rehearsal], catalog: Catalog, default_plant: Plant
) -> None:
    _, designed = sudden_shift
    old = rehearse(default_plant, catalog, without_faults(scenario("sudden-shift")), only={FILLER, IMM},
                   detector="we", phase1_points=50)  # fmt: skip
    assert len(old.alarms) > 10 * max(1, len(designed.alarms))  # the lecture's "before": WE1-4 on every series
    assert any(set(a.rules) & RUN_RULES for a in old.alarms)


def test_a_breakdown_shows_in_oee(catalog: Catalog, default_plant: Plant) -> None:
    result = rehearse(default_plant, catalog, scenario("breakdown"))
    assert result.oee is not None
    imm = result.oee.machine(f"acme/plant1/packaging/line-2/{IMM}")
    filler = result.oee.machine(f"acme/plant1/packaging/line-2/{FILLER}")
    minutes = parse_duration("25m") / 60
    assert imm.availability == pytest.approx((minutes - 12) / minutes, abs=1e-6)
    assert imm.losses.breakdowns == pytest.approx(12 * 60)
    assert imm.failures == 1
    assert imm.mttr_s == pytest.approx(12 * 60)
    assert filler.availability == pytest.approx((minutes - 14) / minutes, abs=1e-6)
    assert filler.losses.small_stops == pytest.approx(14 * 60)  # waiting for caps (idle) and a 2-minute jam
    assert result.oee.get(Level.LINE, "machining/line-1").availability == 1.0
    line1, line2 = (
        result.oee.get(Level.LINE, "machining/line-1").oee,
        result.oee.get(Level.LINE, "packaging/line-2").oee,
    )
    assert line1 is not None
    assert line2 is not None
    assert line2 < 0.6 < line1


def test_the_lecturers_guide_covers_every_scenario_and_fault() -> None:
    guide = (ROOT / "docs" / "lecturer-guide.md").read_text()
    for path in SCENARIOS:
        assert f"### `{path.stem}`" in guide, f"docs/lecturer-guide.md lacks a section on {path.stem}"
    for kind in [*FAULT_KINDS, *MACHINE_FAULTS]:
        assert f"`{kind}`" in guide, f"docs/lecturer-guide.md does not explain the fault {kind}"
