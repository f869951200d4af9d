"""What the CLI tells people about simulators: `simulators list` lines, fault kinds, and which machine a short
name like `cnc-02` means in the configured plant."""

from __future__ import annotations

from pathlib import Path

from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.plant import MachineSpec, load_plant, resolve_plant_file
from smartfactory.sim.lifecycle import MACHINE_FAULTS
from smartfactory.sim.loader import Catalog, MachineType, discover
from smartfactory.sim.signals import FAULT_KINDS
from smartfactory.wire import MachinePath


def _number(value: float) -> str:
    return f"{value:g}"


def type_lines(name: str, machine_type: MachineType) -> list[str]:
    cls = machine_type.cls
    every = cls.sample_interval_s
    sensors = ", ".join(
        f"{n} [{s.unit}" + (f", every {_number(s.every_s)} s]" if s.every_s and s.every_s != every else "]")
        for n, s in cls.sensors.items()
    )
    lines = [f"{name}  ({machine_type.source})", f"  {machine_type.summary or '(no docstring)'}"]
    lines.append(f"  sensors every {_number(every)} s: {sensors or 'none'}")
    if cls.quality:
        chars = []
        for n, c in cls.quality.items():
            limits = ""
            if c.lsl is not None or c.usl is not None:
                lo = "" if c.lsl is None else _number(c.lsl)
                hi = "" if c.usl is None else _number(c.usl)
                limits = f" {lo}..{hi}"
            chars.append(f"{n} [{c.unit}]{limits}")
        lines.append(f"  per part (ideal cycle {_number(cls.ideal_cycle_s)} s): {', '.join(chars)}")
    if cls.recipes:
        lines.append(f"  own faults: {', '.join(cls.recipes)}")
    return lines


def catalog_lines(catalog: Catalog) -> list[str]:
    """Every machine type: name, source, summary, sensors with units, characteristics with limits, faults."""
    lines: list[str] = []
    for name, machine_type in sorted(catalog.types.items()):
        lines.extend(type_lines(name, machine_type))
    lines.append("")
    lines.append("faults for `smartfactory inject MACHINE FAULT` and scenarios:")
    lines.extend(f"  {kind:<17} {text}" for kind, text in {**FAULT_KINDS, **MACHINE_FAULTS}.items())
    return lines


def resolve_machine(ref: str, sim_dir: Path, plant: str) -> tuple[MachinePath, MachineSpec | None]:
    """The machine `ref` names: a full path as is, else a name or line/name looked up in the plant file."""
    levels = ref.split("/")
    if len(levels) == 5:
        path = MachinePath(*levels)
        try:
            specs = load_plant(resolve_plant_file(plant, sim_dir)).machines
        except ConfigError:
            return path, None
        return path, next((s for s in specs if s.path == path), None)
    spec = load_plant(resolve_plant_file(plant, sim_dir)).find(ref)
    return spec.path, spec


def check_fault(spec: MachineSpec | None, sim_dir: Path, fault: str, sensor: str | None) -> None:
    """Refuse a fault kind or sensor the machine's type does not have, before anything is sent."""
    if spec is None:
        return
    try:
        machine_type = discover(sim_dir).get(spec.type)
    except SimulatorError:
        return  # the simulator will say so itself
    cls = machine_type.cls
    kinds = [*FAULT_KINDS, *MACHINE_FAULTS, *cls.recipes]
    if fault not in kinds:
        raise ConfigError(f"{spec.path.machine} ({spec.type}) knows no fault {fault!r}; it knows: {', '.join(kinds)}")
    signals = [*cls.sensors, *cls.quality]
    if sensor is not None and sensor not in signals:
        raise ConfigError(f"{spec.path.machine} ({spec.type}) has no sensor {sensor!r}; it has: {', '.join(signals)}")
