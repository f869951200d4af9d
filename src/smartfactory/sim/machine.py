"""The base class a simulator file extends: a machine type with sensors, part characteristics and a state model.

A student's machine type is one short file in `simulators/` with one `Machine` subclass::

    class Kettle(Machine):
        \"\"\"An electric kettle.\"\"\"
        sensors = {"water_temp": Sensor(unit="°C", nominal=95.0, sd=0.4, idle=20.0, tau_s=300)}

Everything else has defaults. Hooks, all optional:

- `setup()`: called once; attach permanent behaviours with `self.add(signal, Behaviour)`.
- `sample(t_s)`: the telemetry of one instant; call `super().sample(t_s)` and change the values.
- `measure(t_s)`: the quality characteristics of one finished part; same pattern.
- `judge(measurements)`: good (True) or scrap; default: every characteristic inside its spec limits.

The engine runs the machine (states, cycles, parts) and keeps these attributes up to date for the hooks:
`state` ("running", "idle", "setup", "down", "planned"), `run_s` (operating seconds), `parts_made`,
`parts_scrap`, `tool_parts` (parts since the last tool change) and `last_cycle_s`.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.sim.signals import AR1, FAULT_KINDS, Behaviour, Draws, approach, make_behaviour

#: A compound fault: signal → (signal fault kind, its parameters). `k` scales every number when injected.
Recipe = Mapping[str, tuple[str, Mapping[str, float]]]


@dataclass(frozen=True, slots=True)
class Sensor:
    """A continuously sampled sensor.

    - `unit`, `nominal` (the level while producing), `sd` (noise standard deviation), `phi` (AR(1)
      autocorrelation, 0 = white noise, below 1), `decimals` (rounding of published values).
    - `idle`: the level the sensor heads for while the machine is not producing (spindle speed 0, ambient
      temperature); None keeps the nominal level (a heater-controlled barrel). `tau_s`: how fast it gets
      there and back (first-order time constant; 0 = at once). `idle_sd`: noise while not producing
      (None = `sd`).
    - `every_s`: sample less often than the machine (a multiple of its `sample_interval_s`).
    - `low` / `high`: physical limits the value is clipped to (0 rpm).
    """

    unit: str
    nominal: float
    sd: float = 0.0
    phi: float = 0.0
    decimals: int = 3
    idle: float | None = None
    tau_s: float = 0.0
    idle_sd: float | None = None
    every_s: float | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class Characteristic:
    """A quality characteristic measured on every part, with optional spec limits (LSL, USL).

    A part is scrap when any characteristic with limits lies outside them. `wear_per_part` is tool wear: the
    mean grows by this much per part since the last tool change.
    """

    unit: str
    target: float
    sd: float
    lsl: float | None = None
    usl: float | None = None
    decimals: int = 4
    phi: float = 0.0
    wear_per_part: float = 0.0


@dataclass(frozen=True, slots=True)
class StateModel:
    """How a machine stops and starts. Times are seconds; 0 switches a mechanism off.

    - Breakdowns: mean operating time between failures `mtbf_s`, repair time `mttr_s` (log-normal).
    - Small stops (`small_stop_reason`, e.g. a jam) every `small_stop_every_s` operating seconds on average,
      lasting `small_stop_s` on average; starvation (state idle) likewise with `idle_every_s` / `idle_s`.
    - Tool changes (down/tool_change) every `tool_life_parts` parts, lasting `tool_change_s`; they reset wear.
    - Changeovers (setup/changeover) every `changeover_every_parts` parts, lasting `changeover_s`.
    - Cycle time per part: ideal × (1 + `speed_loss`) with relative noise `cycle_cv`, never below the ideal.
    """

    mtbf_s: float = 0.0
    mttr_s: float = 1800.0
    small_stop_every_s: float = 0.0
    small_stop_s: float = 60.0
    small_stop_reason: str = "jam"
    idle_every_s: float = 0.0
    idle_s: float = 60.0
    tool_life_parts: int = 0
    tool_change_s: float = 300.0
    changeover_every_parts: int = 0
    changeover_s: float = 900.0
    speed_loss: float = 0.05
    cycle_cv: float = 0.02


def stream(seed: int, key: str, purpose: str) -> Draws:
    """A random stream that depends only on the seed, the machine's key (its path) and the purpose."""
    spawn = (zlib.crc32(key.encode()), zlib.crc32(purpose.encode()))
    return Draws(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn)))


def _replace(obj: Any, changes: Mapping[str, Any], what: str) -> Any:
    allowed = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ConfigError(f"{what}: unknown setting(s) {unknown}; allowed are {sorted(allowed)}")
    return dataclasses.replace(obj, **changes)


