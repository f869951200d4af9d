"""A machine type placed in a running simulation, engine side: its resolved specs, its signals' levels, noise and
behaviours, the faults injected into it and its counters (pure: no I/O).

`LiveMachine` owns everything that changes while the plant runs; the student's `Machine` object only declares
and answers hooks. Each hook gets the machine's `Context`, a read-only view of this state at one instant.

A reading is built as `signals` describes: level (nominal or idle, approached with the sensor's time constant)
+ gain · noise + Σ offsets, then each behaviour's `post`, clipped to `low`/`high` and rounded to `decimals`.
Every random number comes from a stream seeded by (seed, machine key, purpose), so a fault changes only the
signal it touches.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.sim.machine import Characteristic, Machine, Sensor, StateModel
from smartfactory.sim.signals import AR1, FAULT_KINDS, Behaviour, approach, make_behaviour, stream
from smartfactory.wire import MachineInfo, SignalInfo

log = logging.getLogger(__name__)


def hook_line(cls: type, hook: str, signal: str) -> str:
    """`file:line` in the student's file: the line of the hook `cls.hook` that names `signal` (where its value
    is set, as a rule), else the hook's first line."""
    func = getattr(cls, hook, None)
    code = getattr(func, "__code__", None)
    if code is None:
        return cls.__module__
    line = code.co_firstlineno
    try:
        source, first = inspect.getsourcelines(code)
    except (OSError, TypeError):
        source, first = [], line
    quoted = (f'"{signal}"', f"'{signal}'")
    line = next((first + i for i, text in enumerate(source) if any(q in text for q in quoted)), line)
    return f"{code.co_filename}:{line}"


class Context:
    """What a hook may read about its machine at one instant (read-only; the engine keeps it up to date).

    - `t_s`: simulated seconds since the run started; `name`: the machine's name in the plant.
    - `state`: "running", "idle", "setup", "down" or "planned"; `run_s`: operating seconds so far.
    - `parts_made`, `parts_scrap`, `tool_parts` (parts since the last tool change), `last_cycle_s`.
    - `sensors`, `quality`: the specs of this machine, the plant file's changes applied.
    - `values`: what the base class's `sample` / `measure` returns now (readings or measurements).
    - `level(sensor)`: the noise-free level of a sensor now (it follows `idle` and `tau_s` while stopped).
    """

    __slots__ = ("_live", "_t_s", "_values")

    def __init__(self, live: LiveMachine) -> None:
        self._live = live
        self._t_s = 0.0
        self._values: dict[str, float] = {}

    @property
    def t_s(self) -> float:
        return self._t_s

    @property
    def name(self) -> str:
        return self._live.name

    @property
    def state(self) -> str:
        return self._live.state

    @property
    def run_s(self) -> float:
        return self._live.run_s

    @property
    def parts_made(self) -> int:
        return self._live.parts_made

    @property
    def parts_scrap(self) -> int:
        return self._live.parts_scrap

    @property
    def tool_parts(self) -> int:
        return self._live.tool_parts

    @property
    def last_cycle_s(self) -> float:
        return self._live.last_cycle_s

    @property
    def sensors(self) -> Mapping[str, Sensor]:
        return self._live.sensors

    @property
    def quality(self) -> Mapping[str, Characteristic]:
        return self._live.quality

    @property
    def values(self) -> dict[str, float]:
        return self._values

    def level(self, sensor: str) -> float:
        """The noise-free level of `sensor` now, following its time constant."""
        return self._live.level(sensor, self._t_s)


def _replace(obj: Any, changes: Mapping[str, Any], what: str) -> Any:
    allowed = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ConfigError(f"{what}: unknown setting(s) {unknown}; allowed are {sorted(allowed)}")
    return dataclasses.replace(obj, **changes)


