"""Is a machine type's declaration sane? Spec limits around the target, noise not negative, AR(1) φ below 1,
names usable as topic levels, units short enough for the wire, behaviours and recipes that are behaviour objects
on signals the type has, hooks written for the current API. The loader skips (and reports) types that are not;
the contract test runs it over every discovered type."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

from smartfactory.sim.machine import Characteristic, Machine, Sensor, StateModel
from smartfactory.sim.signals import Behaviour


def check_machine_type(cls: type[Machine]) -> list[str]:
    """What is wrong with a machine type's declaration (empty when it is sane)."""
    problems: list[str] = []
    if not cls.sensors and not cls.quality:
        problems.append("declares no sensors and no quality characteristics")
    if not (cls.sample_interval_s > 0 and math.isfinite(cls.sample_interval_s)):
        problems.append(f"sample_interval_s must be > 0, is {cls.sample_interval_s!r}")
    if not (cls.ideal_cycle_s > 0 and math.isfinite(cls.ideal_cycle_s)):
        problems.append(f"ideal_cycle_s must be > 0, is {cls.ideal_cycle_s!r}")
    if not isinstance(cls.state_model, StateModel):
        problems.append("state_model must be a StateModel(...)")
    problems.extend(check_specs(cls.sensors, cls.quality))
    problems.extend(_behaviour_problems(cls))
    problems.extend(_hook_problems(cls))
    return problems


def _behaviour_problems(cls: type[Machine]) -> list[str]:
    signals = set(cls.sensors) | set(cls.quality)
    problems: list[str] = []
    for signal, declared in cls.behaviours.items():
        items = [declared] if isinstance(declared, Behaviour) else declared
        if signal not in signals:
            problems.append(f"behaviours: no sensor or characteristic {signal!r}")
        if not isinstance(items, list | tuple) or not all(isinstance(b, Behaviour) for b in items):
            problems.append(
                f"behaviours[{signal!r}] must be a behaviour such as Cycle(amplitude=1.0) or a list of them"
            )
    for name, recipe in cls.recipes.items():
        if not isinstance(recipe, Mapping):
            problems.append(
                f"recipe {name!r} must map signals to behaviours, e.g. {{'diameter': Drift(per_hour=0.01)}}"
            )
            continue
        for signal, behaviour in recipe.items():
            if signal not in signals:
                problems.append(f"recipe {name!r}: no sensor or characteristic {signal!r}")
            if isinstance(behaviour, tuple) and len(behaviour) == 2 and isinstance(behaviour[0], str):
                kind = "".join(part.title() for part in behaviour[0].split("_"))
                problems.append(
                    f"recipe {name!r}: write {signal!r}: {kind}(...) instead of the tuple {behaviour!r} "
                    "(faults are behaviour objects now)"
                )
            elif not isinstance(behaviour, Behaviour):
                problems.append(f"recipe {name!r}: {signal!r} must be a behaviour such as Drift(per_hour=0.01)")
    return problems


def _hook_problems(cls: type[Machine]) -> list[str]:
    """Hooks still written for the old API, `sample(self, t_s)`: they now receive a read-only context."""
    problems: list[str] = []
    for hook in ("sample", "measure"):
        method = getattr(cls, hook)
        if method is getattr(Machine, hook):
            continue
        try:
            params = list(inspect.signature(method).parameters)
        except (TypeError, ValueError):
            continue
        if len(params) >= 2 and params[1] == "t_s":
            problems.append(
                f"{hook}(self, t_s) is the old hook: write {hook}(self, ctx), call super().{hook}(ctx) and read "
                f"ctx.t_s, ctx.level(...), ctx.sensors[...] (see docs/simulator-tutorial.md)"
            )
    judge = cls.judge
    if judge is not Machine.judge:
        try:
            if len(inspect.signature(judge).parameters) == 2:
                problems.append("judge(self, measurements) is the old hook: write judge(self, ctx, measurements)")
        except (TypeError, ValueError):
            pass
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
        if s.lsl is not None and s.usl is not None and not s.lsl < s.usl:
            problems.append(f"sensor {name!r}: lsl {s.lsl} must be below usl {s.usl}")
        problems.extend(_decimals_problems(name, s.decimals) + _weight_problems(f"sensor {name!r}", s.alarm_weight))
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
        if not (isinstance(c.wear_offset_parts, int) and c.wear_offset_parts >= 0):
            problems.append(
                f"characteristic {name!r}: wear_offset_parts must be a whole number ≥ 0 (0: no compensation)"
            )
        problems.extend(
            _decimals_problems(name, c.decimals) + _weight_problems(f"characteristic {name!r}", c.alarm_weight)
        )
    return problems


def _weight_problems(what: str, weight: object) -> list[str]:
    ok = isinstance(weight, int | float) and not isinstance(weight, bool) and 0 < weight < math.inf
    return [] if ok else [f"{what}: alarm_weight must be a positive number (default 1), is {weight!r}"]


def _decimals_problems(name: str, decimals: object) -> list[str]:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 15:
        return [f"{name!r}: decimals must be a whole number from 0 to 15, is {decimals!r}"]
    return []


def _name_problems(name: str) -> list[str]:
    if not name or len(name) > 100 or any(ch in "/+#" or ord(ch) < 32 for ch in name):
        return [f"name {name!r} cannot be a topic level (no '/', '+', '#', at most 100 characters)"]
    return []


def _unit_problems(name: str, unit: str) -> list[str]:
    return [f"{name!r}: unit {unit!r} is longer than 32 characters"] if len(unit) > 32 else []