class Machine:
    """A machine type. Subclasses set `sensors` and usually `quality`, `ideal_cycle_s` and `states`."""

    sensors: ClassVar[dict[str, Sensor]] = {}
    quality: ClassVar[dict[str, Characteristic]] = {}
    #: Seconds between two samples of the sensors.
    sample_interval_s: ClassVar[float] = 1.0
    #: The fastest possible time for one part (the OEE ideal cycle time), seconds.
    ideal_cycle_s: ClassVar[float] = 60.0
    states: ClassVar[StateModel] = StateModel()
    #: Named compound faults of this type, e.g. {"tool_wear": {"diameter": ("drift", {"per_hour": 0.01})}}.
    recipes: ClassVar[dict[str, Recipe]] = {}

    def __init__(
        self,
        name: str = "machine",
        *,
        seed: int = 0,
        key: str | None = None,
        sensors: Mapping[str, Mapping[str, Any]] | None = None,
        quality: Mapping[str, Mapping[str, Any]] | None = None,
        states: Mapping[str, Any] | None = None,
        ideal_cycle_s: float | None = None,
        sample_interval_s: float | None = None,
    ) -> None:
        self.name = name
        self.seed = seed
        self.key = key or name
        self.sensor_specs: dict[str, Sensor] = dict(self.sensors)
        self.quality_specs: dict[str, Characteristic] = dict(self.quality)
        for sensor, changes in (sensors or {}).items():
            if sensor not in self.sensor_specs:
                raise ConfigError(f"{name}: no sensor {sensor!r} to override; it has {sorted(self.sensor_specs)}")
            self.sensor_specs[sensor] = _replace(self.sensor_specs[sensor], changes, f"{name} sensor {sensor}")
        for char, changes in (quality or {}).items():
            if char not in self.quality_specs:
                raise ConfigError(f"{name}: no characteristic {char!r}; it has {sorted(self.quality_specs)}")
            self.quality_specs[char] = _replace(self.quality_specs[char], changes, f"{name} characteristic {char}")
        self.state_model: StateModel = _replace(self.states, states or {}, f"{name} states")
        self.ideal_s = float(ideal_cycle_s if ideal_cycle_s is not None else self.ideal_cycle_s)
        self.units = {n: s.unit for n, s in self.sensor_specs.items()} | {
            n: c.unit for n, c in self.quality_specs.items()
        }
        # run-time state, kept up to date by the engine
        self.state = "running"
        self.run_s = 0.0
        self.tick = 0
        self.parts_made = 0
        self.parts_scrap = 0
        self.tool_parts = 0
        self.last_cycle_s = self.ideal_s
        self._draws = {n: stream(seed, self.key, f"signal/{n}") for n in self.units}
        self._noise = {n: AR1(1.0, self._phi(n)) for n in self.units}
        self._level = {n: s.nominal for n, s in self.sensor_specs.items()}
        self._level_t = dict.fromkeys(self.sensor_specs, 0.0)
        interval = float(sample_interval_s if sample_interval_s is not None else self.sample_interval_s)
        if not (interval > 0 and math.isfinite(interval)):
            raise ConfigError(f"{name}: sample_interval_s must be a positive number of seconds, got {interval!r}")
        #: Seconds between two samples of this machine (the class's `sample_interval_s` or the plant's).
        self.interval_s = interval
        self._every = {n: max(1, round((s.every_s or interval) / interval)) for n, s in self.sensor_specs.items()}
        self._rows = [
            (n, spec, self._every[n], self._noise[n], self._draws[n]) for n, spec in self.sensor_specs.items()
        ]
        self._permanent: dict[str, list[Behaviour]] = {}
        self._faults: list[tuple[str, str, Behaviour]] = []
        self._active: dict[str, list[Behaviour]] = {}
        self.setup()

    def _phi(self, signal: str) -> float:
        spec = self.sensor_specs.get(signal)
        return spec.phi if spec is not None else self.quality_specs[signal].phi

    # ------------------------------------------------------------------------------------------ hooks

    def setup(self) -> None:
        """Called once after construction: attach permanent behaviours with `self.add(...)`."""

    def sample(self, t_s: float) -> dict[str, float]:
        """Values of the sensors due at simulated time `t_s` (seconds since the run started)."""
        values: dict[str, float] = {}
        producing = self.state == "running"
        tick = self.tick
        levels, level_t, active = self._level, self._level_t, self._active
        for name, spec, every, noise, draws in self._rows:
            if tick % every:
                continue
            if producing or spec.idle is None:
                target, sd = spec.nominal, spec.sd
            else:
                target, sd = spec.idle, spec.sd if spec.idle_sd is None else spec.idle_sd
            level = approach(levels[name], target, t_s - level_t[name], spec.tau_s) if spec.tau_s > 0 else target
            levels[name], level_t[name] = level, t_s
            if name in active:
                value = self._signal(name, level, sd, t_s)
                if value is None:
                    continue
            else:
                value = level + noise.next(draws) * sd
            if spec.low is not None and value < spec.low:
                value = spec.low
            if spec.high is not None and value > spec.high:
                value = spec.high
            values[name] = round(value, spec.decimals)
        return values

    def measure(self, t_s: float) -> dict[str, float]:
        """The characteristics of the part finished at `t_s` (a missing one is not measured)."""
        values: dict[str, float] = {}
        for name, spec in self.quality_specs.items():
            mean = spec.target + spec.wear_per_part * self.tool_parts
            value = self._signal(name, mean, spec.sd, t_s)
            if value is not None:
                values[name] = round(value, spec.decimals)
        return values

    def judge(self, measurements: Mapping[str, float]) -> bool:
        """Good (True) when every measured characteristic with limits is inside them."""
        for name, value in measurements.items():
            spec = self.quality_specs.get(name)
            if spec is None:
                continue
            if (spec.lsl is not None and value < spec.lsl) or (spec.usl is not None and value > spec.usl):
                return False
        return True

    # ------------------------------------------------------------------------------------------ helpers

    def level(self, sensor: str, t_s: float | None = None) -> float:
        """The noise-free level of `sensor` (at `t_s`, following its time constant), e.g. for couplings."""
        spec = self.sensor_specs[sensor]
        if t_s is None:
            return self._level[sensor]
        target = spec.nominal if self.state == "running" or spec.idle is None else spec.idle
        return approach(self._level[sensor], target, t_s - self._level_t[sensor], spec.tau_s)

    def settle(self, t_s: float) -> None:
        """Bring every level up to `t_s` under the current state (the engine calls it before a state change)."""
        for name in self.sensor_specs:
            self._level[name] = self.level(name, t_s)
            self._level_t[name] = t_s

    def add(self, signal: str, behaviour: Behaviour, t_s: float = 0.0) -> None:
        """Attach a permanent behaviour (not removed by a repair) to a sensor or characteristic."""
        self._check_signal(signal)
        behaviour.start(t_s, self.run_s)
        self._permanent.setdefault(signal, []).append(behaviour)
        self._rebuild()

    def _signal(self, name: str, level: float, sd: float, t_s: float) -> float | None:
        noise = self._noise[name].next(self._draws[name]) * sd
        behaviours = self._active.get(name)
        if not behaviours:
            return level + noise
        gain, offset = 1.0, 0.0
        for b in behaviours:
            gain *= b.gain(t_s, self.run_s)
            offset += b.offset(t_s, self.run_s)
        value: float | None = level + noise * gain + offset
        for b in behaviours:
            if value is None:
                break
            value = b.post(value)
        return value

    def _check_signal(self, signal: str) -> None:
        if signal not in self.units:
            raise SimulatorError(f"{self.name} has no sensor or characteristic {signal!r}; it has {sorted(self.units)}")

    def _rebuild(self) -> None:
        active: dict[str, list[Behaviour]] = {k: list(v) for k, v in self._permanent.items()}
        for _, signal, behaviour in self._faults:
            active.setdefault(signal, []).append(behaviour)
        self._active = active

    # ------------------------------------------------------------------------------------------ faults

    def signal_sd(self, signal: str) -> float:
        spec = self.sensor_specs.get(signal)
        return spec.sd if spec is not None else self.quality_specs[signal].sd

    def inject(self, kind: str, signal: str | None, params: Mapping[str, float | str], t_s: float) -> list[str]:
        """Start a signal fault (or a compound fault from `recipes`); return the signals it acts on."""
        if kind in self.recipes:
            unknown = set(params) - {"k"}
            if unknown:
                raise SimulatorError(f"{kind} takes only k (a factor on its rates), not {sorted(unknown)}")
            k = float(params.get("k", 1.0))
            touched = []
            for target, (sub, sub_params) in self.recipes[kind].items():
                if signal is None or signal == target:
                    self._attach(kind, sub, target, {p: v * k for p, v in sub_params.items()}, t_s)
                    touched.append(target)
            return touched
        if kind not in FAULT_KINDS:
            known = ", ".join([*FAULT_KINDS, *self.recipes])
            raise SimulatorError(f"unknown fault {kind!r} for {self.name}; known: {known}, breakdown, slowdown")
        if signal is None and ({"size", "rate", "per_hour", "amplitude"} & set(params)):
            raise SimulatorError(f"{kind} with a size in units needs --sensor (or give the size in sigmas)")
        targets = [signal] if signal is not None else list(self.units)
        for target in targets:
            self._attach(kind, kind, target, params, t_s)
        return targets

    def _attach(self, name: str, kind: str, signal: str, params: Mapping[str, float | str], t_s: float) -> None:
        self._check_signal(signal)
        draws = stream(self.seed, self.key, f"fault/{name}/{signal}/{round(t_s * 1000)}")
        behaviour = make_behaviour(kind, params, sd=self.signal_sd(signal), draws=draws)
        behaviour.start(t_s, self.run_s)
        self._faults.append((name, signal, behaviour))
        self._rebuild()

    def clear(self, kind: str | None = None) -> list[str]:
        """Remove the faults of `kind` (all when None); return the kinds removed, in order of injection."""
        removed = list(dict.fromkeys(name for name, _, _ in self._faults if kind in (None, name)))
        self._faults = [f for f in self._faults if kind not in (None, f[0])]
        self._rebuild()
        return removed

    @property
    def fault_names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _, _ in self._faults))
