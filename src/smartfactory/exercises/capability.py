"""Exercise capability: Cp and Cpk of one characteristic from the stored parts, and the judgement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from smartfactory.errors import ConfigError
from smartfactory.exercises.base import Exercise, Prepared
from smartfactory.exercises.grading import Item, close_to, missing, number
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import DAY_MS, Fault, Plan, Produced
from smartfactory.query.plantinfo import SpecLimits
from smartfactory.spc import Capability, capability, imr
from smartfactory.storage import Storage, open_store
from smartfactory.wire import parse_series

#: (machine, characteristic) the exercise may ask about
CHARACTERISTICS = (("filler-01", "fill_weight"), ("imm-01", "part_weight"), ("cnc-01", "diameter"))
FACTORS = (0.6, 0.75, 0.9, 1.0, 1.2)  # the noise, relative to the machine type's own
SHIFTS = (0.0, 0.5, -0.5, 1.0, -1.0)  # the mean, in the machine type's σ
CAPABLE_CPK = 1.33
TOLERANCE = 0.05
DURATION_S = 3 * 3600.0


class CapabilityStudy(Exercise):
    name = "capability"
    title = "Is the process capable?"
    topic = "SPC: process capability (Cp, Cpk), σ within vs overall"
    needs = "the exercise's store; `smartfactory export` + `smartfactory spc analyze`, or pandas"
    answers = (
        ("cp", "0.0", "Cp, σ within = MR̄/1.128 over every stored value"),
        ("cpk", "0.0", "Cpk, same σ, centre = the mean"),
        ("capable", "false", f"true when Cpk ≥ {CAPABLE_CPK}"),
    )

    def _choice(self, seed: int) -> tuple[str, str, float, float]:
        rng = self.rng(seed)
        machine, characteristic = CHARACTERISTICS[rng.randrange(len(CHARACTERISTICS))]
        return machine, characteristic, rng.choice(FACTORS), rng.choice(SHIFTS)

    def plan(self, seed: int) -> Plan:
        machine, characteristic, factor, shift = self._choice(seed)
        faults = []
        if factor != 1.0:
            faults.append(Fault(0.0, machine, "variance", characteristic, {"factor": factor}))
        if shift != 0.0:
            faults.append(Fault(0.0, machine, "shift", characteristic, {"sigmas": shift}))
        return Plan(seed=seed, start_ms=DAY_MS + 8 * 3_600_000, duration_s=DURATION_S, faults=tuple(faults),
                    spc=False, hide_events=True)  # fmt: skip

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        assert produced is not None
        machine, characteristic, factor, shift = self._choice(seed)
        store = open_store(produced.store)
        try:
            series = find_series(store, machine, characteristic)
            n = len(characteristic_values(store, series))
        finally:
            store.close()
        facts = {"machine": machine, "characteristic": characteristic, "series": series, "parts": n}
        return Prepared(facts, {"series": series, "noise_factor": factor, "shift_sigmas": shift})

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        store = open_store(manifest.store)
        try:
            study = reference_capability(store, str(truth["series"]))
        finally:
            store.close()
        assert study.cp is not None
        assert study.cpk is not None
        items: list[Item] = []
        overall = {"cp": study.pp, "cpk": study.ppk}
        for key, ref in (("cp", study.cp.value), ("cpk", study.cpk.value)):
            given = answers.get(key)
            if given is None:
                items.append(missing(key, f"{key.capitalize()} as a number"))
                continue
            item = close_to(key, given, ref, TOLERANCE)
            twin = overall[key]
            value = number(given)
            if not item.correct and twin is not None and value is not None and abs(value - twin.value) <= TOLERANCE:
                hint = (
                    f"that is {'Pp' if key == 'cp' else 'Ppk'} (the overall standard deviation, "
                    f"{study.sigma_overall:.4g}); {key.capitalize()} uses σ within = MR̄/1.128 = "
                    f"{study.sigma_within:.4g}"
                )
                item = Item(key, False, given, f"{item.explanation}; {hint}", item.tolerance)
            items.append(item)
        capable = study.cpk.value >= CAPABLE_CPK
        given = answers.get("capable")
        if not isinstance(given, bool):
            items.append(missing("capable", "true or false"))
        elif given == capable:
            items.append(Item("capable", True, given, f"Cpk {study.cpk.value:.2f} {'≥' if capable else '<'} "
                                                      f"{CAPABLE_CPK}"))  # fmt: skip
        else:
            why = "meets" if capable else "does not meet"
            items.append(Item("capable", False, given, f"the reference Cpk {why} the {CAPABLE_CPK} a capable "
                                                       "process needs"))  # fmt: skip
        return items


def find_series(store: Storage, machine: str, characteristic: str) -> str:
    for info in store.list_series():
        if info.machine == machine and info.sensor == characteristic:
            return info.series
    raise ConfigError(f"the store holds no {characteristic} of {machine}")


def characteristic_values(store: Storage, series: str) -> np.ndarray:
    """Every stored value of the series, oldest first."""
    sid = parse_series(series)
    values = [r.value for chunk in store.iter_readings(machine=sid.machine, sensor=sid.sensor) for r in chunk
              if r.series == series]  # fmt: skip
    return np.asarray(values, dtype=np.float64)


def spec_limits(store: Storage, series: str) -> SpecLimits:
    sid = parse_series(series)
    info = store.read_machine_info().get(sid.machine)
    return SpecLimits.of(None if info is None else info.signals.get(sid.sensor))


def reference_capability(store: Storage, series: str) -> Capability:
    """The reference study, as `smartfactory spc analyze --chart imr --lsl … --usl …` makes it: an I-MR chart
    over every value (σ within = MR̄/d2), its centre line, the machine's announced spec limits."""
    values = characteristic_values(store, series)
    spec = spec_limits(store, series)
    pair = imr(values)
    return capability(
        values,
        center=float(pair.main.center_line[0]),
        sigma_within=float(pair.main.sigma_line[0]),
        lsl=spec.lsl,
        usl=spec.usl,
    )
