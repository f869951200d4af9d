"""Physically sensible magnitudes for injected faults, measured against the signal they act on (pure).

The fault catalogue (`sim.faults`) checks what a parameter may be on any machine: probabilities in [0, 1], noise
factors up to 100, and so on. Sizes, rates and amplitudes are in the signal's unit, so no fixed range fits every
signal; here they are bounded by the signal's own noise standard deviation σ:

| parameter                                       | bound                                                    |
|-------------------------------------------------|----------------------------------------------------------|
| `size`, `amplitude` (shift, spikes, cycle, …)   | at most `MAX_SIGMAS` σ (1000 σ: far beyond any real fault) |
| `sigmas` (the same, counted in σ)               | at most `MAX_SIGMAS`                                     |
| drift `rate` (unit/s), `per_hour` (unit/h)      | at most `MAX_SIGMAS` σ per hour                          |
| drift `sigmas_per_hour`                         | at most `MAX_SIGMAS`                                     |
| `duration` of a breakdown or stop               | at most `MAX_DURATION_S` (30 days)                       |

A signal without noise (σ = 0, a constant) gets the bound `MAX_SIGMAS` × max(1, |its typical value|). Values a
thousand σ away are still ordinary floats, so nothing the simulator publishes can overflow a reader's arithmetic
(issue 13: `shift size=1e308` published 1e308 values; `breakdown duration=1e308` stopped the simulator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from smartfactory.durations import parse_duration
from smartfactory.errors import ConfigError
from smartfactory.sim.live import LiveMachine

MAX_SIGMAS = 1000.0
MAX_DURATION_S = 30 * 86_400.0
_UNIT_SIZES = frozenset({"size", "amplitude"})
_UNIT_RATES = {"rate": 3600.0, "per_hour": 1.0}  # factor to units per hour
_SIGMA_COUNTS = frozenset({"sigmas", "sigmas_per_hour"})
_STOPS = frozenset({"breakdown", "stop"})


def _number(value: float | str) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # not a number: the catalogue and the fault itself say so
    return number


def _scale(live: LiveMachine, signal: str) -> float:
    """σ of the signal, or for a noiseless one a scale from its typical value."""
    try:
        sd = float(live.signal_sd(signal))
    except (KeyError, AttributeError, TypeError, ValueError):
        return math.nan
    if sd > 0 and math.isfinite(sd):
        return sd
    spec = live.sensors.get(signal) or live.quality.get(signal)
    typical = getattr(spec, "nominal", None) or getattr(spec, "target", None) or 1.0
    try:
        return max(1.0, abs(float(typical)))
    except (TypeError, ValueError):
        return 1.0


def magnitude_problems(
    live: LiveMachine, fault: str | None, sensor: str | None, params: Mapping[str, float | str]
) -> list[str]:
    """What is physically absurd about injecting `fault` with `params` on `sensor` of this machine (empty: nothing)."""
    found: list[str] = []
    if fault in _STOPS and "duration" in params:
        try:
            seconds = parse_duration(params["duration"])
        except ConfigError:
            seconds = None  # not a duration: the catalogue says so
        if seconds is not None and not (math.isfinite(seconds) and seconds <= MAX_DURATION_S):
            found.append(f"{fault} duration={params['duration']}: at most {MAX_DURATION_S / 86_400:g} days")
    for key, raw in params.items():
        number = _number(raw)
        if number is None:
            continue
        if not math.isfinite(number):
            found.append(f"{fault} {key}={raw}: not a finite number")
        elif key in _SIGMA_COUNTS and abs(number) > MAX_SIGMAS:
            found.append(f"{fault} {key}={raw}: at most {MAX_SIGMAS:g} (in noise standard deviations)")
        elif (key in _UNIT_SIZES or key in _UNIT_RATES) and sensor is not None:
            scale = _scale(live, sensor)
            if not math.isfinite(scale):
                continue  # an unknown signal: the fault itself refuses it with the list of signals
            size = abs(number) * _UNIT_RATES.get(key, 1.0)
            if size > MAX_SIGMAS * scale:
                per = " per hour" if key in _UNIT_RATES else ""
                limit = MAX_SIGMAS * scale / _UNIT_RATES.get(key, 1.0)
                found.append(
                    f"{fault} {key}={raw}: at most {limit:.6g} for {sensor} ({MAX_SIGMAS:g} σ{per}, σ = {scale:.6g})"
                )
    return found
