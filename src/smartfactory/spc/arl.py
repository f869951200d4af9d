"""Average run lengths (ARL) of CUSUM and Shewhart detectors, with and without phase I estimation error.

All statistics are in standard units: the detector sees z = (x − μ̂)/σ̂ (or an AR(1) residual scaled by σ̂_e).

**Tabular CUSUM on the mean** (Page 1954), C⁺_t = max(0, C⁺_{t−1} + z_t − k), signal when C⁺ > h.
Siegmund's approximation (Siegmund 1985, *Sequential Analysis: Tests and Confidence Intervals*, Springer;
quoted in Montgomery ch. 9) for increments N(δ, 1), Δ = δ − k, b = h + 1.166:

    ARL⁺(δ) = (exp(−2Δb) + 2Δb − 1) / (2Δ²)       (b² when Δ = 0)

and for the two-sided chart 1/ARL = 1/ARL⁺(δ) + 1/ARL⁺(−δ) (Montgomery ch. 9). In general the rate of a
set of detectors on one series is the sum of their rates, 1/ARL = Σ 1/ARL_i (exact for independent renewal
processes, an excellent approximation for the rare in-control alarms here).

**CUSUM for a variance increase** on z² (the likelihood-ratio CUSUM for σ² → r σ² with known mean; Hawkins &
Olwell 1998, *Cumulative Sum Charts and Charting for Quality Improvement*, Springer, on scale CUSUMs):
S_t = max(0, S_{t−1} + z_t² − k_v), k_v = r ln r / (r − 1) (= 2 ln 2 = 1.386 for r = 2), signal when S > h_v.
Its increments are χ²₁, not normal, so its ARL comes from the Markov-chain method of Brook & Evans (1972,
*Biometrika* 59:539–549): [0, h] cut into t states, ARL = first entry of (I − P)⁻¹ 1.

**Shewhart / shock** limits: |z| > L has ARL 1/(2Φ(−L)).

**Phase I estimation error.** With μ̂ = μ + εσ and σ̂ = sσ, a chart designed for known parameters sees
z = (Z − ε)/s, Z ~ N(0, 1). For the mean CUSUM that is a CUSUM on Z with k' = ks ± ε and h' = hs; for
z² it is Z² with k_v s² and h_v s²; for the shock P(|Z − ε| > Ls). The ``expected_*_rate`` functions average the
conditional false-alarm *rate* (what a plant of many series accumulates) over ε ~ N(0, 1/n) and
s ~ √(χ²_ν/ν) (Wilson–Hilferty), by Gauss–Hermite quadrature; :mod:`smartfactory.spc.design` solves the
thresholds so that this expected rate meets the budget.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from smartfactory.spc.errors import SpcError
from smartfactory.spc.rules import FloatArray

SIEGMUND_B = 1.166  # b = h + 1.166 (Siegmund 1985)
MARKOV_STATES = 800  # Brook-Evans states: within ~1 % of the converged ARL (see markov_arl)
_EXP_MAX = 700.0


def _scipy_linalg() -> Any:
    from scipy import linalg

    return linalg


def _scipy() -> Any:
    """scipy.stats and scipy.special, imported on first use (they are slow to import)."""
    from scipy import optimize, special, stats

    return stats, special, optimize


# -- CUSUM on the mean ------------------------------------------------------------------------------------
def siegmund_arl(shift: npt.ArrayLike, k: npt.ArrayLike, h: npt.ArrayLike) -> FloatArray:
    """One-sided upper CUSUM ARL for N(shift, 1) increments (vectorised over all arguments)."""
    d = np.asarray(shift, dtype=np.float64) - np.asarray(k, dtype=np.float64)
    b = np.asarray(h, dtype=np.float64) + SIEGMUND_B
    small = np.abs(d) < 1e-8
    dd = np.where(small, 1.0, d)
    x = -2.0 * dd * b
    arl = (np.exp(np.minimum(x, _EXP_MAX)) - x - 1.0) / (2.0 * dd * dd)
    return np.asarray(np.where(small, b * b, arl), dtype=np.float64)


def cusum_arl(k: float, h: float, shift: float = 0.0) -> float:
    """Two-sided CUSUM ARL at a mean shift (σ units): 1/ARL = 1/ARL⁺(shift) + 1/ARL⁺(−shift)."""
    up, down = siegmund_arl([shift, -shift], k, h)
    return float(1.0 / (1.0 / up + 1.0 / down))


def _solve_log(fn: Callable[[float], float], target: float, lo: float, hi: float, what: str) -> float:
    """x in [lo, hi] with fn(x) = target, fn increasing; the bracket grows from ``lo`` by doubling.

    Solved on log fn, so a factor-of-10 error weighs the same at ARL 100 and at ARL 10⁶.
    """
    opt = _scipy()[2]
    log_target = math.log(target)

    def g(x: float) -> float:
        v = fn(x)
        return math.log(v) - log_target if v > 0 and math.isfinite(v) else math.inf

    if g(lo) > 0:
        return lo
    a, b = lo, max(lo + 1.0, 1.0)
    while g(b) < 0:  # double until the target is bracketed (keeps the Markov chain well conditioned)
        a, b = b, 2.0 * b
        if b > hi:
            raise SpcError(f"{what}: ARL0 {target:.3g} needs a threshold above {hi:g}; lower the target")
    if not math.isfinite(g(b)):
        b_lo = a  # the chain is ill-conditioned out there: shrink towards a until finite
        while not math.isfinite(g(b)) and b - b_lo > 1e-6:
            b = (b + b_lo) / 2.0
    return float(opt.brentq(g, a, b, xtol=1e-10, rtol=1e-12))


def solve_cusum_h(arl0: float, k: float) -> float:
    """Decision interval h of a two-sided CUSUM with reference k whose Siegmund ARL0 is ``arl0``."""
    if arl0 < 2:
        raise SpcError(f"an in-control ARL below 2 points is not a detector, got {arl0:g}")
    return _solve_log(lambda h: cusum_arl(k, h), arl0, 0.0, 500.0, "CUSUM")


# -- Markov chain (Brook & Evans 1972) ------------------------------------------------------------------
def markov_arl(cdf: Callable[[FloatArray], FloatArray], k: float, h: float, states: int = MARKOV_STATES) -> float:
    """ARL of S_t = max(0, S_{t−1} + X_t − k), S_0 = 0, signal S_t > h, for i.i.d. X with CDF ``cdf``.

    Brook & Evans: state j covers [(j − ½)w, (j + ½)w) (state 0 is [0, w/2)), w = 2h/(2t − 1), and
    ARL = first entry of (I − P)⁻¹ 1. P is Toeplitz (it depends on j − i) except for its first column, so
    the system is solved by Levinson recursion plus a rank-one (Sherman–Morrison) correction: O(t²) with no
    dense LAPACK call, which lets t be large enough (800) for the χ² increments, whose density is singular
    at 0 and needs a fine grid (the ARL moves by < 1 % from 800 to 3,200 states).
    """
    linalg = _scipy_linalg()
    t = int(states)
    w = 2.0 * h / (2.0 * t - 1.0)
    offsets = np.arange(-t, t + 1, dtype=np.float64)
    edge = np.asarray(cdf((offsets + 0.5) * w + k), dtype=np.float64)  # edge[o + t] = F((o + ½)w + k)
    idx = np.arange(t)
    col = edge[t - idx] - edge[t - idx - 1]  # Toeplitz first column, P[i, 0] would be this
    row = edge[t + idx] - edge[t + idx - 1]  # first row: P[0, j]
    u = edge[t - idx] - col  # the true first column is F((½ − i)w + k) = edge[t − i]
    c, r = -col, -row
    c[0] += 1.0
    r[0] += 1.0
    x = linalg.solve_toeplitz((c, r), np.ones(t))
    y = linalg.solve_toeplitz((c, r), u)
    # (I − T − u e₀ᵀ) L = 1  ⇒  L = x + y · x₀ / (1 − y₀)
    x0, y0 = float(x[0]), float(y[0])
    arl = x0 + y0 * x0 / (1.0 - y0) if y0 != 1.0 else math.inf
    return arl if arl > 0 and math.isfinite(arl) else math.inf  # beyond double precision: never, in practice


def variance_k(ratio: float) -> float:
    """Reference value of the z² CUSUM tuned for σ² → ratio·σ²: r ln r / (r − 1)."""
    if not ratio > 1.0:
        raise SpcError(f"the variance ratio to detect must be above 1, got {ratio:g}")
    return ratio * math.log(ratio) / (ratio - 1.0)


def variance_cusum_arl(
    k: float, h: float, ratio: float = 1.0, shift: float = 0.0, states: int = MARKOV_STATES
) -> float:
    """ARL of the z² CUSUM when z ~ N(shift, ratio) (ratio = variance factor)."""
    stats = _scipy()[0]
    if shift == 0.0:

        def cdf(x: FloatArray) -> FloatArray:
            return np.asarray(stats.chi2.cdf(np.maximum(x, 0.0) / ratio, 1), dtype=np.float64)
    else:

        def cdf(x: FloatArray) -> FloatArray:
            return np.asarray(stats.ncx2.cdf(np.maximum(x, 0.0) / ratio, 1, shift * shift / ratio), dtype=np.float64)

    return markov_arl(cdf, k, h, states)


@functools.lru_cache(maxsize=256)
def solve_variance_h(arl0: float, k: float) -> float:
    """Decision interval of the z² CUSUM with reference ``k`` whose in-control ARL is ``arl0``."""
    if arl0 < 2:
        raise SpcError(f"an in-control ARL below 2 points is not a detector, got {arl0:g}")
    return _solve_log(lambda h: variance_cusum_arl(k, h), arl0, 0.01, 400.0, "variance CUSUM")


# -- Shewhart limits --------------------------------------------------------------------------------------
def shock_limit(arl0: float) -> float:
    """L with P(|Z| > L) = 1/arl0 (two-sided normal tail)."""
    if arl0 <= 1:
        raise SpcError(f"an in-control ARL must exceed 1 point, got {arl0:g}")
    return float(_scipy()[0].norm.isf(0.5 / arl0))


def shock_arl(limit: float, shift: float = 0.0, ratio: float = 1.0) -> float:
    """ARL of |z| > L when z ~ N(shift, ratio)."""
    norm = _scipy()[0].norm
    sd = math.sqrt(ratio)
    p = float(norm.sf((limit - shift) / sd) + norm.cdf((-limit - shift) / sd))
    return math.inf if p == 0 else 1.0 / p


def s_chart_limit(arl0: float, n: int) -> float:
    """Upper limit U of s/σ for subgroups of n: P(χ²_{n−1}/(n−1) > U²) = 1/arl0."""
    if n < 2:
        raise SpcError(f"an S chart needs subgroups of 2 or more, got {n}")
    return math.sqrt(float(_scipy()[0].chi2.isf(1.0 / arl0, n - 1)) / (n - 1))


def poisson_limit(mean: float, alpha: float) -> int:
    """Smallest count u with P(C > u) ≤ α for C ~ Poisson(mean): signal when a count exceeds u."""
    if not (mean >= 0 and math.isfinite(mean)) or not 0 < alpha < 1:
        raise SpcError(f"a Poisson limit needs a finite mean ≥ 0 and 0 < α < 1, got {mean!r}, {alpha!r}")
    pois = _scipy()[0].poisson
    u = int(pois.isf(alpha, mean)) if mean > 0 else 0
    while u > 0 and float(pois.sf(u - 1, mean)) <= alpha:  # isf may land one above: walk down
        u -= 1
    while float(pois.sf(u, mean)) > alpha:
        u += 1
    return u


# -- phase I estimation error --------------------------------------------------------------------------
def estimation_nodes(center_var: float, df: float | None, nodes: int = 24) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quadrature over phase I error: (ε, s, weight) on a product grid; ε ~ N(0, center_var), s = σ̂/σ.

    s ~ √(χ²_df/df) by Wilson–Hilferty: (χ²/ν)^{1/3} ≈ N(1 − 2/(9ν), 2/(9ν)). ``df=None``: σ known (s = 1).
    """
    z, wz = np.polynomial.hermite_e.hermegauss(nodes)
    wz = wz / math.sqrt(2.0 * math.pi)
    eps = z * math.sqrt(center_var) if center_var > 0 else np.zeros(1)
    weps = wz if center_var > 0 else np.ones(1)
    if df is None:
        s, ws = np.ones(1), np.ones(1)
    else:
        c = 1.0 - 2.0 / (9.0 * df) + math.sqrt(2.0 / (9.0 * df)) * z
        s, ws = np.maximum(c, 1e-3) ** 1.5, wz
    e2, s2 = np.meshgrid(eps, s, indexing="ij")
    w2 = np.outer(weps, ws)
    return e2.ravel(), s2.ravel(), w2.ravel()


