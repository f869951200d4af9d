"""The engine: states from MTBF/MTTR and the calendar, cycles and parts, faults at exact instants, robustness."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import pytest

from smartfactory.sim import Characteristic, Context, Machine, Sensor, StateModel
from smartfactory.sim.engine import Action, Simulation
from smartfactory.sim.loader import Catalog, MachineType
from smartfactory.sim.records import EventRec, PartRec, Record, Sample, StateRec, StatusRec
from smartfactory.sim.scenario import parse_scenario
from smartfactory.wire import MachinePath, MessageClass
from tests.sim.conftest import HOUR, MIN, T0, MakeSim, one_machine_plant


class Press(Machine):
    """A slow test press: one sample a minute, a part every 10 minutes, failures every hour."""

    sample_interval_s = 60.0
    ideal_cycle_s = 600.0
    sensors: ClassVar[dict[str, Any]] = {"force": Sensor("kN", nominal=100.0, sd=0.0, idle=0.0)}
    quality: ClassVar[dict[str, Any]] = {"height": Characteristic("mm", target=5.0, sd=0.01, lsl=4.9, usl=5.1)}
    state_model = StateModel(mtbf_s=3600.0, mttr_s=600.0, speed_loss=0.1, cycle_cv=0.05)


class Gauge(Machine):
    """A test machine without noise and without stops."""

    sample_interval_s = 1.0
    ideal_cycle_s = 10.0
    sensors: ClassVar[dict[str, Any]] = {"level": Sensor("mm", nominal=10.0)}
    state_model = StateModel(speed_loss=0.0, cycle_cv=0.0)


class Fragile(Machine):
    """Raises in its sample hook after a few ticks, like a student's bug."""

    sample_interval_s = 1.0
    sensors: ClassVar[dict[str, Any]] = {"x": Sensor("V", nominal=1.0)}

    def sample(self, ctx: Context) -> dict[str, float]:
        if ctx.t_s >= 5:
            raise ZeroDivisionError("division by zero")
        return super().sample(ctx)


def catalog_of(*classes: type[Machine]) -> Catalog:
    catalog = Catalog()
    for cls in classes:
        catalog.add(MachineType(cls.__name__.lower(), cls, "tests"))
    return catalog


def of_machine(records: list[Record], machine: int, kind: type) -> list:  # type: ignore[type-arg]
    return [r for r in records if r.machine == machine and isinstance(r, kind)]


def test_breakdowns_follow_mtbf_and_mttr_as_the_oee_engine_measures_them() -> None:
    sim = Simulation(one_machine_plant("press"), catalog_of(Press), seed=3, start_ms=T0, record_truth=True)
    sim.advance(T0 + 600 * HOUR)
    row = sim.ground_truth().machine("test/s/a/line-1/m1")
    # ~510 failures: MTBF within ±4 standard errors (exponential: se = mean/√n ≈ 4.4 %), MTTR likewise
    # (log-normal with cv 0.5: se ≈ 2.2 %), availability = MTBF / (MTBF + MTTR) = 6/7
    assert row.failures > 400
    assert row.mtbf_s == pytest.approx(3600.0, rel=0.18)
    assert row.mttr_s == pytest.approx(600.0, rel=0.09)
    assert row.availability == pytest.approx(6 / 7, abs=0.02)
    # cycles take ideal × (1 + 10 %) on average and never less than the ideal
    assert row.performance == pytest.approx(1 / 1.1, abs=0.01)
    assert not row.performance_capped


def test_parts_come_only_while_running_and_sensors_show_the_stop(make_sim: MakeSim) -> None:
    sim = Simulation(one_machine_plant("press"), catalog_of(Press), seed=4, start_ms=T0)
    records = sim.advance(T0 + 100 * HOUR)
    states = of_machine(records, 0, StateRec)
    spans = [(s.ts, nxt.ts, s.state) for s, nxt in itertools.pairwise(states)]
    assert {state for *_, state in spans} == {"running", "down"}
    for part in of_machine(records, 0, PartRec):
        assert any(lo < part.ts <= hi and state == "running" for lo, hi, state in spans) or part.ts > spans[-1][0]
    for sample in of_machine(records, 0, Sample):
        if not sample.tick:
            continue
        state = next((st for lo, hi, st in spans if lo <= sample.ts < hi), "running")
        assert sample.values["force"] == (100.0 if state == "running" else 0.0)


