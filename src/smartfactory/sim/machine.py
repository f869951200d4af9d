"""The base class a simulator file extends: a machine type with sensors.

A student's machine type is one short file in `simulators/` with one `Machine` subclass::

    class Kettle(Machine):
        \"\"\"An electric kettle.\"\"\"
        sensors = {"water_temp": Sensor(unit="°C", nominal=95.0, sd=0.4, phi=0.6)}

The runner calls `sample(t_s)` at every sampling instant; override it to add behaviour on top of the default
(nominal + autocorrelated noise + any injected fault).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from smartfactory.sim.signals import AR1


@dataclass(frozen=True, slots=True)
class Sensor:
    """One sensor: unit, nominal value, noise standard deviation and AR(1) coefficient."""

    unit: str
    nominal: float
    sd: float = 0.0
    phi: float = 0.0
    decimals: int = 3


@dataclass(slots=True)
class Fault:
    """An active fault on one sensor: `offset` is added, `scale` multiplies the noise."""

    name: str
    sensor: str | None
    started_s: float
    params: dict[str, float] = field(default_factory=dict)


class Machine:
    """A machine type. Subclasses set `sensors` (and optionally override `sample`)."""

    sensors: ClassVar[dict[str, Sensor]] = {}
    #: Seconds between two samples of all sensors.
    sample_interval_s: ClassVar[float] = 1.0

    def __init__(self, name: str, rng: np.random.Generator, overrides: dict[str, Any] | None = None) -> None:
        self.name = name
        self.rng = rng
        self.sensor_specs = dict(self.sensors)
        for sensor, changes in (overrides or {}).items():
            base = self.sensor_specs[sensor]
            self.sensor_specs[sensor] = Sensor(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})
        self.noise = {name: AR1(spec.sd, spec.phi) for name, spec in self.sensor_specs.items()}
        self.faults: list[Fault] = []

    def sample(self, t_s: float) -> dict[str, float]:
        """Values of every sensor at simulated time `t_s` (seconds since the run started)."""
        values: dict[str, float] = {}
        for name, spec in self.sensor_specs.items():
            values[name] = spec.nominal + self.noise[name].next(self.rng) + self.fault_effect(name, t_s)
        return {name: round(value, self.sensor_specs[name].decimals) for name, value in values.items()}

    def fault_effect(self, sensor: str, t_s: float) -> float:
        """Offset the active faults add to `sensor` now: `shift` adds `size`; `drift` adds `rate`·elapsed."""
        total = 0.0
        for fault in self.faults:
            if fault.sensor not in (None, sensor):
                continue
            if fault.name == "shift":
                total += fault.params.get("size", 0.0)
            elif fault.name == "drift":
                total += fault.params.get("rate", 0.0) * (t_s - fault.started_s)
        return total

    def inject(self, fault: str, sensor: str | None, t_s: float, params: dict[str, float]) -> None:
        self.faults.append(Fault(fault, sensor, t_s, params))

    def clear(self) -> None:
        self.faults.clear()