def expected_cusum_rate(k: float, h: float, center_var: float, df: float | None) -> float:
    """In-control alarms per point of the two-sided mean CUSUM, averaged over phase I error."""
    eps, s, w = estimation_nodes(center_var, df)
    rate = 1.0 / siegmund_arl(0.0, k * s + eps, h * s) + 1.0 / siegmund_arl(0.0, k * s - eps, h * s)
    return float(np.dot(w, rate))


def expected_shock_rate(limit: float, center_var: float, df: float | None) -> float:
    """In-control P(|z| > L) averaged over phase I error."""
    special = _scipy()[1]
    eps, s, w = estimation_nodes(center_var, df)
    p = special.ndtr(-limit * s + eps) + special.ndtr(-limit * s - eps)
    return float(np.dot(w, p))


def expected_variance_rate(k: float, h: float, df: float | None, center_var: float = 0.0, nodes: int = 12) -> float:
    """In-control alarms per point of the z² CUSUM averaged over phase I error.

    z² = (Z − ε)²/s², whose mean is (1 + ε²)/s²; with ε² replaced by its mean ``center_var`` (its spread,
    O(1/n²), is negligible beside that of s², O(1/n)), the chart is a z² CUSUM at scale q = s²/(1 + center_var):
    k q and h q on Z².
    """
    if df is None and center_var == 0.0:
        return 1.0 / variance_cusum_arl(k, h)
    _, s, w = estimation_nodes(0.0, df, nodes)
    q = s * s / (1.0 + center_var)
    return float(sum(wi / variance_cusum_arl(k * qi, h * qi) for qi, wi in zip(q, w, strict=True)))


def expected_s_chart_rate(limit: float, n: int, df: float | None) -> float:
    """In-control P(s/σ̂ > U) for subgroups of n, averaged over σ̂ error."""
    chi2 = _scipy()[0].chi2
    _, s, w = estimation_nodes(0.0, df)
    return float(np.dot(w, chi2.sf((n - 1) * (limit * s) ** 2, n - 1)))


def solve_rate(rate_fn: Callable[[float], float], target_rate: float, lo: float, hi: float, what: str) -> float:
    """Threshold x in [lo, hi] with rate_fn(x) = target_rate (rate_fn decreasing)."""
    return _solve_log(lambda x: 1.0 / rate_fn(x), 1.0 / target_rate, lo, hi, what)


@functools.lru_cache(maxsize=256)
def solve_variance_h_expected(arl0: float, k: float, df: float, center_var: float) -> float:
    """Decision interval of the z² CUSUM whose in-control rate, averaged over phase I error, is 1/arl0."""
    return solve_rate(lambda x: expected_variance_rate(k, x, df, center_var), 1.0 / arl0, 0.01, 400.0, "variance CUSUM")
