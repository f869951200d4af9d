"""Rehearse a scenario without a broker: what will the audience see, and when? (A test harness: it joins the
simulator to ingestion's SPC monitor, which no module of the package does, so it lives with the tests.)

`rehearse` runs a scenario exactly as `smartfactory demo --scenario NAME` would (same seed, backfill, events),
feeds every birth, state change and reading through the same monitor the ingestion service runs
(`ingest.monitor.MonitorStage` with the default settings and the plant's shipped limits file; `detector="we"` for
the old Western Electric chart), and reports the alarms raised (and escalated) after the live start,
the detection delay of each fault, the scrap, and the ground-truth OEE of the live part. The lecturer's guide
quotes its numbers; the tests check that each lecture scenario keeps telling its story. From the repository's
root, `python -m tests.sim.rehearse tool-wear` prints what a scenario of `simulators/scenarios/` shows.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory.ingest.monitor import MonitorStage, load_limits_file
from smartfactory.kpi import OeeReport
from smartfactory.model import Reading, StateChange
from smartfactory.plant import Plant, load_plant, resolve_plant_file
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog, discover
from smartfactory.sim.records import EventRec, PartRec, Sample, StateRec
from smartfactory.sim.scenario import Scenario, load_scenario, resolve_scenario_file

#: The default plant's shipped limits file (what `smartfactory demo` uses).
SHIPPED_LIMITS = Path(__file__).resolve().parents[2] / "simulators" / "limits" / "default.toml"
#: Monday 5 January 2026, 08:00 UTC: a fixed start so that rehearsals are repeatable.
REHEARSAL_START_MS = 1_767_600_000_000


@dataclass(frozen=True, slots=True)
class SeenAlarm:
    series: str
    at_s: float  # seconds after the live start
    rules: tuple[str, ...]
    value: float | None


@dataclass(frozen=True, slots=True)
class SeenEvent:
    machine: str
    at_s: float
    kind: str
    fault: str
    sensor: str | None


@dataclass(slots=True)
class Rehearsal:
    live_start_ms: int
    events: list[SeenEvent] = field(default_factory=list)
    alarms: list[SeenAlarm] = field(default_factory=list)
    scrap: dict[str, list[float]] = field(default_factory=dict)  # machine → times (s after live start)
    oee: OeeReport | None = None

    def alarms_on(self, series_suffix: str, after_s: float = 0.0, before_s: float = float("inf")) -> list[SeenAlarm]:
        """Alarms on series ending with `series_suffix` (e.g. "cnc-02/telemetry/vibration_rms") in a window."""
        return [a for a in self.alarms if a.series.endswith(series_suffix) and after_s <= a.at_s < before_s]

    def first_alarm(self, series_suffix: str, after_s: float = 0.0) -> SeenAlarm | None:
        found = self.alarms_on(series_suffix, after_s)
        return found[0] if found else None


def rehearse(
    plant: Plant,
    catalog: Catalog,
    scenario: Scenario,
    *,
    seed: int | None = None,
    start_ms: int = REHEARSAL_START_MS,
    phase1_points: int = 500,
    detector: str = "budget",
    rules: str = "we",
    duration_s: float | None = None,
    only: set[str] | None = None,
    limits_file: Path | None = SHIPPED_LIMITS,
) -> Rehearsal:
    """Run `scenario` on `plant` (backfill, then the live part) and watch it with the live SPC monitor.

    `only` keeps just the machines with these names (every machine's data depends only on the seed and its
    own path, so their results are the same as in the whole plant, only faster).
    """
    if only is not None:
        plant = plant.model_copy(update={"machines": tuple(m for m in plant.machines if m.path.machine in only)})
    backfill_ms = round((scenario.backfill_s or 0.0) * 1000)
    sim = Simulation(
        plant,
        catalog,
        seed=seed if seed is not None else scenario.seed if scenario.seed is not None else 42,
        start_ms=start_ms - backfill_ms,
        auto_stops=scenario.auto_stops is not False,
        shifts=scenario.shifts is not False,
        record_truth=True,
    )
    sim.schedule(scenario, start_ms)
    configured = load_limits_file(limits_file) if limits_file is not None and limits_file.is_file() else {}
    monitor = MonitorStage(detector=detector, phase1_points=phase1_points, rules=rules, configured=configured)
    for placed in sim.machines:
        monitor.birth(str(placed.path), placed.info)
    result = Rehearsal(start_ms)
    length_s = duration_s or scenario.duration_s or max((e.at_s for e in scenario.events), default=0.0) + 300.0
    until = start_ms + round(length_s * 1000)
    prefixes = [m.telemetry_topic + "/" for m in sim.machines]
    paths = [str(m.path) for m in sim.machines]
    while sim.now_ms < until:
        records = sim.advance(min(until, sim.now_ms + 10_000))
        readings: list[Reading] = []
        states: list[StateChange] = []
        for record in records:
            at_s = (record.ts - start_ms) / 1000.0
            if isinstance(record, Sample):
                prefix = prefixes[record.machine]
                readings.extend(Reading(prefix + k, record.ts, v) for k, v in record.values.items())
            elif isinstance(record, StateRec):
                states.append(StateChange(paths[record.machine], record.ts, record.state, record.reason))
            elif isinstance(record, EventRec) and at_s >= 0:
                result.events.append(SeenEvent(paths[record.machine], at_s, record.kind, record.fault, record.sensor))
            elif isinstance(record, PartRec) and not record.good and at_s >= 0:
                result.scrap.setdefault(paths[record.machine], []).append(at_s)
        alarms = monitor.states(states) + monitor.observe(readings) + monitor.tick(sim.now_ms)
        for alarm in alarms:
            at_s = (alarm.ts_ms - start_ms) / 1000.0
            if alarm.active and at_s >= 0:
                result.alarms.append(SeenAlarm(alarm.series, at_s, alarm.rules, alarm.value))
    result.oee = sim.ground_truth(start_ms, until)
    return result


def main(argv: list[str] | None = None) -> None:
    """`python -m tests.sim.rehearse SCENARIO [--plant NAME] [--sim-dir DIR]`: alarms, faults and OEE."""
    parser = argparse.ArgumentParser(prog="python -m tests.sim.rehearse", description=main.__doc__)
    parser.add_argument("scenario", help="a scenario name in simulators/scenarios/ or a .yaml file")
    parser.add_argument("--plant", default=None, help="plant name or .toml file (default: the scenario's, or default)")
    parser.add_argument("--sim-dir", type=Path, default=Path("simulators"))
    args = parser.parse_args(argv)
    scenario = load_scenario(resolve_scenario_file(args.scenario, args.sim_dir))
    plant = load_plant(resolve_plant_file(args.plant or scenario.plant or "default", args.sim_dir))
    result = rehearse(plant, discover(args.sim_dir), scenario)
    for event in result.events:
        print(f"{event.at_s / 60:6.1f} min  {event.kind:<6} {event.fault:<16} {event.machine} {event.sensor or ''}")
    for alarm in result.alarms:
        print(f"{alarm.at_s / 60:6.1f} min  alarm  {','.join(alarm.rules):<16} {alarm.series}")
    if result.oee is not None:
        for row in result.oee.to_dicts():
            keys = ("availability", "performance", "quality", "oee")
            figures = "  ".join(f"{k} {row[k]:.1%}" for k in keys if row[k] is not None)
            print(f"OEE {row['level']:<7} {row['name']:<45} {figures}")


if __name__ == "__main__":
    main()
