"""Signal building blocks for simulators: each keeps its own state and draws from the machine's seeded generator.

Compose them by adding their outputs: `nominal + ar1.next() + drift.value(t)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class AR1:
    """Autocorrelated noise x_t = φ·x_{t-1} + ε_t, scaled so its stationary standard deviation is `sd`.

    φ = 0 gives white Gaussian noise. Var(x) = σ_ε² / (1 − φ²), so σ_ε = sd·√(1 − φ²).
    """

    sd: float
    phi: float = 0.0
    state: float = 0.0

    def next(self, rng: np.random.Generator) -> float:
        innovation = self.sd * float(np.sqrt(1.0 - self.phi * self.phi))
        self.state = self.phi * self.state + innovation * float(rng.standard_normal())
        return self.state


def warmup(t_s: float, amplitude: float, tau_s: float) -> float:
    """A first-order warm-up transient: starts `amplitude` below nominal and decays with time constant `tau_s`."""
    return -amplitude * float(np.exp(-t_s / tau_s)) if tau_s > 0 else 0.0


def cycle(t_s: float, amplitude: float, period_s: float) -> float:
    """A sinusoidal cycle (ambient temperature, shift pattern) of the given period."""
    return amplitude * float(np.sin(2.0 * np.pi * t_s / period_s)) if period_s > 0 else 0.0


def drift(t_s: float, rate_per_s: float, since_s: float) -> float:
    """A linear drift (tool wear) that starts at `since_s`."""
    return rate_per_s * max(0.0, t_s - since_s)
