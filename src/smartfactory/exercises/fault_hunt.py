"""Exercise fault-hunt: find the injected fault (machine, signal, kind) and when it began, from the data only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartfactory.exercises.base import Exercise, Prepared, machine_matches, short_name
from smartfactory.exercises.grading import Item, instant, missing, when
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import DAY_MS, Fault, Plan, Produced

#: (machine, fault, sensor, parameters): faults whose onset the data pins down to well inside the tolerance
CANDIDATES: tuple[tuple[str, str, str, dict[str, float | str]], ...] = (
    ("cnc-01", "shift", "power", {"sigmas": 2.5}),
    ("cnc-02", "shift", "spindle_temp", {"sigmas": -2.5}),
    ("imm-01", "shift", "mould_temp", {"sigmas": 3.0}),
    ("filler-01", "variance", "motor_current", {"factor": 3.0}),
    ("cnc-02", "variance", "vibration_rms", {"factor": 3.0}),
    ("cnc-01", "stuck", "spindle_temp", {}),
    ("imm-01", "dropout", "mould_temp", {"prob": 1.0}),
    ("filler-01", "spikes", "conveyor_speed", {"prob": 0.05, "sigmas": 8.0}),
)
KINDS = ("shift", "variance", "stuck", "spikes", "dropout")
TOLERANCE_S = 60.0
WARM_S = 1800.0  # history before the earliest onset: every chart has learnt its limits
LIVE_S = 3600.0


class FaultHunt(Exercise):
    name = "fault-hunt"
    title = "Find the fault"
    topic = "SPC: detection, change points, data quality"
    needs = "the exercise's store (dashboard, `smartfactory export`, pandas)"
    answers = (
        ("machine", '""', "the machine's name, e.g. cnc-01"),
        ("sensor", '""', "the signal it changed, e.g. power"),
        ("fault", '""', "one of: " + ", ".join(KINDS)),
        ("began", '""', 'when it began, ISO-8601 UTC, e.g. "2026-01-05T08:41:10Z"'),
    )

    def _choice(self, seed: int) -> tuple[tuple[str, str, str, dict[str, float | str]], float]:
        rng = self.rng(seed)
        candidate = CANDIDATES[rng.randrange(len(CANDIDATES))]
        onset = WARM_S + round(rng.uniform(0.25, 0.75) * LIVE_S)
        return candidate, onset

    def plan(self, seed: int) -> Plan:
        (machine, fault, sensor, params), onset = self._choice(seed)
        return Plan(
            seed=seed,
            start_ms=DAY_MS + 8 * 3_600_000,
            duration_s=WARM_S + LIVE_S,
            faults=(Fault(onset, machine, fault, sensor, dict(params)),),
            hide_events=True,
        )

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        assert produced is not None
        plan = self.plan(seed)
        faults = [e for e in produced.events if e.kind == "fault"]
        if len(faults) != 1:
            raise RuntimeError(f"fault-hunt expected one fault event in the run, found {len(faults)}")
        event = faults[0]
        facts = {"since": when(plan.start_ms), "until": when(plan.end_ms), "tolerance_s": f"{TOLERANCE_S:g}"}
        truth = {
            "machine": event.machine,
            "sensor": event.sensor,
            "fault": event.fault,
            "began_ms": event.ts_ms,
            "params": dict(event.params),
        }
        return Prepared(facts, truth)

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        items: list[Item] = []
        machine, sensor, fault = str(truth["machine"]), str(truth["sensor"]), str(truth["fault"])
        given_machine = answers.get("machine")
        right_machine = machine_matches(machine, given_machine)
        if not given_machine:
            items.append(missing("machine", "the machine's name"))
        elif right_machine:
            items.append(Item("machine", True, given_machine, f"the fault was on {short_name(machine)}"))
        else:
            items.append(Item("machine", False, given_machine, f"the fault was not on {given_machine}"))
        given_sensor = answers.get("sensor")
        if not given_sensor:
            items.append(missing("sensor", "the signal the fault changed"))
        elif right_machine and str(given_sensor).strip() == sensor:
            items.append(Item("sensor", True, given_sensor, f"the fault changed {sensor}"))
        else:
            why = "" if right_machine else " (and the machine is wrong)"
            items.append(Item("sensor", False, given_sensor, f"the fault did not change {given_sensor}{why}"))
        given_fault = answers.get("fault")
        if not given_fault:
            items.append(missing("fault", "one of " + ", ".join(KINDS)))
        elif str(given_fault).strip() == fault:
            items.append(Item("fault", True, given_fault, f"it was a {fault}"))
        elif str(given_fault).strip() not in KINDS:
            items.append(Item("fault", False, given_fault, "not one of the kinds: " + ", ".join(KINDS)))
        else:
            items.append(Item("fault", False, given_fault, f"not a {given_fault}: {_looks(str(given_fault).strip())}"))
        items.append(_began(answers.get("began"), int(truth["began_ms"])))
        return items


def _looks(kind: str) -> str:
    """What a fault of `kind` would have shown (the student's guess, so the hint gives nothing away)."""
    return {
        "shift": "a shift moves the level of the signal at one instant and keeps it there",
        "variance": "a variance fault widens the spread and leaves the level alone",
        "stuck": "a stuck sensor repeats one value exactly",
        "spikes": "spikes are single readings far off while the others stay as before",
        "dropout": "a dropout leaves gaps: fewer readings arrive",
    }[kind] + "; look again at what changed"


def _began(given: Any, began_ms: int) -> Item:
    tol = f"±{TOLERANCE_S:g} s"
    if given in (None, ""):
        return missing("began", "an ISO-8601 time with its zone, e.g. 2026-01-05T08:41:10Z")
    ms = instant(given)
    if ms is None:
        return Item("began", False, str(given), "not an ISO-8601 time with a zone (add Z for UTC)", tol)
    off_s = (ms - began_ms) / 1000.0
    if abs(off_s) <= TOLERANCE_S:
        return Item("began", True, str(given), f"{abs(off_s):.0f} s from the onset at {when(began_ms)}", tol)
    side = "after" if off_s > 0 else "before"
    extra = (
        ": an alarm comes after the fault began; trace the chart back to where the change started"
        if off_s > 0
        else ": the data was still normal then"
    )
    size = f"{abs(off_s):.0f} s" if abs(off_s) < 120 else f"about {abs(off_s) / 60:.0f} min"
    return Item("began", False, str(given), f"{size} {side} the onset{extra}", tol)
