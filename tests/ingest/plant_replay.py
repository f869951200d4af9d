"""Run a simulated plant straight into the live monitor, without a broker: births, states and readings in, alarms out.

`replay(...)` builds the plant's `Simulation` (seeded, optionally with a scenario), feeds every machine's birth
(`MachineInfo`), every state change and every reading to a `MonitorStage` exactly as ingestion would (readings
under their series ids, quality measurements included), calls `tick` once per simulated second, and returns every
alarm event with its class, detector and time. `python -m tests.ingest.plant_replay --seeds 20 --hours 2` prints
the in-control false-alarm rate per plant-hour and per series kind (no faults, no random stops, no calendar).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartfactory.ingest.episodes import MonitorEvent
from smartfactory.ingest.monitor import MonitorStage, load_limits_file
from smartfactory.model import Reading, StateChange
from smartfactory.plant import Plant, load_plant, resolve_plant_file
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog, discover
from smartfactory.sim.records import EventRec, PartRec, Sample, StateRec
from smartfactory.sim.scenario import Scenario
from smartfactory.wire import alarm_class

ROOT = Path(__file__).resolve().parents[2]
SIMULATORS = ROOT / "simulators"
START_MS = 1_767_600_000_000  # Monday 5 January 2026, 08:00 UTC
STEP_MS = 1000


@dataclass(slots=True)
class Replay:
    start_ms: int
    until_ms: int
    events: list[MonitorEvent] = field(default_factory=list)
    faults: list[EventRec] = field(default_factory=list)
    scrap: dict[str, list[int]] = field(default_factory=dict)  # machine path → scrap part times
    paths: list[str] = field(default_factory=list)
    monitor: MonitorStage | None = None

    @property
    def hours(self) -> float:
        return (self.until_ms - self.start_ms) / 3_600_000

    def raised(self, since_ms: int | None = None) -> list[MonitorEvent]:
        """Raises and escalations (each a detection) at or after `since_ms`."""
        low = self.start_ms if since_ms is None else since_ms
        return [e for e in self.events if e.kind in ("raise", "escalate") and e.alarm.ts_ms >= low]

    def first(self, suffix: str, since_ms: int, detectors: set[str] | None = None) -> MonitorEvent | None:
        for e in self.raised(since_ms):
            if e.alarm.series.endswith(suffix) and (detectors is None or set(e.alarm.rules) & detectors):
                return e
        return None


def replay(
    plant: Plant,
    catalog: Catalog,
    *,
    seed: int,
    hours: float,
    scenario: Scenario | None = None,
    warm_s: float = 0.0,
    auto_stops: bool = False,
    shifts: bool = False,
    monitor: Mapping[str, Any] | None = None,
    only: set[str] | None = None,
    inject: Callable[[Simulation, int], None] | None = None,
) -> Replay:
    """Run `hours` of the plant after `warm_s` of history (alarms counted after it) into a fresh monitor."""
    if only is not None:
        plant = plant.model_copy(update={"machines": tuple(m for m in plant.machines if m.path.machine in only)})
    start = START_MS
    sim = Simulation(
        plant, catalog, seed=seed, start_ms=start - round(warm_s * 1000), auto_stops=auto_stops, shifts=shifts,
        record_truth=False,
    )  # fmt: skip
    if scenario is not None:
        sim.schedule(scenario, start)
    if inject is not None:
        inject(sim, start)
    stage = MonitorStage(record_events=True, **dict(monitor or {}))
    for placed in sim.machines:
        stage.birth(str(placed.path), placed.info)
    out = Replay(start, start + round(hours * 3_600_000), paths=[str(m.path) for m in sim.machines], monitor=stage)
    prefixes = [m.telemetry_topic + "/" for m in sim.machines]
    paths = out.paths
    while sim.now_ms < out.until_ms:
        records = sim.advance(min(out.until_ms, sim.now_ms + STEP_MS))
        readings: list[Reading] = []
        states: list[StateChange] = []
        for record in records:
            if isinstance(record, Sample):
                prefix = prefixes[record.machine]
                readings.extend(Reading(prefix + k, record.ts, v) for k, v in record.values.items())
            elif isinstance(record, StateRec):
                states.append(StateChange(paths[record.machine], record.ts, record.state, record.reason))
            elif isinstance(record, EventRec):
                out.faults.append(record)
            elif isinstance(record, PartRec) and not record.good:
                out.scrap.setdefault(paths[record.machine], []).append(record.ts)
        stage.states(states)
        stage.observe(readings)
        stage.tick(sim.now_ms)
    out.events = [e for e in stage.take_events() if e.alarm.ts_ms >= start]
    return out


def kind_of(series: str, monitor: MonitorStage) -> str:
    """process, quality, count, or the alarm class for state and data-quality alarms."""
    facts = monitor._facts.get(series)
    return facts.kind if facts is not None else "other"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.ingest.plant_replay", description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--plant", default="default")
    parser.add_argument("--detector", default="budget")
    parser.add_argument("--no-limits-file", action="store_true", help="learn every limit (no shipped limits)")
    parser.add_argument("--set", action="append", default=[], help="monitor keyword=value (numbers)")
    args = parser.parse_args(argv)
    plant_file = resolve_plant_file(args.plant, SIMULATORS)
    plant = load_plant(plant_file)
    catalog = discover(SIMULATORS)
    settings: dict[str, Any] = {"detector": args.detector}
    limits = SIMULATORS / "limits" / f"{plant_file.stem}.toml"
    if limits.is_file() and not args.no_limits_file:
        settings["configured"] = load_limits_file(limits)
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = float(value) if "." in value else int(value)
    per_seed: list[int] = []
    clean_hours: list[bool] = []  # per seed and whole simulated hour: no false alarm in it
    by_kind: Counter[str] = Counter()
    by_detector: Counter[str] = Counter()
    series_hours = Counter[str]()
    t0 = time.perf_counter()
    hours = 0.0
    examples: list[str] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        result = replay(plant, catalog, seed=seed, hours=args.hours, monitor=settings)
        assert result.monitor is not None
        raised = result.raised()
        per_seed.append(len(raised))
        for hour in range(int(args.hours)):
            low, high = result.start_ms + hour * 3_600_000, result.start_ms + (hour + 1) * 3_600_000
            clean_hours.append(not any(low <= e.alarm.ts_ms < high for e in raised))
        hours += result.hours
        for e in raised:
            cls = alarm_class(e.alarm.rules)
            kind = kind_of(e.alarm.series, result.monitor) if cls == "spc" else cls
            by_kind[kind] += 1
            by_detector[e.detector] += 1
            if len(examples) < 12:
                at = (e.alarm.ts_ms - result.start_ms) / 60000
                where = e.alarm.series.split("/", 4)[-1]
                examples.append(f"seed {seed} +{at:.1f} min {e.kind} {where} {e.alarm.rules} {e.alarm.message[:90]}")
        for facts in result.monitor._facts.values():
            series_hours[facts.kind] += result.hours
    zero = sum(1 for n in per_seed if n == 0)
    print(
        json.dumps(
            {
                "seeds": args.seeds,
                "hours_per_seed": args.hours,
                "settings": {k: v for k, v in settings.items() if k != "configured"},
                "limits_file": "configured" in settings,
                "false_alarms": sum(per_seed),
                "per_plant_hour": round(sum(per_seed) / hours, 3),
                "per_seed": per_seed,
                "seeds_without_false_alarm": zero,
                "hours_without_false_alarm": f"{sum(clean_hours)}/{len(clean_hours)}",
                "median_per_seed": statistics.median(per_seed),
                "by_kind_per_hour": {k: round(v / hours, 3) for k, v in sorted(by_kind.items())},
                "by_detector": dict(sorted(by_detector.items())),
                "cpu_s": round(time.perf_counter() - t0, 1),
            },
            indent=2,
        )
    )
    for line in examples:
        print(line)


if __name__ == "__main__":
    main()
