"""Alarm scorecard: every scenario, every catalogue fault and the plant in control, over many seeds, each faulty
run scored against the same-seed run without its faults.

Each run goes the way `smartfactory demo --scenario` goes, minus the broker and the pacing (speed 0): the
simulation engine's records are encoded into wire messages (`sim.encode.Encoder`: births, the backfill in batches
as the runner sends it, the live part one message per machine and sampling instant), decoded by ingestion's
decoder (`ingest.decode.Decoder`) and fed to its monitor (`ingest.monitor.MonitorStage`, default settings: births,
state records, readings, periodic ticks), in process. `smartfactory.query.detection.detection_report` then pairs
the ground-truth fault events with the alarms on the signals each fault affects, crediting an alarm only when the
counterfactual run (same seed, same timing, no faults) did not raise it too. Prints one JSON document; each goal
figure stands beside its goal (issue 12) and whether it is met. Usage::

    python bench/alarm_scorecard.py                                  # 40 seeds, 2 workers (~10 min)
    python bench/alarm_scorecard.py --seeds 2 --hours 0.25 --cases in-control,sudden-shift    # a smoke run
    python bench/alarm_scorecard.py --section timelines              # each scenario at its own seed, alarm by alarm
    python bench/alarm_scorecard.py --section autocorrelation        # the autocorrelation trap
    python bench/alarm_scorecard.py --detector we-rules              # the first round's WE-rules chart instead

Cases: `in-control` (the shipped plant in the lecture conditions: no faults, no random stops, no calendar; a
1 h backfill, then `--hours` counted), `default-plant` (random stops and breakdowns, calendar on: breakdowns
are ground-truth faults, other stops are counted apart), each scenario of simulators/scenarios/ (its own
backfill, duration and events, seeds 1…N instead of its own seed; false alarms counted in its live part) and
`catalogue`: every fault of the lecturer's guide injected 2 min after the live start of a 1 h backfill, in rounds
of at most one fault per machine (machines' data are independent, so a round's faults do not interfere and one
counterfactual serves every round of a seed).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Alarm, FaultEvent, LimitsVersion, Reading
from smartfactory.plant import Plant, load_plant, resolve_plant_file
from smartfactory.query.detection import DetectionReport, Span, detection_report, plant_of
from smartfactory.sim.encode import Encoder, Outgoing, status_payload
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog, discover
from smartfactory.sim.runner import BATCH_TICKS, CHUNK_S
from smartfactory.sim.scenario import Scenario, ScenarioEvent, load_scenario
from smartfactory.wire import MachineInfo, MessageClass, SeriesId, parse_series

if TYPE_CHECKING:
    from smartfactory.storage import Storage

ROOT = Path(__file__).resolve().parents[1]
SIM_DIR = ROOT / "simulators"
#: Monday 5 January 2026, 08:00 UTC: every live part starts here (the calendar is off in the lecture conditions).
LIVE_START_MS = 1_767_600_000_000
HOUR_MS = 3_600_000
CATALOGUE_BACKFILL_S = 3600.0
CATALOGUE_AT_S = 120.0
CATALOGUE_LENGTH_S = 20 * 60.0
CHUNK_MS = round(CHUNK_S * 1000)

#: Every fault of the lecturer's guide, in rounds of at most one fault per machine: (machine, fault, sensor, params).
CATALOGUE: tuple[tuple[tuple[str, str, str | None, dict[str, float | str]], ...], ...] = (
    (
        ("cnc-01", "shift", "power", {"sigmas": 3}),
        ("cnc-02", "shift", "diameter", {"sigmas": 3}),
        ("imm-01", "shift", "part_weight", {"sigmas": 1}),
        ("filler-01", "shift", "fill_weight", {"sigmas": 3}),
    ),
    (
        ("cnc-01", "stuck", "spindle_temp", {}),
        ("cnc-02", "drift", "vibration_rms", {"sigmas_per_hour": 6}),
        ("imm-01", "dropout", "mould_temp", {"prob": 1}),
        ("filler-01", "variance", "motor_current", {"factor": 2}),
    ),
    (
        ("cnc-01", "spikes", "spindle_speed", {}),
        ("cnc-02", "bearing_damage", None, {"k": 1}),
        ("imm-01", "growing_variance", "melt_temp", {"per_hour": 2}),
        ("filler-01", "dropout", "conveyor_speed", {"prob": 0.5}),
    ),
    (
        ("cnc-01", "cycle", "power", {"sigmas": 2, "period_s": 600}),
        ("cnc-02", "warmup", "spindle_temp", {"sigmas": 3, "tau_s": 600}),
        ("imm-01", "slowdown", None, {"factor": 1.3}),  # the moulder measures its cycle time (a characteristic)
        ("filler-01", "stop", None, {"state": "down", "reason": "jam", "duration": 120}),
    ),
    (
        ("cnc-01", "tool_wear", None, {"k": 2}),
        ("imm-01", "breakdown", None, {"duration": 600}),
        ("filler-01", "spikes", "motor_current", {"prob": 0.02, "sigmas": 6}),
    ),
)


# ----------------------------------------------------------------------------------------------- goals


@dataclass(frozen=True)
class Goal:
    text: str
    check: Callable[[float], bool]

    def judge(self, value: float | None) -> dict[str, Any]:
        return {"goal": self.text, "met": None if value is None else bool(self.check(value))}


GOALS = {
    "plant_fa_per_hour": Goal("≤ 1 false alarm per plant-hour", lambda v: v <= 1.0),
    "zero_fa_fraction": Goal("zero false alarms in ≥ 80 % of the runs", lambda v: v >= 0.8),
    "part_3sigma_s": Goal("3σ step on a part characteristic: median ≤ 5 s (≤ 3 parts)", lambda v: v <= 5.0),
    "part_weight_1sigma_s": Goal("1σ step on part_weight: median ≤ 300 s", lambda v: v <= 300.0),
    "tool_wear_before_scrap": Goal("tool wear detected before the first scrap part in ≥ 18/20", lambda v: v >= 0.9),
    "stop_delay_s": Goal("stops and breakdowns: delay 0", lambda v: v <= 0.0),
    "stuck_s": Goal("stuck sensor ≤ 15 s", lambda v: v <= 15.0),
    "silent_s": Goal("silent sensor ≤ 60 s", lambda v: v <= 60.0),
    "process_3sigma_s": Goal("3σ shift on a 1 Hz process signal ≤ 10 s", lambda v: v <= 10.0),
    "catalogue_detected": Goal("every catalogue fault detected in ≥ 19/20", lambda v: v >= 0.95),
}


# ----------------------------------------------------------------------------------------------- one run


class _NewStore:
    """What `build_monitor` reads of a store that ingestion has not written yet: no limits, no births."""

    def read_limits(self) -> list[LimitsVersion]:
        return []

    def read_machine_info(self) -> dict[str, MachineInfo]:
        return {}


def make_monitor(detector: str) -> MonitorStage:
    """The monitor exactly as `smartfactory ingest` assembles it (`services.build_monitor`) with default settings
    (`default`: detectors designed to the alarm budget, the plant's shipped limits file), or the first round's
    individuals chart with Western Electric rules, limits learned from 50 readings (`we-rules`)."""
    from smartfactory.services import build_monitor
    from smartfactory.settings import load_settings

    if detector == "default":
        spc: dict[str, Any] = {}
    elif detector == "we-rules":
        spc = {"detector": "we", "phase1_points": 50, "rules": "we", "shipped_limits": False}
    else:
        raise SystemExit(f"unknown detector {detector!r}: default or we-rules")
    settings = load_settings(sim={"dir": SIM_DIR, "plant": "default"}, spc=spc)
    monitor = build_monitor(settings, cast("Storage", _NewStore()))
    if monitor is None:
        raise SystemExit("the settings switch the live monitor off (SMARTFACTORY_SPC__RULES=none)")
    return monitor


@dataclass
class RunRecord:
    """What one run produced, kept small (it travels between processes)."""

    live_start_ms: int
    until_ms: int
    events: list[FaultEvent]
    alarms: list[Alarm]  # raises and escalations (the newest version of each alarm id), from the first reading
    parts: dict[str, list[tuple[int, bool]]]  # machine → (ts, good) of the live part
    points: Counter[str]  # readings per series in the live part
    kinds: dict[str, str]  # series → signal kind from the births
    limits: dict[str, LimitsVersion] = field(default_factory=dict)  # the newest limits version per series
    oee: list[dict[str, Any]] = field(default_factory=list)  # ground-truth OEE of the live part (when asked)


class InProcessIngest:
    """Ingestion's decode → monitor path without a broker; `publish` has the runner's signature.

    Per message, as the service does it: births declare the machines' signals (`birth`), state records gate the
    charts and raise stop alarms (`states`), readings are charted (`observe`), then the periodic checks run
    (`tick`, on the message's own time: silent sensors and quiet episodes)."""

    def __init__(self, monitor: MonitorStage, clock: Callable[[], int], live_start_ms: int) -> None:
        self.decoder = Decoder(max_future_s=86_400.0, max_age_s=10 * 365 * 86_400.0)
        self.monitor = monitor
        self.clock = clock
        self.live_start_ms = live_start_ms
        self.events: list[FaultEvent] = []
        self.alarms: dict[str, Alarm] = {}
        self.parts: dict[str, list[tuple[int, bool]]] = {}
        self.points: Counter[str] = Counter()
        self.infos: dict[str, MachineInfo] = {}
        self.rejected: Counter[str] = Counter()
        self.limits: dict[str, LimitsVersion] = {}

    def publish(self, topic: str, payload: bytes, retain: bool) -> None:
        decoded = self.decoder.decode(topic, payload, self.clock())
        if not isinstance(decoded, Decoded):
            self.rejected[decoded.reason] += 1
            return
        self.take(decoded)

    def take(self, decoded: Decoded) -> None:
        monitor = self.monitor
        newest = -1
        for info in decoded.infos:
            self.infos[info.machine] = info.info
            monitor.birth(info.machine, info.info, info.ts_ms)
        self.events.extend(decoded.events)
        live = self.live_start_ms
        for part in decoded.parts:
            if part.ts_ms >= live:
                self.parts.setdefault(part.machine, []).append((part.ts_ms, part.good))
        if decoded.states:
            self._keep(monitor.states(decoded.states))
            newest = max(c.ts_ms for c in decoded.states)
        readings: list[Reading] = decoded.readings
        if readings:
            for reading in readings:
                if reading.ts_ms >= live:
                    self.points[reading.series] += 1
            self._keep(monitor.observe(readings))
            newest = max(newest, readings[-1].ts_ms)
        if newest >= 0:
            self._keep(monitor.tick(newest))
        for version in monitor.take_limit_changes():
            self.limits[version.series] = version

    def _keep(self, alarms: list[Alarm]) -> None:
        for alarm in alarms:
            if alarm.active:  # a raise, an escalation (a new id) or a merge (the same id, more rules)
                self.alarms[alarm.alarm_id] = alarm


def signal_kinds(infos: dict[str, MachineInfo], series: Sequence[str]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for name in series:
        sid: SeriesId = parse_series(name)
        info = infos.get(sid.machine)
        signal = None if info is None else info.signals.get(sid.sensor)
        kinds[name] = "unknown" if signal is None else signal.kind
    return kinds


def simulate(
    plant: Plant,
    catalog: Catalog,
    scenario: Scenario,
    seed: int,
    *,
    detector: str,
    with_faults: bool = True,
    truth: bool = False,
) -> RunRecord:
    """One run of `scenario` (its events stripped when `with_faults` is False), live part from LIVE_START_MS.

    As `smartfactory demo --scenario` publishes it, without pacing: births, the backfill in batches of
    `BATCH_TICKS` sampling instants, then the live part one message per machine and instant."""
    backfill_ms = round((scenario.backfill_s or 0.0) * 1000)
    length = scenario.duration_s
    if length is None:
        length = max((e.at_s for e in scenario.events), default=0.0) + 300.0
    until = LIVE_START_MS + round(length * 1000)
    sim = Simulation(
        plant,
        catalog,
        seed=seed,
        start_ms=LIVE_START_MS - backfill_ms,
        auto_stops=scenario.auto_stops is not False,
        shifts=scenario.shifts is not False,
        record_truth=truth,
    )
    ingest = InProcessIngest(make_monitor(detector), lambda: sim.now_ms, LIVE_START_MS)
    publish = ingest.publish
    for placed in sim.machines:  # the births the publisher sends on connect
        publish(placed.path.topic(MessageClass.STATUS), status_payload("online", sim.now_ms, placed.info), True)

    def emit(messages: list[Outgoing]) -> None:
        for message in messages:
            publish(message.topic, message.payload, message.retain)

    fast = Encoder(sim.machines, ticks_per_message=BATCH_TICKS)
    while sim.now_ms < LIVE_START_MS:
        emit(fast.encode(sim.advance(min(LIVE_START_MS, sim.now_ms + CHUNK_MS))))
    emit(fast.flush())
    if with_faults:
        sim.schedule(scenario, LIVE_START_MS)
    live = Encoder(sim.machines, ticks_per_message=1)
    while sim.now_ms < until:
        emit(live.encode(sim.advance(min(until, sim.now_ms + CHUNK_MS))))
    emit(live.flush())
    if ingest.rejected:
        raise RuntimeError(f"ingestion rejected simulator messages: {dict(ingest.rejected)}")
    return RunRecord(
        LIVE_START_MS,
        until,
        ingest.events,
        sorted(ingest.alarms.values(), key=lambda a: (a.ts_ms, a.alarm_id)),
        ingest.parts,
        ingest.points,
        signal_kinds(ingest.infos, sorted(ingest.points)),
        ingest.limits,
        _oee_rows(sim, until) if truth else [],
    )


def _oee_rows(sim: Simulation, until: int) -> list[dict[str, Any]]:
    """The simulator's own (ground-truth) OEE of the live part, per machine, line and plant."""
    keys = ("availability", "performance", "quality", "oee")
    return [
        {
            "level": row["level"],
            "name": str(row["name"]).rsplit("/", 1)[-1] if row["level"] == "machine" else row["name"],
        }
        | {k: r(row[k]) for k in keys if row.get(k) is not None}
        for row in sim.ground_truth(LIVE_START_MS, until).to_dicts()
    ]


# ----------------------------------------------------------------------------------------------- scoring


def live_report(run_: RunRecord, counterfactual: RunRecord | None) -> DetectionReport:
    """The detection report of a run's live part (faults are injected only there)."""
    live = run_.live_start_ms
    alarms = [a for a in run_.alarms if a.ts_ms >= live]
    cf = None if counterfactual is None else [a for a in counterfactual.alarms if a.ts_ms >= live]
    events = [e for e in run_.events if e.ts_ms >= live]
    return detection_report(events, alarms, counterfactual=cf, span=Span(live, run_.until_ms))


def fault_key(machine: str, fault: str, sensor: str | None) -> str:
    return f"{machine.rsplit('/', 1)[-1]} {fault}" + (f" on {sensor}" if sensor else "")


def score(case: str, seed: int, run_: RunRecord, counterfactual: RunRecord | None) -> dict[str, Any]:
    """Per-fault outcomes and the false alarms of one run (JSON-ready, small)."""
    report = live_report(run_, counterfactual)
    kinds = run_.kinds
    faults = []
    for d in report.detections:
        ep = d.episode
        per_part = any(kinds.get(f"{ep.machine}/telemetry/{signal}") == "quality" for signal in ep.signals)
        parts = run_.parts.get(ep.machine, [])
        horizon = d.alarm_ms if d.alarm_ms is not None else (ep.end_ms or run_.until_ms)
        made = [good for ts, good in parts if ep.start_ms <= ts <= horizon]
        first_scrap = next((ts for ts, good in parts if ts >= ep.start_ms and not good), None)
        faults.append(
            {
                "key": fault_key(ep.machine, ep.fault, ep.sensor),
                "signals": list(ep.signals),
                "pairing": ep.pairing,
                "detected": d.detected,
                "delay_s": None if d.delay_ms is None else d.delay_ms / 1000,
                "parts_to_detection": len(made) if d.detected and per_part else None,  # where a part is a point
                "scrap_before_detection": sum(not good for good in made),
                "detected_before_first_scrap": d.detected and (first_scrap is None or first_scrap > horizon),
                "detector": list(d.rules),
                "coincident": d.coincident,
            }
        )
    return {
        "case": case,
        "seed": seed,
        "hours": (run_.until_ms - run_.live_start_ms) / HOUR_MS,
        "faults": faults,
        "false_alarms": len(report.false_alarms),
        "false_by_kind": dict(Counter(kinds.get(a.series, "unknown") for a in report.false_alarms)),
        "false_by_plant": dict(Counter(plant_of(a.series) for a in report.false_alarms)),
        "false_by_series": dict(Counter(a.series for a in report.false_alarms)),
        "false_by_class": report.false_alarms_by_class(),
        "stops": len(report.stops),
        "knock_on": len(report.knock_on),
        "points_by_kind": dict(_points_by_kind(run_)),
        "series_by_kind": dict(Counter(kinds.values())),
    }


def _points_by_kind(run_: RunRecord) -> Counter[str]:
    out: Counter[str] = Counter()
    for series, n in run_.points.items():
        out[run_.kinds.get(series, "unknown")] += n
    return out


# ----------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class Task:
    case: str
    seed: int
    hours: float
    detector: str


def catalogue_scenarios() -> list[Scenario]:
    rounds = []
    for i, faults in enumerate(CATALOGUE, 1):
        events = tuple(
            ScenarioEvent(CATALOGUE_AT_S, machine, "inject", fault, sensor, dict(params))
            for machine, fault, sensor, params in faults
        )
        rounds.append(
            Scenario(
                f"catalogue-{i}",
                events,
                backfill_s=CATALOGUE_BACKFILL_S,
                duration_s=CATALOGUE_LENGTH_S,
                auto_stops=False,
                shifts=False,
            )
        )
    return rounds


def shipped_scenarios() -> dict[str, Scenario]:
    return {p.stem: load_scenario(p) for p in sorted((SIM_DIR / "scenarios").glob("*.yaml"))}


def run_task(task: Task) -> list[dict[str, Any]]:
    """One seed of one case: the faulty runs and their counterfactual, scored (runs in a worker process)."""
    catalog = discover(SIM_DIR)
    plant = load_plant(resolve_plant_file("default", SIM_DIR))
    quiet = Scenario("in-control", (), backfill_s=3600.0, duration_s=task.hours * 3600, auto_stops=False, shifts=False)
    if task.case == "in-control":
        alone = simulate(plant, catalog, quiet, task.seed, detector=task.detector)
        return [score(task.case, task.seed, alone, None)]
    if task.case == "default-plant":
        busy = replace(quiet, name="default-plant", auto_stops=True, shifts=True)
        alone = simulate(plant, catalog, busy, task.seed, detector=task.detector)
        return [score(task.case, task.seed, alone, None)]
    if task.case == "catalogue":
        rounds = catalogue_scenarios()
        cf = simulate(plant, catalog, rounds[0], task.seed, detector=task.detector, with_faults=False)
        return [
            score(task.case, task.seed, simulate(plant, catalog, r, task.seed, detector=task.detector), cf)
            for r in rounds
        ]
    scenario = shipped_scenarios()[task.case]
    if scenario.plant not in (None, "default"):
        plant = load_plant(resolve_plant_file(scenario.plant, SIM_DIR))
    faulty = simulate(plant, catalog, scenario, task.seed, detector=task.detector)
    cf = simulate(plant, catalog, scenario, task.seed, detector=task.detector, with_faults=False)
    return [score(task.case, task.seed, faulty, cf)]


# ----------------------------------------------------------------------------------------------- summary


def quantile(values: Sequence[float], q: float) -> float | None:
    return None if not values else float(np.quantile(np.asarray(values, dtype=float), q))


def r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


def summarise_faults(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for fault in row["faults"]:
            by_key.setdefault(f"{row['case']}: {fault['key']}", []).append(fault)
    out: dict[str, dict[str, Any]] = {}
    for key, faults in sorted(by_key.items()):
        delays = [f["delay_s"] for f in faults if f["delay_s"] is not None]
        parts = [f["parts_to_detection"] for f in faults if f["parts_to_detection"] is not None]
        scrap = [f["scrap_before_detection"] for f in faults]
        out[key] = {
            "runs": len(faults),
            "signals": faults[0]["signals"],
            "pairing": faults[0]["pairing"],
            "detected_fraction": r(sum(f["detected"] for f in faults) / len(faults)),
            "arl1_median_s": r(quantile(delays, 0.5), 1),
            "arl1_p90_s": r(quantile(delays, 0.9), 1),
            "arl1_median_parts": r(quantile(parts, 0.5), 1),
            "arl1_p90_parts": r(quantile(parts, 0.9), 1),
            "scrap_before_detection_median": r(quantile(scrap, 0.5), 1),
            "detected_before_first_scrap_fraction": r(
                sum(f["detected_before_first_scrap"] for f in faults) / len(faults)
            ),
            "detectors": dict(Counter(",".join(f["detector"]) for f in faults if f["detected"])),
            "coincidences_not_credited": sum(f["coincident"] for f in faults),
        }
    return out


def summarise_in_control(rows: list[dict[str, Any]]) -> dict[str, Any]:
    hours = sum(row["hours"] for row in rows)
    false = sum(row["false_alarms"] for row in rows)
    per_hour = false / hours if hours else None
    kinds: dict[str, dict[str, Any]] = {}
    points: Counter[str] = Counter()
    falses: Counter[str] = Counter()
    series: Counter[str] = Counter()
    for row in rows:
        points.update(row["points_by_kind"])
        falses.update(row["false_by_kind"])
        series.update(row["series_by_kind"])
    for kind in sorted(set(points) | set(falses)):
        n = falses[kind]
        series_hours = series[kind] / len(rows) * hours if rows else 0.0
        kinds[kind] = {
            "series": series[kind] // max(1, len(rows)),
            "points": points[kind],
            "false_alarms": n,
            "arl0_points": r(points[kind] / n, 0) if n else None,
            "arl0_points_at_least": None if n else points[kind],
            "false_alarms_per_series_hour": r(n / series_hours, 4) if series_hours else None,
            "arl0_series_hours": r(series_hours / n, 1) if n else None,
        }
    by_series: Counter[str] = Counter()
    by_class: Counter[str] = Counter()
    for row in rows:
        by_series.update(row["false_by_series"])
        by_class.update(row["false_by_class"])
    return {
        "runs": len(rows),
        "hours": r(hours, 2),
        "false_alarms": false,
        "plant_false_alarms_per_hour": {"value": r(per_hour), **GOALS["plant_fa_per_hour"].judge(per_hour)},
        "per_run_false_alarms": [row["false_alarms"] for row in rows],
        "zero_false_alarm_runs": sum(row["false_alarms"] == 0 for row in rows),
        "by_kind": kinds,
        "by_class": dict(sorted(by_class.items())),
        "stops_without_fault_event": sum(row["stops"] for row in rows),
        "top_series": {k: n for k, n in by_series.most_common(8)},
    }


def zero_false_alarm(rows: list[dict[str, Any]]) -> dict[str, Any]:
    frac = sum(row["false_alarms"] == 0 for row in rows) / len(rows) if rows else None
    hours = sum(row["hours"] for row in rows)
    false = sum(row["false_alarms"] for row in rows)
    return {
        "runs": len(rows),
        "zero_false_alarm_fraction": {"value": r(frac), **GOALS["zero_fa_fraction"].judge(frac)},
        "false_alarms": false,
        "false_alarms_per_hour": r(false / hours) if hours else None,
        "knock_on_alarms": sum(row["knock_on"] for row in rows),
        "false_alarms_by_series": dict(
            sum((Counter(row["false_by_series"]) for row in rows), Counter()).most_common(6)
        ),
    }


def goal_figures(faults: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The figures the goals name, each beside its goal (None when the bench ran no case for it)."""

    def pick(key: str, field_: str) -> float | None:
        row = faults.get(key)
        return None if row is None else row.get(field_)

    out: dict[str, Any] = {}

    def put(name: str, key: str, field_: str) -> None:
        value = pick(key, field_)
        if value is not None or key in faults:
            out[f"{name} [{key}]"] = {"value": value, **GOALS[name].judge(value)}

    put("part_3sigma_s", "catalogue: filler-01 shift on fill_weight", "arl1_median_s")
    put("part_3sigma_s", "sudden-shift: filler-01 shift on fill_weight", "arl1_median_s")
    put("part_weight_1sigma_s", "catalogue: imm-01 shift on part_weight", "arl1_median_s")
    put("part_weight_1sigma_s", "sudden-shift: imm-01 shift on part_weight", "arl1_median_s")
    put("tool_wear_before_scrap", "tool-wear: cnc-02 tool_wear", "detected_before_first_scrap_fraction")
    for key in faults:
        if key.endswith((" breakdown", " stop")):
            put("stop_delay_s", key, "arl1_median_s")
    put("stuck_s", "catalogue: cnc-01 stuck on spindle_temp", "arl1_median_s")
    put("stuck_s", "sensor-faults: cnc-01 stuck on spindle_temp", "arl1_median_s")
    put("silent_s", "catalogue: imm-01 dropout on mould_temp", "arl1_median_s")
    put("process_3sigma_s", "catalogue: cnc-01 shift on power", "arl1_median_s")
    for key in faults:
        if key.startswith("catalogue: "):
            put("catalogue_detected", key, "detected_fraction")
    return out


# ----------------------------------------------------------------------------------------------- autocorrelation


def autocorrelated_signal(plant: Plant, catalog: Catalog) -> tuple[str, float, float]:
    """The first sensor of the plant with φ > 0: (series id, φ, sampling interval in seconds)."""
    for spec in plant.machines:
        cls = catalog.get(spec.type).cls
        for name, sensor in cls.sensors.items():
            change = spec.sensors.get(name)
            phi = getattr(change, "phi", None)
            phi = sensor.phi if phi is None else phi
            if phi > 0:
                interval = sensor.every_s or spec.sample_interval_s or cls.sample_interval_s
                return str(spec.path.series(name)), float(phi), float(interval)
    raise SystemExit("no sensor of the plant has phi > 0")


def _design_of(version: LimitsVersion) -> Any:
    """The `IndividualsDesign` a stored limits version was charted with (its `params`)."""
    from smartfactory.spc.design import CusumDesign, IndividualsDesign

    p = version.params
    return IndividualsDesign(
        CusumDesign(p["k"], p["h"], math.nan),
        CusumDesign(p.get("k_var", 1.386), p.get("h_var", math.inf), math.nan),
        p["shock"],
        math.nan,
        p["arl0"],
        p.get("shift", 1.0),
    )


def autocorrelation_trap(streams: int, hours_each: float, seed: int) -> dict[str, Any]:
    """False alarms per hour of the plant's autocorrelated sensor (φ > 0), in control: the first round's
    individuals chart with WE1–4 (limits from 50 readings, σ = MR̄/1.128) and the monitor's own design (its
    thresholds as the monitor stored them for that series) on plain standardised readings and on AR(1) residuals;
    each beside the same on independent readings. Streams are simulated AR(1) with the sensor's φ and interval
    (marginal σ 1), each with a phase I of its own, so the figures average over phase I estimates."""
    from smartfactory.spc.baseline import Baseline, learn_baseline
    from smartfactory.spc.detect import IndividualsDetector
    from smartfactory.spc.streaming import SeriesMonitor

    catalog = discover(SIM_DIR)
    plant = load_plant(resolve_plant_file("default", SIM_DIR))
    series, phi, interval = autocorrelated_signal(plant, catalog)
    quiet = Scenario("in-control", (), backfill_s=3600.0, duration_s=600.0, auto_stops=False, shifts=False)
    version = simulate(plant, catalog, quiet, seed, detector="default").limits.get(series)
    if version is None or version.detector != "individuals":
        return {"series": series, "error": f"the monitor charts {series} with {version}, not an individuals design"}
    design = _design_of(version)
    phase1 = max(version.n, 50)
    per_stream = round(hours_each * 3600 / interval)
    clear_after = max(1, round(10.0 / interval))  # the first round's monitor cleared after 10 quiet seconds
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {
        "series": series,
        "phi": phi,
        "interval_s": interval,
        "hours": r(streams * hours_each, 1),
        "phase1_points": phase1,
        "monitor_design": {k: r(v, 4) for k, v in version.params.items()},
    }
    for label, p in (("independent", 0.0), ("autocorrelated", phi)):
        counts = {"we_rules_individuals_chart": 0, "designed_on_plain_readings": 0, "designed_on_ar1_residuals": 0}
        phis: list[float] = []
        for _ in range(streams):
            a = rng.standard_normal(phase1 + per_stream)
            x = np.empty_like(a)
            x[0] = a[0]
            scale = math.sqrt(1.0 - p * p)
            for t in range(1, len(a)):
                x[t] = p * x[t - 1] + scale * a[t]
            values = x[phase1:].tolist()
            we = SeriesMonitor("s", None, learn=50, rules="we")
            for v in x[phase1 - 50 : phase1].tolist():
                we.update(0, v)
            active, quiet_for = False, 0
            for v in values:
                if we.update(0, v):
                    counts["we_rules_individuals_chart"] += not active
                    active, quiet_for = True, 0
                elif active:
                    quiet_for += 1
                    active = quiet_for < clear_after
            learned = learn_baseline(x[:phase1])
            assert isinstance(learned, Baseline)
            phis.append(learned.phi)
            for name, material in (("designed_on_plain_readings", 1.0), ("designed_on_ar1_residuals", 0.2)):
                det = IndividualsDetector(learned, design, phi_material=material)
                counts[name] += sum(det.update(0, v) is not None for v in values)
        hours = streams * hours_each
        out[label] = {name: r(n / hours, 3) for name, n in counts.items()}
        out[label]["phi_hat_median"] = r(float(np.median(phis)))
    return out


def timelines(detector: str, names: Sequence[str] | None = None) -> dict[str, Any]:
    """What the audience sees in each scenario at its own seed (what `smartfactory demo --scenario NAME` runs):
    the faults, every alarm of the live part and the scrap, in minutes:seconds after the live start. `names`:
    shipped scenarios or .yaml paths (default: every shipped one)."""
    catalog = discover(SIM_DIR)
    out: dict[str, Any] = {}
    shipped = shipped_scenarios()
    chosen = {n: shipped[n] if n in shipped else load_scenario(Path(n)) for n in names} if names else shipped
    for name, scenario in chosen.items():
        plant = load_plant(resolve_plant_file(scenario.plant or "default", SIM_DIR))
        seed = scenario.seed if scenario.seed is not None else 42
        run_ = simulate(plant, catalog, scenario, seed, detector=detector, truth=True)
        cf = simulate(plant, catalog, scenario, seed, detector=detector, with_faults=False)
        report = live_report(run_, cf)
        credited = {d.alarm_id for d in report.detections if d.alarm_id}
        false = {a.alarm_id for a in report.false_alarms}

        def at(ts: int) -> str:
            seconds = (ts - LIVE_START_MS) / 1000
            return f"{int(seconds // 60)}:{seconds % 60:04.1f}"

        live = [a for a in run_.alarms if a.ts_ms >= LIVE_START_MS]
        out[name] = {
            "seed": seed,
            "events": [
                f"{at(e.ts_ms)} {e.kind} {e.fault} on {e.machine.rsplit('/', 1)[-1]}"
                + (f" [{', '.join(e.affects)}]" if e.affects else "")
                for e in run_.events
                if e.ts_ms >= LIVE_START_MS
            ],
            "alarms": [
                f"{at(a.ts_ms)} {'/'.join(a.series.split('/')[-3::2])} {','.join(a.rules)}"
                + (" (detection)" if a.alarm_id in credited else " (false)" if a.alarm_id in false else "")
                + f": {a.message[:110]}"
                for a in live
            ],
            "detections": [
                {
                    "fault": fault_key(d.episode.machine, d.episode.fault, d.episode.sensor),
                    "delay_s": r(None if d.delay_ms is None else d.delay_ms / 1000, 1),
                    "by": list(d.rules),
                    "on": d.alarm_series,
                }
                for d in report.detections
            ],
            "scrap": {
                m.rsplit("/", 1)[-1]: {"parts": sum(not g for _, g in v), "first": at(next(t for t, g in v if not g))}
                for m, v in run_.parts.items()
                if any(not g for _, g in v)
            },
            "oee": run_.oee,
        }
    return out


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=40, help="seeds 1…N per case (default 40)")
    parser.add_argument("--hours", type=float, default=4.0, help="in-control hours per seed after the backfill")
    parser.add_argument("--cases", default=None, help="comma-separated cases (default: all); for timelines also .yaml")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (at most 2)")
    parser.add_argument("--detector", default="default", help="default, or we-rules (the first round's monitor)")
    parser.add_argument("--section", choices=["all", "scorecard", "autocorrelation", "timelines"], default="all")
    parser.add_argument("--trap-streams", type=int, default=40, help="streams of the autocorrelation trap")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "bench": "alarm_scorecard",
        "python": platform.python_version(),
        "seeds": args.seeds,
        "detector": args.detector,
    }
    if args.section in ("all", "scorecard"):
        all_cases = ["in-control", "default-plant", *shipped_scenarios(), "catalogue"]
        cases = all_cases if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = set(cases) - set(all_cases)
        if unknown:
            raise SystemExit(f"unknown cases {sorted(unknown)}; known: {', '.join(all_cases)}")
        tasks = [Task(c, s, args.hours, args.detector) for c in cases for s in range(1, args.seeds + 1)]
        workers = max(1, min(2, args.workers))
        if workers == 1:
            outputs = [run_task(t) for t in tasks]
        else:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                outputs = pool.map(run_task, tasks, chunksize=1)
        rows = [row for rows_ in outputs for row in rows_]
        result["in_control"] = summarise_in_control([x for x in rows if x["case"] == "in-control"])
        result["default_plant"] = summarise_in_control([x for x in rows if x["case"] == "default-plant"])
        scenario_rows = {c: [x for x in rows if x["case"] == c] for c in cases if c in shipped_scenarios()}
        result["scenarios_live_part"] = {c: zero_false_alarm(v) for c, v in scenario_rows.items()}
        faults = summarise_faults([x for x in rows if x["case"] not in ("in-control", "default-plant")])
        result["faults"] = faults
        result["goals"] = goal_figures(faults)
    if args.section in ("all", "timelines"):
        asked = None if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()]
        picked = None if asked is None else [c for c in asked if c in shipped_scenarios() or c.endswith(".yaml")]
        if picked is None or picked:
            result["timelines"] = timelines(args.detector, picked)
    if args.section in ("all", "autocorrelation"):
        result["autocorrelation_trap"] = autocorrelation_trap(args.trap_streams, max(args.hours, 1.0), seed=1)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
