"""bench/alarm_scorecard.py in its reduced mode: the JSON it prints, and the counterfactual check it relies on
(a run without the fault, scored as if the fault had happened, credits nothing)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from types import ModuleType

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
BENCH = ROOT / "bench" / "alarm_scorecard.py"


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("alarm_scorecard", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["alarm_scorecard"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_reduced_run_prints_the_scorecard() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--seeds",
            "2",
            "--hours",
            "0.25",
            "--cases",
            "in-control,sudden-shift",
            "--trap-streams",
            "2",
            # one process: its detector designs (seconds of CPU each, cached per process) and its imports are paid
            # once, not again in each of two spawned workers; the runs are seeded, so the scorecard is the same
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    in_control = data["in_control"]
    assert (in_control["runs"], in_control["hours"]) == (2, 0.5)
    rate = in_control["plant_false_alarms_per_hour"]
    assert rate["value"] == pytest.approx(in_control["false_alarms"] / 0.5, abs=1e-3)
    assert rate["goal"] == "≤ 1 false alarm per plant-hour"
    assert rate["met"] is (rate["value"] <= 1.0)
    assert {"process", "quality", "count"} <= set(in_control["by_kind"])
    process = in_control["by_kind"]["process"]
    assert process["points"] > 0
    assert (process["arl0_points"] is None) == (process["false_alarms"] == 0)
    live = data["scenarios_live_part"]["sudden-shift"]
    assert live["runs"] == 2
    assert 0.0 <= live["zero_false_alarm_fraction"]["value"] <= 1.0
    fill = data["faults"]["sudden-shift: filler-01 shift on fill_weight"]
    assert fill["runs"] == 2
    assert fill["signals"]
    assert {
        "detected_fraction",
        "arl1_median_s",
        "arl1_p90_s",
        "arl1_median_parts",
        "scrap_before_detection_median",
    } <= set(fill)
    goal = data["goals"]["part_3sigma_s [sudden-shift: filler-01 shift on fill_weight]"]
    assert goal["goal"].startswith("3σ step on a part characteristic")
    assert goal["value"] == fill["arl1_median_s"]
    (timeline,) = data["timelines"].values()  # sudden-shift at its own seed, what `demo --scenario` shows
    assert [d["fault"] for d in timeline["detections"]] == [
        "filler-01 shift on fill_weight",
        "imm-01 shift on part_weight",
    ]
    assert len(timeline["events"]) == 4
    trap = data["autocorrelation_trap"]
    assert trap["phi"] > 0
    assert trap["series"].endswith("/telemetry/" + trap["series"].rsplit("/", 1)[-1])
    # plain Shewhart limits from MR̄ on an autocorrelated signal: far more false alarms than on independent data
    assert trap["autocorrelated"]["we_rules_individuals_chart"] > 2 * trap["independent"]["we_rules_individuals_chart"]


def test_the_counterfactual_credits_nothing_when_the_fault_is_absent() -> None:
    """The same seed without the fault, given the fault's ground-truth events: every alarm on the faulty
    signals happens anyway, so nothing is credited; plain pairing (no counterfactual) credits what falls in the
    episode. The first round's WE-rules monitor raises enough alarms to make that difference visible."""
    b = bench()
    from smartfactory.plant import load_plant, resolve_plant_file
    from smartfactory.sim.loader import discover

    plant = load_plant(resolve_plant_file("default", b.SIM_DIR))
    catalog = discover(b.SIM_DIR)
    scenario = b.shipped_scenarios()["sudden-shift"]
    faulty = b.simulate(plant, catalog, scenario, 3, detector="we-rules")
    without = b.simulate(plant, catalog, scenario, 3, detector="we-rules", with_faults=False)
    assert [e.fault for e in faulty.events if e.kind == "fault"] == ["shift", "shift"]
    assert not [e for e in without.events if e.kind == "fault"]
    pretend = replace(without, events=faulty.events)  # the fault "happened", but the data are those without it

    checked = b.score("x", 3, pretend, without)
    assert [f["detected"] for f in checked["faults"]] == [False, False]
    assert checked["knock_on"] == 0
    plain = b.score("x", 3, pretend, None)
    assert any(f["detected"] for f in plain["faults"])  # coincidences: what the old report credited
    coincidences = sum(f["coincident"] for f in checked["faults"])
    assert coincidences > 0
    assert checked["false_alarms"] == plain["false_alarms"] + coincidences  # no longer credited: false alarms

    real = b.score("x", 3, faulty, without)
    assert real["faults"][0]["detected"]  # the 3σ fill-weight shift itself is credited