class LiveMachine:
    """One machine of a running simulation. `sensors`, `quality`, `state_model`, `ideal_cycle_s` and
    `sample_interval_s` are the plant file's changes to the type's declarations."""

    def __init__(
        self,
        machine: Machine,
        name: str = "machine",
        *,
        seed: int = 0,
        key: str | None = None,
        sensors: Mapping[str, Mapping[str, Any]] | None = None,
        quality: Mapping[str, Mapping[str, Any]] | None = None,
        state_model: Mapping[str, Any] | None = None,
        ideal_cycle_s: float | None = None,
        sample_interval_s: float | None = None,
    ) -> None:
        cls = type(machine)
        self.machine = machine
        self.name = name
        self.seed = seed
        self.key = key or name
        sensor_specs: dict[str, Sensor] = dict(cls.sensors)
        quality_specs: dict[str, Characteristic] = dict(cls.quality)
        for sensor, changes in (sensors or {}).items():
            if sensor not in sensor_specs:
                raise ConfigError(f"{name}: no sensor {sensor!r} to override; it has {sorted(sensor_specs)}")
            sensor_specs[sensor] = _replace(sensor_specs[sensor], changes, f"{name} sensor {sensor}")
        for char, changes in (quality or {}).items():
            if char not in quality_specs:
                raise ConfigError(f"{name}: no characteristic {char!r}; it has {sorted(quality_specs)}")
            quality_specs[char] = _replace(quality_specs[char], changes, f"{name} characteristic {char}")
        self.sensors: Mapping[str, Sensor] = MappingProxyType(sensor_specs)
        self.quality: Mapping[str, Characteristic] = MappingProxyType(quality_specs)
        self.state_model: StateModel = _replace(cls.state_model, state_model or {}, f"{name} state_model")
        self.ideal_s = float(ideal_cycle_s if ideal_cycle_s is not None else cls.ideal_cycle_s)
        self.units = {n: s.unit for n, s in sensor_specs.items()} | {n: c.unit for n, c in quality_specs.items()}
        interval = float(sample_interval_s if sample_interval_s is not None else cls.sample_interval_s)
        if not (interval > 0 and math.isfinite(interval)):
            raise ConfigError(f"{name}: sample_interval_s must be a positive number of seconds, got {interval!r}")
        #: Seconds between two samples of this machine (the class's `sample_interval_s` or the plant's).
        self.interval_s = interval
        # run-time state, kept up to date by the lifecycle (`MachineRun`)
        self.state = "running"
        self.run_s = 0.0
        self.tick = 0
        self.parts_made = 0
        self.parts_scrap = 0
        self.tool_parts = 0
        self.last_cycle_s = self.ideal_s
        self._draws = {n: stream(seed, self.key, f"signal/{n}") for n in self.units}
        self._noise = {n: AR1(1.0, self._phi(n)) for n in self.units}
        self._level = {n: s.nominal for n, s in sensor_specs.items()}
        self._level_t = dict.fromkeys(sensor_specs, 0.0)
        every = {n: max(1, round((s.every_s or interval) / interval)) for n, s in sensor_specs.items()}
        self._rows = [(n, spec, every[n], self._noise[n], self._draws[n]) for n, spec in sensor_specs.items()]
        self._permanent: dict[str, list[Behaviour]] = {}
        self._faults: list[tuple[str, str, Behaviour]] = []
        self._active: dict[str, list[Behaviour]] = {}
        for signal, declared in cls.behaviours.items():
            self._check_signal(signal)
            for index, behaviour in enumerate([declared] if isinstance(declared, Behaviour) else declared):
                draws = stream(seed, self.key, f"behaviour/{signal}/{index}")
                live = behaviour.begin(t_s=0.0, run_s=0.0, sd=self.signal_sd(signal), draws=draws)
                self._permanent.setdefault(signal, []).append(live)
        self._rebuild()
        self.ctx = Context(self)
        self._warned: set[tuple[str, str]] = set()  # (hook, signal) whose bad value was reported
        machine.setup()

    def _phi(self, signal: str) -> float:
        spec = self.sensors.get(signal)
        return spec.phi if spec is not None else self.quality[signal].phi

    # ------------------------------------------------------------------------------------------ hooks

    def sample(self, t_s: float) -> dict[str, float]:
        """The readings due at simulated time `t_s`, through the type's `sample` hook (values that are no finite
        number are dropped: `_numbers`)."""
        ctx = self.ctx
        ctx._t_s, ctx._values = t_s, self._sample(t_s)
        return self._numbers(self.machine.sample(ctx), "sample")

    def measure(self, t_s: float) -> dict[str, float]:
        """The characteristics of the part finished at `t_s`, through the type's `measure` hook."""
        ctx = self.ctx
        ctx._t_s, ctx._values = t_s, self._measure(t_s)
        return self._numbers(self.machine.measure(ctx), "measure")

    def _numbers(self, values: dict[str, float], hook: str) -> dict[str, float]:
        """`values` as a hook returned them, without those that are no finite number (a string, None, NaN): only
        the bad value is dropped, the others of the instant are kept, and the student's file and line are named
        in a warning (once per signal). Numbers, the usual case, pass without a copy: their sum (a C loop) is
        finite, while a string or None makes `sum` raise and a NaN or infinity makes it NaN or infinite."""
        try:
            total = sum(values.values())
        except TypeError:
            pass
        else:
            if total - total == 0.0:
                return values
        kept: dict[str, float] = {}
        for name, value in values.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
                kept[name] = float(value)
            elif (hook, name) not in self._warned:
                self._warned.add((hook, name))
                cls = type(self.machine)
                log.warning(
                    "%s: %s.%s returned %r for %r, which is not a finite number: that value is dropped, the other "
                    "values of the instant are kept (said once per signal of %s)",
                    hook_line(cls, hook, name), cls.__name__, hook, value, name, self.name,
                )  # fmt: skip
        return kept

    def judge(self, measurements: Mapping[str, float]) -> bool:
        return bool(self.machine.judge(self.ctx, measurements))

    def _sample(self, t_s: float) -> dict[str, float]:
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

    def _measure(self, t_s: float) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, spec in self.quality.items():
            worn = self.tool_parts % spec.wear_offset_parts if spec.wear_offset_parts > 0 else self.tool_parts
            mean = spec.target + spec.wear_per_part * worn
            value = self._signal(name, mean, spec.sd, t_s)
            if value is not None:
                values[name] = round(value, spec.decimals)
        return values

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

    # ------------------------------------------------------------------------------------------ levels

    def level(self, sensor: str, t_s: float | None = None) -> float:
        """The noise-free level of `sensor` (at `t_s`, following its time constant), e.g. for couplings."""
        spec = self.sensors[sensor]
        if t_s is None:
            return self._level[sensor]
        target = spec.nominal if self.state == "running" or spec.idle is None else spec.idle
        return approach(self._level[sensor], target, t_s - self._level_t[sensor], spec.tau_s)

    def settle(self, t_s: float) -> None:
        """Bring every level up to `t_s` under the current state (the lifecycle calls it before a state change)."""
        for name in self.sensors:
            self._level[name] = self.level(name, t_s)
            self._level_t[name] = t_s

    # ------------------------------------------------------------------------------------------ faults

    def signal_sd(self, signal: str) -> float:
        spec = self.sensors.get(signal)
        return spec.sd if spec is not None else self.quality[signal].sd

    def _check_signal(self, signal: str) -> None:
        if signal not in self.units:
            raise SimulatorError(f"{self.name} has no sensor or characteristic {signal!r}; it has {sorted(self.units)}")

    def _rebuild(self) -> None:
        active: dict[str, list[Behaviour]] = {k: list(v) for k, v in self._permanent.items()}
        for _, signal, behaviour in self._faults:
            active.setdefault(signal, []).append(behaviour)
        self._active = active

    def inject(self, kind: str, signal: str | None, params: Mapping[str, float | str], t_s: float) -> list[str]:
        """Start a signal fault (or a compound fault from the type's `recipes`); return the signals it acts on."""
        recipes = type(self.machine).recipes
        if kind in recipes:
            unknown = set(params) - {"k"}
            if unknown:
                raise SimulatorError(f"{kind} takes only k (a factor on its rates), not {sorted(unknown)}")
            k = float(params.get("k", 1.0))
            touched = []
            for target, behaviour in recipes[kind].items():
                if signal is None or signal == target:
                    self._attach(kind, behaviour.scaled(k), target, t_s)
                    touched.append(target)
            return touched
        if kind not in FAULT_KINDS:
            known = ", ".join([*FAULT_KINDS, *recipes])
            raise SimulatorError(f"unknown fault {kind!r} for {self.name}; known: {known}, breakdown, slowdown")
        if signal is None and ({"size", "rate", "per_hour", "amplitude"} & set(params)):
            raise SimulatorError(f"{kind} with a size in units needs --sensor (or give the size in sigmas)")
        declared = make_behaviour(kind, params)
        targets = [signal] if signal is not None else list(self.units)
        for target in targets:
            self._attach(kind, declared, target, t_s)
        return targets

    def _attach(self, name: str, declared: Behaviour, signal: str, t_s: float) -> None:
        self._check_signal(signal)
        draws = stream(self.seed, self.key, f"fault/{name}/{signal}/{round(t_s * 1000)}")
        live = declared.begin(t_s=t_s, run_s=self.run_s, sd=self.signal_sd(signal), draws=draws)
        self._faults.append((name, signal, live))
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

    # ------------------------------------------------------------------------------------------ facts

    def info(self, machine_type: str) -> MachineInfo:
        """The facts a reader needs about this machine (the birth message's `info`), plant-file changes applied."""
        signals: dict[str, SignalInfo] = {}
        for name, s in self.sensors.items():
            kind = "count" if s.count else "process"
            every = max(1, round((s.every_s or self.interval_s) / self.interval_s)) * self.interval_s  # as _sample
            settles = s.tau_s if s.tau_s > 0 and s.idle is not None else None  # a level it leaves while stopped
            interval = every if every != self.interval_s else None
            signals[name] = _signal_info(
                kind, s.unit, s.lsl, s.usl, s.target, s.decimals, interval, settles, s.alarm_weight
            )
        for name, c in self.quality.items():
            signals[name] = _signal_info(
                "quality", c.unit, c.lsl, c.usl, c.target, c.decimals, alarm_weight=c.alarm_weight
            )
        return MachineInfo(
            machine_type=machine_type,
            ideal_cycle_s=self.ideal_s,
            sample_interval_s=self.interval_s,
            signals=signals,
        )


def _signal_info(
    kind: str,
    unit: str,
    lsl: float | None,
    usl: float | None,
    target: float | None,
    decimals: int,
    interval_s: float | None = None,
    tau_s: float | None = None,
    alarm_weight: float = 1.0,
) -> SignalInfo:
    def number(value: float | None) -> float | None:
        return None if value is None else float(value)

    fields: dict[str, object] = {
        "kind": kind,
        "unit": unit,
        "lsl": number(lsl),
        "usl": number(usl),
        "target": number(target),
        "decimals": int(decimals),
    }
    if interval_s is not None:
        fields["interval_s"] = float(interval_s)
    if tau_s is not None:
        fields["tau_s"] = float(tau_s)
    if alarm_weight != 1.0:  # the default is left out of the birth
        fields["alarm_weight"] = float(alarm_weight)
    return SignalInfo.model_validate(fields)
