"""Phase I estimation that cannot overflow: centre, σ (overall and MR̄/d2), AR(1) φ and innovation σ.

Every finite double is a valid reading, so a phase I of 50 × 1e308 or of alternating ±1e308 must not crash
the estimator (issue 13: `mean` overflowed to inf, `diff` too). The arithmetic here works on the values
scaled by an exact power of two, y = x · 2^−e with 2^(e−1) ≤ max|x| < 2^e, so |y| < 1, every difference is
below 2 and every sum of squares below 4n: nothing can overflow. Scaling by a power of two is exact (it only
changes the exponent), so for ordinary data the results are bit-identical to the unscaled formulas. The
estimates are scaled back with `math.ldexp`; one that is not representable (σ of alternating ±1.7e308 is
≈ 3e308) gives a :class:`CannotLearn` result instead of an exception deep inside the caller.

Estimates (Box & Jenkins; Montgomery §10.4 for the residual chart of an AR(1) process):

    μ̂ = x̄                          σ̂ = √(Σ(x − x̄)² / (n − 1))          σ̂_MR = MR̄ / d2(2)
    φ̂ = Σ(x_t − x̄)(x_{t−1} − x̄) / Σ(x_t − x̄)²           (Yule–Walker AR(1), the lag-1 autocorrelation)
    e_t = (x_t − x̄) − φ̂ (x_{t−1} − x̄),   σ̂_e = √(Σ e_t² / (n − 2))      (t = 2..n)

σ̂ (the overall standard deviation) is the efficient estimate for a clean, in-control phase I (n − 1 degrees
of freedom against ≈ 0.6(n − 1) for MR̄/d2, see :func:`smartfactory.spc.capability.within_df`), and its error
is what drives the false-alarm rate of a tightly designed detector. σ̂_MR is kept as a diagnostic: a ratio
σ̂/σ̂_MR well above 1 betrays drift or positive autocorrelation in phase I.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from smartfactory.spc.constants import d2
from smartfactory.spc.errors import SpcError
from smartfactory.spc.rules import FloatArray

MIN_POINTS = 30  # below this an estimated σ is too uncertain to design any alarm rate on
MAX_PHI = 0.95  # |φ̂| at or above this: the series wanders like a random walk, no stationary baseline


def scaled(x: FloatArray) -> tuple[FloatArray, int]:
    """``(y, e)`` with y = x · 2^−e exactly and |y| < 1 (e = 0 for an all-zero array). ``x`` must be finite."""
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top == 0.0:
        return x.astype(np.float64, copy=True), 0
    e = math.frexp(top)[1]  # top = f · 2^e, 0.5 ≤ f < 1
    return np.ldexp(x, -e), e


def unscale(value: float, e: int) -> float:
    """value · 2^e, or inf when that is not a finite double."""
    try:
        return math.ldexp(value, e)
    except OverflowError:
        return math.inf


def finite_values(values: Iterable[float] | npt.ArrayLike) -> FloatArray:
    """The finite values of a 1-D input as float64 (NaN and ±inf dropped)."""
    data = values if isinstance(values, np.ndarray | list | tuple) else list(values)  # type: ignore[arg-type]
    x = np.asarray(data, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


class CannotLearnError(SpcError):
    """Phase I values from which no baseline can be learned (too few, constant, not representable)."""

    def __init__(self, result: CannotLearn) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass(frozen=True)
class CannotLearn:
    """Why a phase I gave no baseline. ``reason``: too-few, constant, overflow or non-stationary."""

    reason: str
    n: int
    message: str

    def error(self) -> CannotLearnError:
        """The same, as an exception (a :class:`SpcError`)."""
        return CannotLearnError(self)


@dataclass(frozen=True)
class Baseline:
    """In-control parameters of one series: what the detectors standardise against.

    ``sigma`` is the marginal (overall) σ, ``sigma_e`` the innovation σ of the AR(1) fit (equal to ``sigma``
    when φ = 0), ``sigma_mr`` the MR̄/d2 estimate (diagnostic; ``nan`` for configured baselines).
    """

    center: float
    sigma: float
    phi: float = 0.0
    sigma_e: float = math.nan  # nan: √(1 − φ²)·sigma
    sigma_mr: float = math.nan
    n: int = 0  # phase I readings (0 = configured)
    source: str = "configured"

    def __post_init__(self) -> None:
        if math.isnan(self.sigma_e):
            object.__setattr__(self, "sigma_e", self.sigma * math.sqrt(1.0 - self.phi * self.phi))
        if not (math.isfinite(self.center) and math.isfinite(self.sigma) and self.sigma > 0):
            raise SpcError(f"a baseline needs a finite centre and σ > 0, got {self.center!r}, {self.sigma!r}")
        if not (abs(self.phi) < 1.0 and math.isfinite(self.sigma_e) and self.sigma_e > 0):
            raise SpcError(f"a baseline needs |φ| < 1 and σ_e > 0, got φ={self.phi!r}, σ_e={self.sigma_e!r}")

    @property
    def ratio(self) -> float:
        """σ_overall / σ_MR: ≈ 1 for independent data, > 1 with drift or positive autocorrelation."""
        return self.sigma / self.sigma_mr if self.sigma_mr > 0 else math.nan

    def uses_residuals(self, phi_material: float) -> bool:
        """Whether detectors should chart AR(1) residuals instead of the values.

        When |φ| is material (above ``phi_material``) and, for a learned φ̂, significant: above 3/√n, three
        standard errors of φ̂ for independent data. Without the second condition a short phase I of
        independent data would switch to residuals by chance (|φ̂| > 0.2 in ~5 % of phases I of 100), and
        residuals against a spurious φ̂ run hotter than N(0, 1).
        """
        bar = phi_material if self.n <= 0 else max(phi_material, 3.0 / math.sqrt(self.n))
        return abs(self.phi) > bar


def learn_baseline(
    values: Iterable[float] | npt.ArrayLike, *, min_points: int = MIN_POINTS, max_phi: float = MAX_PHI
) -> Baseline | CannotLearn:
    """Learn a :class:`Baseline` from a clean phase I, or say why not. Never raises on numeric content.

    Non-finite values are dropped first (they are data-quality events, not process values).
    """
    x = finite_values(values)
    n = int(x.size)
    dropped = f" ({len(values) - n} non-finite dropped)" if isinstance(values, list | tuple) and len(values) > n else ""
    if n < max(3, min_points):
        return CannotLearn("too-few", n, f"phase I has {n} finite readings{dropped}, need {max(3, min_points)}")
    y, e = scaled(x)
    mu = float(np.mean(y))
    dev = y - mu
    ss = float(np.dot(dev, dev))
    if ss == 0.0:
        return CannotLearn(
            "constant", n, f"all {n} phase I readings are equal ({x[0]!r}): σ = 0, nothing to standardise by"
        )
    sd = math.sqrt(ss / (n - 1))
    mr = float(np.mean(np.abs(np.diff(y)))) / d2(2)
    phi = float(np.dot(dev[1:], dev[:-1])) / ss
    if not abs(phi) < max_phi:
        return CannotLearn(
            "non-stationary", n, f"lag-1 autocorrelation {phi:.3f} of phase I: the series has no stationary level"
        )
    resid = dev[1:] - phi * dev[:-1]
    sd_e = math.sqrt(float(np.dot(resid, resid)) / (n - 2))
    center, sigma, sigma_e, sigma_mr = unscale(mu, e), unscale(sd, e), unscale(sd_e, e), unscale(mr, e)
    if not (math.isfinite(sigma) and math.isfinite(sigma_e)):
        return CannotLearn("overflow", n, f"phase I σ ≈ {sd:.3g}·2^{e} is beyond the largest double")
    if sigma == 0.0 or sigma_e == 0.0:
        return CannotLearn("constant", n, "phase I σ underflows to 0: the readings are practically equal")
    return Baseline(center, sigma, phi, sigma_e, sigma_mr, n, "learned")


def learn_rate(counts: Iterable[float] | npt.ArrayLike, *, min_points: int = MIN_POINTS) -> float | CannotLearn:
    """Mean count per reading for a Poisson chart: (Σc + ½)/n (the Jeffreys posterior mean).

    The ½ keeps a phase I of all zeros from learning λ = 0, which would make every later count an alarm.
    Negative counts are not counts and give ``CannotLearn``.
    """
    c = finite_values(counts)
    n = int(c.size)
    if n < max(1, min_points):
        return CannotLearn("too-few", n, f"phase I has {n} counts, need {max(1, min_points)}")
    if float(c.min()) < 0:
        return CannotLearn("negative", n, "a count cannot be negative: watch this series as a process signal")
    y, e = scaled(c)
    return unscale(float(np.mean(y)), e) + 0.5 / n  # the mean of finite values is finite


class Phase1:
    """A preallocated phase I buffer: ``add(value)`` until it returns True, then ``learn()``. O(n) floats."""

    __slots__ = ("_buf", "_i")

    def __init__(self, points: int) -> None:
        if points < 3:
            raise SpcError(f"a phase I needs at least 3 readings, got {points}")
        self._buf = np.empty(int(points), dtype=np.float64)
        self._i = 0

    @property
    def full(self) -> bool:
        return self._i >= self._buf.size

    def __len__(self) -> int:
        return self._i

    def add(self, value: float) -> bool:
        """Keep a finite value (others are ignored); True once the buffer is full."""
        if self._i < self._buf.size and value - value == 0.0:  # finite: inf − inf and nan − nan are nan
            self._buf[self._i] = value
            self._i += 1
        return self._i >= self._buf.size

    def values(self) -> FloatArray:
        return self._buf[: self._i].copy()

    def learn(self, *, min_points: int | None = None) -> Baseline | CannotLearn:
        return learn_baseline(self._buf[: self._i], min_points=self._buf.size if min_points is None else min_points)

    def clear(self) -> None:
        self._i = 0