def test_state_changes_are_unique_per_instant_and_always_a_change(make_sim: MakeSim) -> None:
    sim = make_sim(seed=8)
    records = sim.advance(T0 + 8 * HOUR)
    by_machine: dict[int, list[StateRec]] = defaultdict(list)
    for record in records:
        if isinstance(record, StateRec):
            by_machine[record.machine].append(record)
    reasons = set()
    for changes in by_machine.values():
        assert all(a.ts < b.ts for a, b in itertools.pairwise(changes))
        assert all((a.state, a.reason) != (b.state, b.reason) for a, b in itertools.pairwise(changes))
        reasons |= {(c.state, c.reason) for c in changes}
    assert {("planned", "break"), ("running", None), ("down", "jam"), ("down", "tool_change")} <= reasons
    assert [r.ts for r in records] == sorted(r.ts for r in records)  # one stream in time order


def test_the_calendar_decides_planned_time(catalog: Catalog) -> None:
    plant = one_machine_plant(
        "gauge",
        """
        [calendar]
        timezone = "UTC"
        [[calendar.shifts]]
        name = "early"
        start = "06:00"
        end = "14:00"
        days = ["mon", "tue", "wed", "thu", "fri"]
        breaks = [{start = "10:00", end = "10:30"}]
        """,
    )
    sim = Simulation(plant, catalog_of(Gauge), seed=1, start_ms=T0 - 3 * HOUR)  # Monday 05:00 UTC
    records = sim.advance(T0 + 24 * HOUR)
    states = [(r.ts - T0, r.state, r.reason) for r in of_machine(records, 0, StateRec)]
    assert states == [
        (-3 * HOUR, "planned", "no_orders"),
        (-2 * HOUR, "running", None),  # 06:00
        (2 * HOUR, "planned", "break"),  # 10:00
        (2 * HOUR + 30 * MIN, "running", None),
        (6 * HOUR, "planned", "no_orders"),  # 14:00
        (22 * HOUR, "running", None),  # Tuesday 06:00
    ]
    parts = of_machine(records, 0, PartRec)
    assert parts[0].ts - T0 == -2 * HOUR + 10_000  # the first cycle after the shift start
    assert not [p for p in parts if 2 * HOUR < p.ts - T0 < 2 * HOUR + 30 * MIN]  # none during the break


def test_a_state_change_comes_before_the_readings_sampled_at_its_instant() -> None:
    # The break starts at 10:00 exactly, on a sampling tick: that tick is taken in the new state (force 0), so a
    # reader that gates readings by the state records it has seen must get the state record first (a reading of
    # the stopped machine that arrives while it is still "running" looks like a shock on every signal).
    plant = one_machine_plant(
        "press",
        """
        [calendar]
        timezone = "UTC"
        [[calendar.shifts]]
        name = "early"
        start = "06:00"
        end = "14:00"
        days = ["mon", "tue", "wed", "thu", "fri"]
        breaks = [{start = "10:00", end = "10:30"}]
        """,
    )
    sim = Simulation(plant, catalog_of(Press), seed=2, start_ms=T0 + HOUR, auto_stops=False)
    records = sim.advance(T0 + 3 * HOUR)
    changes = [(i, r) for i, r in enumerate(records) if isinstance(r, StateRec)]
    assert [(r.ts - T0, r.state) for _, r in changes] == [
        (HOUR, "running"), (2 * HOUR, "planned"), (2 * HOUR + 30 * MIN, "running")
    ]  # fmt: skip
    for at, change in changes:
        ticks = [i for i, r in enumerate(records) if isinstance(r, Sample) and r.tick and r.ts == change.ts]
        assert len(ticks) == 1
        assert ticks[0] > at
        assert records[ticks[0]].values["force"] == (0.0 if change.state == "planned" else 100.0)


