"""Signal building blocks: seeded random streams, noise, and composable behaviours (pure: no I/O).

A sensor reading is built in three steps, every step composable::

    value = level(t) + gain · noise + Σ offsets      then each behaviour's `post` (spikes, stuck, dropout)

- `Draws` is a buffered stream of random numbers from one seeded `numpy.random.Generator`. Drawing an array of
  n numbers gives the same numbers as n single draws, so buffering never changes the data.
- `AR1` is stationary noise: white Gaussian (φ = 0) or autocorrelated (0 < φ < 1).
- A `Behaviour` adds an offset (shift, drift, cycle, warm-up), scales the noise (variance, growing variance) or
  rewrites the value (spikes, stuck sensor, dropout). Faults injected on cue are these same behaviours, made by
  `make_behaviour(kind, params, ...)`; `FAULT_KINDS` lists them with their parameters.

Behaviours get two clocks: `t_s`, simulated seconds since the run started, and `run_s`, seconds the machine
has been producing. Wear and drift follow `run_s`, so nothing drifts while a machine is down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

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

    `started_t_s` / `started_run_s` are set by `start()` when the behaviour is attached to a signal.
    """

    kind: str = "none"
    started_t_s: float = 0.0
    started_run_s: float = 0.0

    def start(self, t_s: float, run_s: float) -> None:
        self.started_t_s = t_s
        self.started_run_s = run_s

    def offset(self, t_s: float, run_s: float) -> float:
        """Added to the value."""
        return 0.0

    def gain(self, t_s: float, run_s: float) -> float:
        """Multiplies the noise."""
        return 1.0

    def post(self, value: float) -> float | None:
        """Rewrites the finished value; None means no reading (dropout)."""
        return value


@dataclass(slots=True)
class Shift(Behaviour):
    """A sudden step of `size` (in the signal's unit) from the moment it starts."""

    size: float = 0.0

    def offset(self, t_s: float, run_s: float) -> float:
        return self.size


@dataclass(slots=True)
class Drift(Behaviour):
    """A linear drift of `rate` units per operating second (tool wear): it pauses while the machine stops."""

    rate: float = 0.0

    def offset(self, t_s: float, run_s: float) -> float:
        return self.rate * max(0.0, run_s - self.started_run_s)


@dataclass(slots=True)
class Cycle(Behaviour):
    """A sinusoidal disturbance of `amplitude` and `period_s` (simulated seconds)."""

    amplitude: float = 0.0
    period_s: float = 3600.0

    def offset(self, t_s: float, run_s: float) -> float:
        return cycle(t_s - self.started_t_s, self.amplitude, self.period_s)


@dataclass(slots=True)
class Warmup(Behaviour):
    """A transient that starts `amplitude` below the level and decays with time constant `tau_s`."""

    amplitude: float = 0.0
    tau_s: float = 600.0

    def offset(self, t_s: float, run_s: float) -> float:
        return warmup(t_s - self.started_t_s, self.amplitude, self.tau_s)


@dataclass(slots=True)
class Variance(Behaviour):
    """The noise standard deviation multiplied by `factor` (a worn bearing, a loose clamp)."""

    factor: float = 2.0

    def gain(self, t_s: float, run_s: float) -> float:
        return self.factor


@dataclass(slots=True)
class GrowingVariance(Behaviour):
    """The noise standard deviation grows by `per_s` (× the normal one) per operating second."""

    per_s: float = 0.0

    def gain(self, t_s: float, run_s: float) -> float:
        return 1.0 + self.per_s * max(0.0, run_s - self.started_run_s)


@dataclass(slots=True)
class Stuck(Behaviour):
    """The sensor repeats the first value it reads after the fault starts."""

    held: float | None = None

    def post(self, value: float) -> float | None:
        if self.held is None:
            self.held = value
        return self.held


@dataclass(slots=True)
class Spikes(Behaviour):
    """With probability `prob` per reading, an outlier of ±`size` (sign at random)."""

    prob: float = 0.02
    size: float = 0.0
    draws: Draws | None = field(default=None, repr=False)

    def post(self, value: float) -> float | None:
        if self.draws is None or self.draws.uniform() >= self.prob:
            return value
        return value + (self.size if self.draws.uniform() < 0.5 else -self.size)


