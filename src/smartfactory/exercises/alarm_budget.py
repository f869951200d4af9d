"""Exercise alarm-budget: choose the monitor's settings so that it meets an alarm budget on this data and still
catches the fault. Checked by replaying the stored run through the live monitor with the chosen settings."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smartfactory.exercises.base import Exercise, Prepared
from smartfactory.exercises.grading import Item, missing, number, when
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import DAY_MS, Fault, Plan, Produced
from smartfactory.exercises.replay import MonitorSettings, replay_monitor, shipped_limits
from smartfactory.model import FaultEvent
from smartfactory.query.detection import detection_report
from smartfactory.settings import load_settings
from smartfactory.storage import Storage, open_store

PLANT = "default"
#: (machine, per-shot signal): a 1.5σ step on one of them is the fault to catch (a shot every ~26 s, so the
#: detection takes minutes and depends on the budget: the trade-off of the exercise)
SIGNALS = (("imm-01", "part_weight"), ("imm-01", "injection_pressure"))
WARM_S = 1800.0
LIVE_S = 4 * 3600.0
DETECT_WITHIN_S = 300.0
FAULT = "shift"
#: the settings `start` tries; the best of them sets the budget (so that the budget can be met)
CANDIDATES = tuple(MonitorSettings(b, 60.0) for b in (1.5, 0.5, 0.15, 0.05, 0.015))
LIMITS = {"budget_per_hour": (1e-4, 10.0), "warmup_s": (0.0, 3600.0)}
DEFAULTS = {"warmup_s": 60.0}  # may be left out


@dataclass(frozen=True)
class Outcome:
    """What the monitor did with one set of settings over the live part of the run."""

    false_alarms: int
    by_series: dict[str, int]
    detected_after_s: float | None
    detector: str | None


def outcome(store: Storage, settings: MonitorSettings, since_ms: int, events: list[FaultEvent]) -> Outcome:
    """Replay the run with `settings`; false alarms and the fault's detection (`query.detection`'s pairing)."""
    sim_dir = load_settings().sim.dir
    alarms = [a for a in replay_monitor(store, settings, configured=shipped_limits(sim_dir, PLANT))
              if a.ts_ms >= since_ms]  # fmt: skip
    report = detection_report(events, alarms)
    by_series = Counter(a.series.split("/", 4)[-1] for a in report.false_alarms)
    first = next((d for d in report.detections if d.episode.fault == FAULT), None)
    delay = None if first is None or first.delay_ms is None else first.delay_ms / 1000.0
    return Outcome(len(report.false_alarms), dict(by_series), delay, None if first is None else ",".join(first.rules))


class AlarmBudget(Exercise):
    name = "alarm-budget"
    title = "Tune the monitor to an alarm budget"
    topic = "SPC: false alarms against detection delay, the alarm budget as a design input"
    needs = "the exercise's store; `exercise check` replays it with your settings (about 10 s)"
    answers = (
        ("budget_per_hour", "0.5", "spc.budget_per_hour: false alarms per plant-hour the monitor is designed for"),
    )

    def _choice(self, seed: int) -> tuple[str, str, float]:
        rng = self.rng(seed)
        machine, signal = SIGNALS[rng.randrange(len(SIGNALS))]
        return machine, signal, WARM_S + round(rng.uniform(0.25, 0.75) * LIVE_S)

    def plan(self, seed: int) -> Plan:
        machine, signal, onset = self._choice(seed)
        return Plan(
            seed=seed,
            start_ms=DAY_MS + 8 * 3_600_000,
            duration_s=WARM_S + LIVE_S,
            faults=(Fault(onset, machine, FAULT, signal, {"sigmas": 1.5}),),
            auto_stops=False,  # no random stops (a shift during a breakdown is found late), nor tool changes
            plant=PLANT,
        )

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        assert produced is not None
        plan = self.plan(seed)
        since = plan.start_ms + round(WARM_S * 1000)
        store = open_store(produced.store)
        try:
            tried = [(c, outcome(store, c, since, produced.events)) for c in CANDIDATES]
        finally:
            store.close()
        delays = [o.detected_after_s for _, o in tried if o.detected_after_s is not None]
        if not delays:
            raise RuntimeError("alarm-budget: even the most sensitive setting misses the fault in this run")
        # the detection limit: 5 minutes, or more when even the quickest setting needs longer (a late shift)
        within = max(DETECT_WITHIN_S, 60.0 * math.ceil(1.25 * min(delays) / 60.0))
        usable = [(c, o) for c, o in tried if o.detected_after_s is not None and o.detected_after_s <= within]
        reference, best = min(usable, key=lambda pair: pair[1].false_alarms)
        facts = {"since": when(since), "until": when(plan.end_ms), "budget": best.false_alarms,
                 "detect_within_min": f"{within / 60:g}"}  # fmt: skip
        truth = {
            "since_ms": since,
            "budget": best.false_alarms,
            "detect_within_s": within,
            "reference": asdict(reference),
            "tried": [{"settings": asdict(c), "outcome": asdict(o)} for c, o in tried],
        }
        return Prepared(facts, truth)

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        items: list[Item] = []
        values: dict[str, float] = {}
        for key, (low, high) in LIMITS.items():
            given = answers.get(key, DEFAULTS.get(key))
            value = number(given)
            if given is None:
                items.append(missing(key, f"a number from {low:g} to {high:g}"))
            elif value is None or not low <= value <= high:
                items.append(Item(key, False, given, f"must be a number from {low:g} to {high:g}"))
            else:
                values[key] = value
        if items:
            return items
        settings = MonitorSettings(values["budget_per_hour"], values["warmup_s"])
        store = open_store(manifest.store)
        try:
            got = outcome(store, settings, int(truth["since_ms"]), store.read_events())
        finally:
            store.close()
        budget = int(truth["budget"])
        worst = ", ".join(f"{s} ×{n}" for s, n in sorted(got.by_series.items(), key=lambda kv: -kv[1])[:3])
        if got.false_alarms <= budget:
            items.append(Item("false_alarms", True, got.false_alarms, f"within the budget of {budget}"))
        else:
            items.append(Item("false_alarms", False, got.false_alarms,
                              f"{got.false_alarms - budget} over the budget of {budget}; most on {worst}: a smaller "
                              "budget_per_hour raises the detectors' thresholds"))  # fmt: skip
        limit = float(truth["detect_within_s"])
        if got.detected_after_s is not None and got.detected_after_s <= limit:
            items.append(
                Item(
                    "detection",
                    True,
                    round(got.detected_after_s, 1),
                    f"the fault was caught {got.detected_after_s:.0f} s after it began ({got.detector})",
                )
            )
        elif got.detected_after_s is not None:
            items.append(Item("detection", False, round(got.detected_after_s, 1),
                              f"caught only after {got.detected_after_s / 60:.1f} min (limit {limit / 60:g} min): "
                              "the monitor is too insensitive"))  # fmt: skip
        else:
            items.append(Item("detection", False, None, "the fault was never caught: the monitor is too insensitive"))
        return items
