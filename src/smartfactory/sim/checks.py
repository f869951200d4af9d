"""Is a machine type's declaration sane? Spec limits around the target, noise not negative, AR(1) φ below 1,
names usable as topic levels, units short enough for the wire. The loader skips (and reports) types that are
not; the contract test runs it over every discovered type."""

from __future__ import annotations

import math
from collections.abc import Mapping

from smartfactory.sim.machine import Characteristic, Machine, Sensor


def check_machine_type(cls: type[Machine]) -> list[str]:
    """What is wrong with a machine type's declaration (empty when it is sane)."""
    problems: list[str] = []
    if not cls.sensors and not cls.quality:
        problems.append("declares no sensors and no quality characteristics")
    if not (cls.sample_interval_s > 0 and math.isfinite(cls.sample_interval_s)):
        problems.append(f"sample_interval_s must be > 0, is {cls.sample_interval_s!r}")
    if not (cls.ideal_cycle_s > 0 and math.isfinite(cls.ideal_cycle_s)):
        problems.append(f"ideal_cycle_s must be > 0, is {cls.ideal_cycle_s!r}")
    problems.extend(check_specs(cls.sensors, cls.quality))
    return problems


def check_specs(sensors: Mapping[str, Sensor], quality: Mapping[str, Characteristic]) -> list[str]:
    problems: list[str] = []
    for name in set(sensors) & set(quality):
        problems.append(f"{name!r} is both a sensor and a characteristic: give them different names")
    for name, s in sensors.items():
        if not isinstance(s, Sensor):
            problems.append(f"sensor {name!r} is not a Sensor(...)")
            continue
        problems.extend(_name_problems(name) + _unit_problems(name, s.unit))
        if not (s.sd >= 0 and math.isfinite(s.nominal)):
            problems.append(f"sensor {name!r}: nominal must be finite and sd ≥ 0")
        if not 0 <= s.phi < 1:
            problems.append(f"sensor {name!r}: phi must lie in [0, 1), is {s.phi}")
        if s.low is not None and s.high is not None and s.low >= s.high:
            problems.append(f"sensor {name!r}: low {s.low} must be below high {s.high}")
    for name, c in quality.items():
        if not isinstance(c, Characteristic):
            problems.append(f"characteristic {name!r} is not a Characteristic(...)")
            continue
        problems.extend(_name_problems(name) + _unit_problems(name, c.unit))
        if not 0 <= c.phi < 1 or c.sd < 0:
            problems.append(f"characteristic {name!r}: need sd ≥ 0 and phi in [0, 1)")
        if c.lsl is not None and not c.lsl < c.target:
            problems.append(f"characteristic {name!r}: LSL {c.lsl} must be below the target {c.target}")
        if c.usl is not None and not c.target < c.usl:
            problems.append(f"characteristic {name!r}: USL {c.usl} must be above the target {c.target}")
    return problems


def _name_problems(name: str) -> list[str]:
    if not name or len(name) > 100 or any(ch in "/+#" or ord(ch) < 32 for ch in name):
        return [f"name {name!r} cannot be a topic level (no '/', '+', '#', at most 100 characters)"]
    return []


def _unit_problems(name: str, unit: str) -> list[str]:
    return [f"{name!r}: unit {unit!r} is longer than 32 characters"] if len(unit) > 32 else []