@dataclass(slots=True)
class Dropout(Behaviour):
    """With probability `prob` per reading (1 = always), the reading is missing."""

    prob: float = 1.0
    draws: Draws | None = field(default=None, repr=False)

    def post(self, value: float) -> float | None:
        if self.prob >= 1.0:
            return None
        if self.draws is not None and self.draws.uniform() < self.prob:
            return None
        return value


# --------------------------------------------------------------------------------------- the fault catalogue

#: Signal faults, their parameters and what they do. Sizes are in the signal's unit, or in multiples of its
#: noise standard deviation with the `sigmas` forms. Machine-level faults (breakdown, slowdown) live in `engine`.
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


def _number(params: Mapping[str, float | str], key: str, default: float | None = None) -> float | None:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SimulatorError(f"fault parameter {key}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SimulatorError(f"fault parameter {key}={raw!r} must be finite")
    return value


def _size(params: Mapping[str, float | str], sd: float, unit_key: str, kind: str, default_sigmas: float) -> float:
    """A size given in units (`unit_key`) or in noise standard deviations (`sigmas`)."""
    units = _number(params, unit_key)
    if units is not None:
        return units
    return sd * (_number(params, "sigmas", default_sigmas) or 0.0)


def make_behaviour(kind: str, params: Mapping[str, float | str], *, sd: float, draws: Draws | None = None) -> Behaviour:
    """The behaviour a fault of `kind` with `params` puts on a signal whose noise sd is `sd`.

    Raises `SimulatorError` (with the list of kinds) for an unknown kind or a bad parameter.
    """
    known = set(params)
    allowed: dict[str, set[str]] = {
        "shift": {"size", "sigmas"},
        "drift": {"rate", "per_hour", "sigmas_per_hour"},
        "variance": {"factor"},
        "growing_variance": {"per_hour"},
        "stuck": set(),
        "spikes": {"prob", "size", "sigmas"},
        "dropout": {"prob"},
        "cycle": {"amplitude", "sigmas", "period_s"},
        "warmup": {"amplitude", "sigmas", "tau_s"},
    }
    if kind not in allowed:
        raise SimulatorError(f"unknown fault {kind!r}; signal faults are: {', '.join(FAULT_KINDS)}")
    extra = known - allowed[kind]
    if extra:
        raise SimulatorError(
            f"fault {kind!r} takes {sorted(allowed[kind]) or 'no parameters'}, not {sorted(extra)} "
            f"({FAULT_KINDS[kind]})"
        )
    behaviour: Behaviour
    if kind == "shift":
        behaviour = Shift(kind, size=_size(params, sd, "size", kind, 3.0))
    elif kind == "drift":
        rate = _number(params, "rate")
        if rate is None:
            per_hour = _number(params, "per_hour")
            if per_hour is None:
                per_hour = sd * (_number(params, "sigmas_per_hour", 6.0) or 0.0)
            rate = per_hour / 3600.0
        behaviour = Drift(kind, rate=rate)
    elif kind == "variance":
        factor = _number(params, "factor", 2.0) or 0.0
        if factor < 0:
            raise SimulatorError("variance factor must be ≥ 0")
        behaviour = Variance(kind, factor=factor)
    elif kind == "growing_variance":
        behaviour = GrowingVariance(kind, per_s=(_number(params, "per_hour", 1.0) or 0.0) / 3600.0)
    elif kind == "stuck":
        behaviour = Stuck(kind)
    elif kind == "spikes":
        prob = _number(params, "prob", 0.02) or 0.0
        behaviour = Spikes(kind, prob=_probability(prob), size=_size(params, sd, "size", kind, 6.0), draws=draws)
    elif kind == "dropout":
        behaviour = Dropout(kind, prob=_probability(_number(params, "prob", 1.0) or 0.0), draws=draws)
    elif kind == "cycle":
        period = _number(params, "period_s", 600.0) or 600.0
        behaviour = Cycle(kind, amplitude=_size(params, sd, "amplitude", kind, 2.0), period_s=period)
    else:  # warmup
        tau = _number(params, "tau_s", 600.0) or 600.0
        behaviour = Warmup(kind, amplitude=_size(params, sd, "amplitude", kind, 5.0), tau_s=tau)
    return behaviour


def _probability(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise SimulatorError(f"probability {p} must lie in [0, 1]")
    return p
