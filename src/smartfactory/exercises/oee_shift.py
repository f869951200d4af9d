"""Exercise oee-shift: one machine's OEE for the early shift, its three factors and its largest loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smartfactory.exercises.base import Exercise, Prepared, machine_matches
from smartfactory.exercises.grading import Item, close_to, missing, number, when
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import DAY_MS, Fault, Plan, Produced
from smartfactory.kpi import Loss, OeeResult
from smartfactory.query.oee import oee_from_store, oee_inputs
from smartfactory.settings import load_settings
from smartfactory.storage import open_store

PLANT = "default"
MACHINES = ("machining/line-1/cnc-01", "machining/line-1/cnc-02", "packaging/line-2/imm-01",
            "packaging/line-2/filler-01")  # fmt: skip
#: the early shift of the default plant (06:00–14:00 UTC, lunch 10:00–10:30), on the exercise day
SHIFT = ("early", DAY_MS + 6 * 3_600_000, DAY_MS + 14 * 3_600_000)
LEAD_S = 1800.0  # the plant runs half an hour before the shift: the shift does not start from a cold plant
TOLERANCE_PP = 0.5
LOSSES = tuple(loss.value for loss in Loss)
#: a loss within this fraction of the largest counts as the largest too (a near tie is not a mistake)
TIE = 0.05


class OeeShift(Exercise):
    name = "oee-shift"
    title = "OEE of a shift and its largest loss"
    topic = "OEE: availability, performance, quality; the six big losses"
    needs = "the exercise's store (dashboard OEE page, `smartfactory oee`, or the states and parts yourself)"
    answers = (
        ("availability", "0.0", "percent, e.g. 91.3"),
        ("performance", "0.0", "percent"),
        ("quality", "0.0", "percent"),
        ("oee", "0.0", "percent"),
        ("largest_loss", '""', "one of: " + ", ".join(LOSSES)),
    )

    def _choice(self, seed: int) -> tuple[str, Fault, Fault | None]:
        rng = self.rng(seed)
        machine = MACHINES[rng.randrange(len(MACHINES))]
        # 06:30–08:30 or 11:00–12:00: clear of the lunch break, so that the whole story is a loss
        at = LEAD_S + (rng.uniform(0.5, 2.5) if rng.random() < 0.6 else rng.uniform(5.0, 6.0)) * 3600.0
        story = rng.randrange(4)
        name = machine.rsplit("/", 1)[-1]
        if story == 0:
            return machine, Fault(at, name, "breakdown", None, {"duration": round(rng.uniform(25, 50)) * 60.0}), None
        if story == 1:
            slow = Fault(at, name, "slowdown", None, {"factor": round(rng.uniform(1.3, 1.6), 2)})
            return machine, slow, Fault(at + rng.uniform(1.5, 2.5) * 3600.0, name, "slowdown", clear=True)
        if story == 2:
            params: dict[str, float | str] = {"state": "setup", "reason": "changeover",
                                              "duration": round(rng.uniform(30, 50)) * 60.0}  # fmt: skip
            return machine, Fault(at, name, "stop", None, params), None
        characteristic = {"cnc-01": "diameter", "cnc-02": "diameter", "imm-01": "part_weight"}.get(name, "fill_weight")
        noisy = Fault(at, name, "variance", characteristic, {"factor": 3.0})
        return machine, noisy, Fault(at + rng.uniform(1.0, 2.0) * 3600.0, name, "variance", clear=True)

    def plan(self, seed: int) -> Plan:
        _, fault, repair = self._choice(seed)
        return Plan(
            seed=seed,
            start_ms=SHIFT[1] - round(LEAD_S * 1000),
            duration_s=LEAD_S + (SHIFT[2] - SHIFT[1]) / 1000,
            faults=(fault,) if repair is None else (fault, repair),
            auto_stops=True,
            shifts=True,
            spc=False,
            plant=PLANT,
        )

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        assert produced is not None
        machine, _, _ = self._choice(seed)
        facts = {"machine": machine.rsplit("/", 1)[-1], "shift": SHIFT[0], "since": when(SHIFT[1]),
                 "until": when(SHIFT[2]), "plant": PLANT}  # fmt: skip
        return Prepared(facts, {"machine_ref": machine, "oee_truth": produced.oee_truth})

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        row = reference_row(manifest.store, str(truth["machine_ref"]))
        items: list[Item] = []
        for key, value in (("availability", row.availability), ("performance", row.performance),
                           ("quality", row.quality), ("oee", row.oee)):  # fmt: skip
            if answers.get(key) is None:
                items.append(missing(key, "a percentage"))
                continue
            if value is None:
                items.append(Item(key, False, answers[key], "undefined for this shift"))
                continue
            given = number(answers[key])
            hint = "give percent, not a fraction" if given is not None and given <= 1 < 100 * value else ""
            items.append(close_to(key, answers[key], 100.0 * value, TOLERANCE_PP, " %", hint))
        items.append(_largest(answers.get("largest_loss"), row))
        return items


def reference_row(store_url: str, machine_ref: str) -> OeeResult:
    """The machine's OEE over the early shift from the stored states and parts (`smartfactory oee`'s path)."""
    settings = load_settings()
    store = open_store(store_url)
    try:
        inputs = oee_inputs(store, settings.sim.dir, PLANT)
        result = oee_from_store(store, SHIFT[1], SHIFT[2], inputs, machines=[machine_ref])
    finally:
        store.close()
    matches = [r for r in result.report.rows if r.level.value == "machine" and r.shift is None
               and machine_matches(r.name, machine_ref)]  # fmt: skip
    return matches[0]


def _largest(given: Any, row: OeeResult) -> Item:
    losses = {name: float(getattr(row.losses, name)) for name in LOSSES}
    top = max(losses.values())
    if not given:
        return missing("largest_loss", "one of " + ", ".join(LOSSES))
    name = str(given).strip()
    if name not in losses:
        return Item("largest_loss", False, given, "not one of the six big losses: " + ", ".join(LOSSES))
    minutes = losses[name] / 60.0
    if losses[name] >= (1 - TIE) * top:
        return Item("largest_loss", True, given, f"{minutes:.0f} min lost to {name}")
    return Item("largest_loss", False, given, f"{name} cost {minutes:.0f} min; another loss cost about "
                                              f"{top / 60.0:.0f} min")  # fmt: skip