def test_drift_does_not_grow_while_the_machine_is_down() -> None:
    sim = Simulation(one_machine_plant("gauge"), catalog_of(Gauge), seed=1, start_ms=T0)
    sim.at(T0 + 10_000, Action(0, "inject", "drift", "level", {"rate": 0.5}))
    sim.at(T0 + 20_000, Action(0, "inject", "stop", None, {"state": "down", "reason": "jam", "duration": 30.0}))
    records = sim.advance(T0 + 60_000)
    level = {(s.ts - T0) // 1000: s.values["level"] for s in of_machine(records, 0, Sample)}
    assert level[10] == 10.0
    assert level[20] == pytest.approx(15.0)  # 10 operating seconds × 0.5
    assert all(level[t] == pytest.approx(15.0) for t in range(20, 51))  # frozen while down
    assert level[55] == pytest.approx(17.5)


def test_injected_breakdown_and_its_repair_are_ground_truth_at_exact_instants() -> None:
    sim = Simulation(one_machine_plant("gauge"), catalog_of(Gauge), seed=1, start_ms=T0)
    sim.at(T0 + 12_345, Action(0, "inject", "breakdown", None, {"duration": 300.0}))
    records = sim.advance(T0 + 10 * MIN)
    events = of_machine(records, 0, EventRec)
    assert [(e.ts - T0, e.kind, e.fault) for e in events] == [
        (12_345, "fault", "breakdown"),
        (312_345, "repair", "breakdown"),
    ]
    states = [(s.ts - T0, s.state, s.reason) for s in of_machine(records, 0, StateRec)]
    assert states == [(0, "running", None), (12_345, "down", "breakdown"), (312_345, "running", None)]


def test_clear_repairs_an_open_breakdown_and_every_fault() -> None:
    sim = Simulation(one_machine_plant("gauge"), catalog_of(Gauge), seed=1, start_ms=T0)
    sim.at(T0 + 1_000, Action(0, "inject", "breakdown", None, {}))  # no duration: a log-normal repair time
    sim.at(T0 + 1_000, Action(0, "inject", "shift", "level", {"size": 1.0}))
    sim.at(T0 + 2_000, Action(0, "clear"))
    records = sim.advance(T0 + 5_000)
    assert [(e.ts - T0, e.kind, e.fault) for e in of_machine(records, 0, EventRec)] == [
        (1_000, "fault", "breakdown"),
        (1_000, "fault", "shift"),
        (2_000, "repair", "shift"),
        (2_000, "repair", "breakdown"),
    ]
    assert of_machine(records, 0, StateRec)[-1].state == "running"


def test_live_commands_apply_at_the_instant_the_simulation_has_reached(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.advance(T0 + 90_500)
    path = sim.machines[1].path
    payload = json.dumps({"action": "inject", "fault": "slowdown", "params": {"factor": 2}}).encode()
    sim.command(path.topic(MessageClass.CMD), payload)
    sim.command(path.topic(MessageClass.CMD), b"{not json")  # ignored with a warning
    sim.command(MachinePath("x", "y", "z", "w", "v").topic(MessageClass.CMD), payload)  # not ours: ignored
    records = sim.advance(T0 + 100_000)
    events = [r for r in records if isinstance(r, EventRec)]
    assert [(e.machine, e.ts, e.fault, e.params) for e in events] == [(1, T0 + 90_500, "slowdown", {"factor": 2.0})]
    assert sim.machines[1].run.slowdown == 2.0


def test_bad_injections_are_ignored_without_stopping_anything(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.at(T0 + 1_000, Action(0, "inject", "wobble", "power", {}))
    sim.at(T0 + 1_000, Action(0, "inject", "stop", None, {"state": "dancing"}))
    records = sim.advance(T0 + 10_000)
    events = [r for r in records if isinstance(r, EventRec)]
    assert [(e.kind, e.fault, e.ts) for e in events] == [
        ("rejected", "wobble", T0 + 1_000),
        ("rejected", "stop", T0 + 1_000),
    ]
    assert "unknown fault 'wobble'" in str(events[0].params["reason"])  # the answer `smartfactory inject` prints
    assert "choose one of down, idle, setup, planned" in str(events[1].params["reason"])
    assert len(of_machine(records, 0, Sample)) == 10


def test_out_of_range_parameters_and_empty_clears_are_rejected_with_a_reason(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.at(T0 + 1_000, Action(0, "inject", "spikes", "power", {"prob": 1.5}))
    sim.at(T0 + 1_000, Action(0, "inject", "shift", "power", {"siz": 5.0}))
    sim.at(T0 + 2_000, Action(0, "clear"))
    records = sim.advance(T0 + 10_000)
    reasons = [(e.fault, str(e.params["reason"])) for e in records if isinstance(e, EventRec)]
    assert [fault for fault, _ in reasons] == ["spikes", "shift", "clear"]
    assert "prob=1.5: out of range, allowed 0 … 1" in reasons[0][1]
    assert "shift takes size, sigmas, not siz" in reasons[1][1]
    assert "nothing to clear" in reasons[2][1]
    assert all(e.kind == "rejected" for e in records if isinstance(e, EventRec))


def test_a_broken_student_machine_goes_offline_and_the_others_keep_running() -> None:
    plant = one_machine_plant("fragile")
    plant = plant.model_copy(
        update={"machines": (*plant.machines, *one_machine_plant("gauge", line="line-2").machines)}
    )
    sim = Simulation(plant, catalog_of(Fragile, Gauge), seed=1, start_ms=T0)
    records = sim.advance(T0 + 20_000)
    fragile, _gauge = sim.machines
    assert fragile.run.broken is not None
    assert "ZeroDivisionError: division by zero" in fragile.run.broken
    assert Path(__file__).name in fragile.run.broken  # file:line of the hook that raised
    assert [s.ts - T0 for s in of_machine(records, 0, Sample)] == [0, 1000, 2000, 3000, 4000]
    assert of_machine(records, 0, StatusRec) == [StatusRec(0, T0 + 5_000, "offline")]
    assert len(of_machine(records, 1, Sample)) == 20


def test_unknown_machine_types_are_skipped_and_reported(catalog: Catalog) -> None:
    plant = one_machine_plant("cnc_mill")
    plant = plant.model_copy(
        update={"machines": (*plant.machines, *one_machine_plant("no_such_type", line="l2").machines)}
    )
    sim = Simulation(plant, catalog, seed=1, start_ms=T0)
    assert [m.path.machine for m in sim.machines] == ["m1"]
    assert "unknown machine type 'no_such_type'" in sim.problems[0]


def test_scenario_events_fire_at_their_time_after_the_live_start(make_sim: MakeSim) -> None:
    scenario = parse_scenario(
        """
        events:
          - {at: 90s, machine: line-1/cnc-02, inject: drift, sensor: diameter, params: {per_hour: 0.01}}
          - {at: 2m, machine: filler-01, clear: true}
          - {at: 1m, machine: acme/plant1/packaging/line-2/filler-01, inject: variance, sensor: fill_weight}
        """
    )
    sim = make_sim()
    sim.schedule(scenario, T0 + HOUR)
    records = sim.advance(T0 + HOUR + 3 * MIN)
    events = [
        (r.ts - T0 - HOUR, sim.machines[r.machine].path.machine, r.kind, r.fault)
        for r in records
        if isinstance(r, EventRec)
    ]
    assert events == [
        (60_000, "filler-01", "fault", "variance"),
        (90_000, "cnc-02", "fault", "drift"),
        (120_000, "filler-01", "repair", "variance"),
    ]


def test_scenarios_naming_unknown_or_ambiguous_machines_fail_at_once(make_sim: MakeSim) -> None:
    sim = make_sim()
    with pytest.raises(Exception, match="matches no machine"):
        sim.schedule(parse_scenario("events: [{at: 1, machine: cnc-09, clear: true}]"), T0)
    plant = one_machine_plant("gauge")
    twins = plant.model_copy(
        update={"machines": (*plant.machines, *one_machine_plant("gauge", line="line-2").machines)}
    )
    with pytest.raises(Exception, match="matches several machines"):
        Simulation(twins, catalog_of(Gauge), seed=1, start_ms=T0).schedule(
            parse_scenario("events: [{at: 1, machine: m1, clear: true}]"), T0
        )
