"""Signal building blocks: seeded random streams, noise, and composable behaviours (pure: no I/O).

A sensor reading is built in three steps, every step composable::

    value = level(t) + gain · noise + Σ offsets      then each behaviour's `post` (spikes, stuck, dropout)

- `Draws` is a buffered stream of random numbers from one seeded `numpy.random.Generator`. Drawing an array of
  n numbers gives the same numbers as n single draws, so buffering never changes the data.
- `AR1` is stationary noise: white Gaussian (φ = 0) or autocorrelated (0 < φ < 1).
- A `Behaviour` adds an offset (shift, drift, cycle, warm-up), scales the noise (variance, growing variance) or
  rewrites the value (spikes, stuck sensor, dropout). A machine type declares them as objects
  (`recipes = {"tool_wear": {"diameter": Drift(per_hour=0.012)}}`); faults injected on cue by name are the same
  classes (`FAULTS`, made by `make_behaviour(kind, params)`); `FAULT_KINDS` describes their parameters.

Behaviours get two clocks: `t_s`, simulated seconds since the run started, and `run_s`, seconds the machine
has been producing. Wear and drift follow `run_s`, so nothing drifts while a machine is down.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar, Self

import numpy as np

from smartfactory.errors import SimulatorError

BLOCK = 256


class Draws:
    """Buffered random numbers from one generator: `normal()`, `uniform()`, `exponential(mean)`."""

    __slots__ = ("_normals", "_rng", "_uniforms")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._normals: list[float] = []
        self._uniforms: list[float] = []

    def normal(self) -> float:
        if not self._normals:
            self._normals = self._rng.standard_normal(BLOCK).tolist()[::-1]
        return self._normals.pop()

    def uniform(self) -> float:
        """A number in [0, 1)."""
        if not self._uniforms:
            self._uniforms = self._rng.random(BLOCK).tolist()[::-1]
        return self._uniforms.pop()

    def exponential(self, mean: float) -> float:
        """Exponentially distributed with the given mean (time to the next random failure, for example)."""
        return -mean * math.log(1.0 - self.uniform())

    def lognormal(self, mean: float, cv: float = 0.5) -> float:
        """Log-normally distributed with the given mean and coefficient of variation (repair times)."""
        sigma2 = math.log(1.0 + cv * cv)
        return mean * math.exp(math.sqrt(sigma2) * self.normal() - sigma2 / 2.0)


@dataclass(slots=True)
class AR1:
    """Noise x_t = φ·x_{t-1} + ε_t, scaled so its stationary standard deviation is `sd`.

    φ = 0 gives white Gaussian noise. Var(x) = σ_ε² / (1 − φ²), so σ_ε = sd·√(1 − φ²) (Box & Jenkins).
    The first value is drawn from the stationary distribution, so there is no start-up transient.
    """

    sd: float
    phi: float = 0.0
    state: float | None = None

    def next(self, draws: Draws) -> float:
        e = draws.normal()
        if self.phi == 0.0:
            return self.sd * e
        if self.state is None:
            self.state = self.sd * e
        else:
            self.state = self.phi * self.state + self.sd * math.sqrt(1.0 - self.phi * self.phi) * e
        return self.state


# --------------------------------------------------------------------------------------- pure shapes


def warmup(t_s: float, amplitude: float, tau_s: float) -> float:
    """A first-order warm-up transient: starts `amplitude` below nominal and decays with time constant `tau_s`."""
    return -amplitude * math.exp(-t_s / tau_s) if tau_s > 0 else 0.0


def cycle(t_s: float, amplitude: float, period_s: float) -> float:
    """A sinusoidal cycle (ambient temperature, a daily pattern) of the given period."""
    return amplitude * math.sin(2.0 * math.pi * t_s / period_s) if period_s > 0 else 0.0


def drift(t_s: float, rate_per_s: float, since_s: float) -> float:
    """A linear drift (tool wear) that starts at `since_s`."""
    return rate_per_s * max(0.0, t_s - since_s)


def approach(level: float, target: float, dt_s: float, tau_s: float) -> float:
    """First-order lag: where `level` is after `dt_s` seconds heading for `target` with time constant `tau_s`."""
    if tau_s <= 0 or dt_s <= 0:
        return target if tau_s <= 0 else level
    return target + (level - target) * math.exp(-dt_s / tau_s)


# --------------------------------------------------------------------------------------- behaviours


@dataclass(slots=True)
class Behaviour:
    """A composable change to one signal. Override one or more of `offset`, `gain` and `post`.

    A behaviour is written once, as a declaration (`Drift(per_hour=0.012)` in a machine type's `recipes` or
    `behaviours`), and the engine attaches a fresh copy of it to each machine's signal with `begin`: sizes given
    in noise standard deviations (`sigmas`) are then resolved against that signal, a random stream is handed to
    behaviours that draw (spikes, dropout), and `started_t_s` / `started_run_s` are set.
    """

    #: The fault name of this behaviour (`smartfactory inject MACHINE KIND`).
    kind: ClassVar[str] = "custom"
    #: The parameters a recipe's `k` multiplies (sizes and rates, not probabilities or periods).
    scales: ClassVar[tuple[str, ...]] = ()
    started_t_s: float = field(default=0.0, init=False, repr=False, compare=False)
    started_run_s: float = field(default=0.0, init=False, repr=False, compare=False)

    @classmethod
    def parameters(cls) -> list[str]:
        """The parameters the behaviour takes (its constructor's keywords)."""
        return [f.name for f in fields(cls) if f.init]

    def bind(self, sd: float, draws: Draws | None) -> None:
        """Resolve sizes given in sigmas against a signal whose noise sd is `sd`; keep `draws` if it draws."""

    def start(self, t_s: float, run_s: float) -> None:
        self.started_t_s = t_s
        self.started_run_s = run_s

    def begin(self, *, t_s: float, run_s: float, sd: float, draws: Draws | None = None) -> Behaviour:
        """A fresh copy of this declaration, attached to one signal at `t_s` (the declaration is untouched)."""
        live = copy.copy(self)
        live.bind(sd, draws)
        live.start(t_s, run_s)
        return live

    def scaled(self, k: float) -> Self:
        """The same behaviour with its sizes and rates multiplied by `k` (a recipe injected with `k`)."""
        changes = {name: getattr(self, name) * k for name in self.scales if getattr(self, name) is not None}
        return replace(self, **changes)

    def offset(self, t_s: float, run_s: float) -> float:
        """Added to the value."""
        return 0.0

    def gain(self, t_s: float, run_s: float) -> float:
        """Multiplies the noise."""
        return 1.0

    def post(self, value: float) -> float | None:
        """Rewrites the finished value; None means no reading (dropout)."""
        return value


def _in_sigmas(units: float | None, sigmas: float | None, default_sigmas: float, sd: float | None) -> float | None:
    """A size given in units, else in noise standard deviations (None while the sd is not known yet)."""
    if units is not None:
        return units
    if sd is None:
        return None
    return sd * (default_sigmas if sigmas is None else sigmas)


@dataclass(slots=True)
class Shift(Behaviour):
    """A sudden step of `size` (in the signal's unit) or `sigmas` noise standard deviations (default 3)."""

    kind: ClassVar[str] = "shift"
    scales: ClassVar[tuple[str, ...]] = ("size", "sigmas")
    size: float | None = None
    sigmas: float | None = None
    _size: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.bind(None, None)

    def bind(self, sd: float | None, draws: Draws | None) -> None:
        size = _in_sigmas(self.size, self.sigmas, 3.0, sd)
        self._size = self._size if size is None else size

    def offset(self, t_s: float, run_s: float) -> float:
        return self._size


@dataclass(slots=True)
class Drift(Behaviour):
    """A linear drift in operating time (tool wear), paused while the machine stops: `rate` units per operating
    second, `per_hour` units per operating hour, or `sigmas_per_hour` noise standard deviations (default 6)."""

    kind: ClassVar[str] = "drift"
    scales: ClassVar[tuple[str, ...]] = ("rate", "per_hour", "sigmas_per_hour")
    rate: float | None = None
    per_hour: float | None = None
    sigmas_per_hour: float | None = None
    _rate: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.bind(None, None)

    def bind(self, sd: float | None, draws: Draws | None) -> None:
        if self.rate is not None:
            self._rate = self.rate
        else:
            per_hour = _in_sigmas(self.per_hour, self.sigmas_per_hour, 6.0, sd)
            if per_hour is not None:
                self._rate = per_hour / 3600.0

    def offset(self, t_s: float, run_s: float) -> float:
        return self._rate * max(0.0, run_s - self.started_run_s)


@dataclass(slots=True)
class Cycle(Behaviour):
    """A sinusoidal disturbance of `amplitude` units (or `sigmas`, default 2) and `period_s` simulated seconds."""

    kind: ClassVar[str] = "cycle"
    scales: ClassVar[tuple[str, ...]] = ("amplitude", "sigmas")
    amplitude: float | None = None
    sigmas: float | None = None
    period_s: float = 600.0
    _amplitude: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive("cycle period_s", self.period_s)
        self.bind(None, None)

    def bind(self, sd: float | None, draws: Draws | None) -> None:
        amplitude = _in_sigmas(self.amplitude, self.sigmas, 2.0, sd)
        self._amplitude = self._amplitude if amplitude is None else amplitude

    def offset(self, t_s: float, run_s: float) -> float:
        return cycle(t_s - self.started_t_s, self._amplitude, self.period_s)


@dataclass(slots=True)
class Warmup(Behaviour):
    """A transient that starts `amplitude` units (or `sigmas`, default 5) below the level and decays with time
    constant `tau_s`."""

    kind: ClassVar[str] = "warmup"
    scales: ClassVar[tuple[str, ...]] = ("amplitude", "sigmas")
    amplitude: float | None = None
    sigmas: float | None = None
    tau_s: float = 600.0
    _amplitude: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _positive("warmup tau_s", self.tau_s)
        self.bind(None, None)

    def bind(self, sd: float | None, draws: Draws | None) -> None:
        amplitude = _in_sigmas(self.amplitude, self.sigmas, 5.0, sd)
        self._amplitude = self._amplitude if amplitude is None else amplitude

    def offset(self, t_s: float, run_s: float) -> float:
        return warmup(t_s - self.started_t_s, self._amplitude, self.tau_s)


@dataclass(slots=True)
class Variance(Behaviour):
    """The noise standard deviation multiplied by `factor` (a worn bearing, a loose clamp)."""

    kind: ClassVar[str] = "variance"
    scales: ClassVar[tuple[str, ...]] = ("factor",)
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not self.factor >= 0:
            raise SimulatorError(f"variance factor must be ≥ 0, is {self.factor}")

    def gain(self, t_s: float, run_s: float) -> float:
        return self.factor


@dataclass(slots=True)
class GrowingVariance(Behaviour):
    """The noise standard deviation grows by `per_hour` × the normal one per operating hour (default 1)."""

    kind: ClassVar[str] = "growing_variance"
    scales: ClassVar[tuple[str, ...]] = ("per_hour",)
    per_hour: float = 1.0
    _per_s: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._per_s = self.per_hour / 3600.0

    def gain(self, t_s: float, run_s: float) -> float:
        return 1.0 + self._per_s * max(0.0, run_s - self.started_run_s)


@dataclass(slots=True)
class Stuck(Behaviour):
    """The sensor repeats the first value it reads after the fault starts."""

    kind: ClassVar[str] = "stuck"
    held: float | None = field(default=None, init=False, compare=False)

    def post(self, value: float) -> float | None:
        if self.held is None:
            self.held = value
        return self.held


@dataclass(slots=True)
class Spikes(Behaviour):
    """With probability `prob` per reading, an outlier of ±`size` units (or `sigmas`, default 6; sign at random)."""

    kind: ClassVar[str] = "spikes"
    scales: ClassVar[tuple[str, ...]] = ("size", "sigmas")
    prob: float = 0.02
    size: float | None = None
    sigmas: float | None = None
    draws: Draws | None = field(default=None, init=False, repr=False, compare=False)
    _size: float = field(default=0.0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _probability(self.prob)
        self.bind(None, None)

    def bind(self, sd: float | None, draws: Draws | None) -> None:
        size = _in_sigmas(self.size, self.sigmas, 6.0, sd)
        self._size = self._size if size is None else size
        self.draws = draws if draws is not None else self.draws

    def post(self, value: float) -> float | None:
        if self.draws is None or self.draws.uniform() >= self.prob:
            return value
        return value + (self._size if self.draws.uniform() < 0.5 else -self._size)


@dataclass(slots=True)
class Dropout(Behaviour):
    """With probability `prob` per reading (1 = always: the sensor goes silent), the reading is missing."""

    kind: ClassVar[str] = "dropout"
    prob: float = 1.0
    draws: Draws | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _probability(self.prob)

    def bind(self, sd: float, draws: Draws | None) -> None:
        self.draws = draws if draws is not None else self.draws

    def post(self, value: float) -> float | None:
        if self.prob >= 1.0:
            return None
        if self.draws is not None and self.draws.uniform() < self.prob:
            return None
        return value


# --------------------------------------------------------------------------------------- the fault catalogue

#: Signal faults by name: the behaviour each one attaches. Sizes are in the signal's unit, or in multiples of
#: its noise standard deviation with the `sigmas` forms. Machine-level faults (breakdown, slowdown) live in
#: `lifecycle`.
FAULTS: dict[str, type[Behaviour]] = {
    b.kind: b for b in (Shift, Drift, Variance, GrowingVariance, Stuck, Spikes, Dropout, Cycle, Warmup)
}

#: What each signal fault does and which parameters it takes (shown by `smartfactory simulators list`).
FAULT_KINDS: dict[str, str] = {
    "shift": "step of size=UNITS (or sigmas=K)",
    "drift": "linear drift of rate=UNITS/s, per_hour=UNITS/h or sigmas_per_hour=K, in operating time",
    "variance": "noise sd × factor=K (default 2)",
    "growing_variance": "noise sd grows by per_hour=K × sd per operating hour (default 1)",
    "stuck": "sensor repeats its last value",
    "spikes": "outliers of size=UNITS (or sigmas=K, default 6) with prob=P per reading (default 0.02)",
    "dropout": "readings missing with prob=P (default 1: the sensor goes silent)",
    "cycle": "sinusoid of amplitude=UNITS (or sigmas=K) and period_s=S (default 600)",
    "warmup": "transient starting amplitude=UNITS (or sigmas=K) below, decaying with tau_s=S (default 600)",
}


def _number(params: Mapping[str, float | str], key: str) -> float:
    raw = params[key]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SimulatorError(f"fault parameter {key}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SimulatorError(f"fault parameter {key}={raw!r} must be finite")
    return value


def make_behaviour(
    kind: str, params: Mapping[str, float | str], *, sd: float | None = None, draws: Draws | None = None
) -> Behaviour:
    """The behaviour a fault of `kind` with `params` (numbers or numeric text, as a command carries them) puts on
    a signal; bound to it when its noise sd is given.

    Raises `SimulatorError` (with the list of kinds) for an unknown kind or a bad parameter.
    """
    cls = FAULTS.get(kind)
    if cls is None:
        raise SimulatorError(f"unknown fault {kind!r}; signal faults are: {', '.join(FAULT_KINDS)}")
    allowed = cls.parameters()
    extra = set(params) - set(allowed)
    if extra:
        raise SimulatorError(
            f"fault {kind!r} takes {sorted(allowed) or 'no parameters'}, not {sorted(extra)} ({FAULT_KINDS[kind]})"
        )
    behaviour = cls(**{key: _number(params, key) for key in params})
    if sd is not None:
        behaviour.bind(sd, draws)
    return behaviour


def _probability(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise SimulatorError(f"probability {p} must lie in [0, 1]")
    return p


def _positive(what: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise SimulatorError(f"{what} must be a positive number of seconds, is {value}")


def stream(seed: int, key: str, purpose: str) -> Draws:
    """A random stream that depends only on the seed, the machine's key (its path) and the purpose."""
    spawn = (zlib.crc32(key.encode()), zlib.crc32(purpose.encode()))
    return Draws(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=spawn)))
