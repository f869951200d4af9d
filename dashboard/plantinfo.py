"""What the plant configuration knows that the store does not: spec limits, ideal cycle times, the shift calendar.

Read through the simulator's own loaders (`sim.plant.load_plant`, `sim.loader.discover`) from the plant the
simulator runs (`settings.sim.dir`, `settings.sim.plant`), best effort: a store filled by other clients, or a
plant that cannot be read, simply yields no limits and the pages ask for them. Looked up, all optional:

- part characteristics: the machine type's `quality` (`Characteristic` with `lsl`, `usl`, `target`), with the
  plant file's `[machines.quality.NAME]` changes applied;
- sensors: `lsl`, `usl`, `target` on a sensor spec (or in its plant-file changes), for types that define them;
- ideal cycle time: the machine entry's (or type default's) `ideal_cycle_s`, else the type's class attribute;
- shift calendar and OEE settings (small-stop threshold, start-up window): the plant file's `[calendar]`, `[oee]`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smartfactory.kpi import OeeSettings, ShiftCalendar
from smartfactory.settings import Settings
from smartfactory.sim.loader import discover
from smartfactory.sim.plant import load_plant, resolve_plant_file


@dataclass(frozen=True, slots=True)
class SpecLimits:
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None

    @property
    def known(self) -> bool:
        return self.lsl is not None or self.usl is not None


@dataclass(frozen=True, slots=True)
class PlantInfo:
    """Per machine path (`acme/plant1/machining/line-1/cnc-01`): limits and ideal cycle time; calendar, OEE."""

    name: str = ""
    sensor_specs: dict[str, dict[str, SpecLimits]] = field(default_factory=dict)
    part_specs: dict[str, dict[str, SpecLimits]] = field(default_factory=dict)
    ideal_cycle_s: dict[str, float] = field(default_factory=dict)
    calendar: ShiftCalendar | None = None
    oee: OeeSettings | None = None
    problems: tuple[str, ...] = ()

    def spec_for_series(self, series: str) -> SpecLimits:
        """A sensor's limits; a series named like a part characteristic (its measurements) gets those."""
        machine, _, sensor = series.rpartition("/telemetry/")
        found = self.sensor_specs.get(machine, {}).get(sensor)
        return found if found is not None else self.spec_for_part(machine, sensor)

    def spec_for_part(self, machine: str, characteristic: str) -> SpecLimits:
        return self.part_specs.get(machine, {}).get(characteristic, SpecLimits())


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _get(source: Any, key: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)


def spec_of(*sources: Any) -> SpecLimits:
    """Limits from the first source that has each of `lsl`, `usl`, `target` (objects or mappings)."""
    found: dict[str, float | None] = {"lsl": None, "usl": None, "target": None}
    for key in found:
        for source in sources:
            value = _number(_get(source, key))
            if value is not None:
                found[key] = value
                break
    return SpecLimits(found["lsl"], found["usl"], found["target"])


def _specs(defined: Any, changes: Any) -> dict[str, SpecLimits]:
    """Limits per name from a type's specs (`{name: spec}`) overlaid by the plant file's changes."""
    if not isinstance(defined, Mapping):
        return {}
    changed = changes if isinstance(changes, Mapping) else {}
    specs = {str(name): spec_of(changed.get(name, {}), spec) for name, spec in defined.items()}
    return {name: limits for name, limits in specs.items() if limits.known}


def load_plant_info(settings: Settings) -> PlantInfo:
    """Read the plant and its machine types; never raises (problems are collected instead)."""
    try:
        plant = load_plant(resolve_plant_file(settings.sim.plant, settings.sim.dir))
        catalog = discover(settings.sim.dir)
    except Exception as exc:  # a broken plant file must not break the dashboard
        return PlantInfo(problems=(f"plant configuration not readable: {exc}",))
    problems = list(catalog.problems)
    sensor_specs: dict[str, dict[str, SpecLimits]] = {}
    part_specs: dict[str, dict[str, SpecLimits]] = {}
    cycles: dict[str, float] = {}
    for spec in plant.machines:
        machine = str(spec.path)
        machine_type = catalog.types.get(spec.type)
        if machine_type is None:
            problems.append(f"{machine}: machine type {spec.type!r} not found")
            continue
        cls: Any = machine_type.cls
        sensor_specs[machine] = _specs(getattr(cls, "sensors", {}), getattr(spec, "sensors", {}))
        part_specs[machine] = _specs(getattr(cls, "quality", {}), getattr(spec, "quality", {}))
        cycle = _number(getattr(spec, "ideal_cycle_s", None)) or _number(getattr(cls, "ideal_cycle_s", None))
        if cycle is not None and cycle > 0:
            cycles[machine] = cycle
    oee = getattr(plant, "oee", None)
    return PlantInfo(
        name=plant.name,
        sensor_specs=sensor_specs,
        part_specs=part_specs,
        ideal_cycle_s=cycles,
        calendar=getattr(plant, "calendar", None),
        oee=oee if isinstance(oee, OeeSettings) else None,
        problems=tuple(problems),
    )
