"""Time-weighted charts: EWMA with exact time-varying limits and the tabular CUSUM.

Both take individual values (1-D) or subgroups (2-D, NaN padding for unequal sizes). Phase I estimates follow
qcc 2.7 (``ewma()``, ``cusum()``): centre = mean of the phase I values (size-weighted grand mean for
subgroups); σ̂ = MR̄/1.128 for individuals, mean(R_i/d2(n_i)) for subgroups (pooled "RMSDF" when a subgroup
has more than 25 values). Statistics run over phase I and phase II together.

EWMA (Montgomery §9.2; Roberts 1959), z_0 = centre:
    z_t = λ x_t + (1 − λ) z_{t−1}
    limits_t = centre ± L σ̂/√n_t · √(λ/(2−λ) · (1 − (1−λ)^{2t}))
    signal when z_t is strictly beyond its limits.

Tabular CUSUM (Montgomery §9.1; qcc ``cusum(decision.interval = h, se.shift = 2k)``), in standard errors:
    z_t = (x_t − centre) / (σ̂/√n_t)
    C⁺_t = max(0, C⁺_{t−1} + z_t − k),   C⁻_t = max(0, C⁻_{t−1} − z_t − k),   C⁺_0 = C⁻_0 = 0
    upper = C⁺, lower = −C⁻ (reported negative, as qcc does); signal when C⁺ > h or −C⁻ < −h.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from smartfactory.spc.chart import ControlChart, make_chart
from smartfactory.spc.constants import D2_MAX_N
from smartfactory.spc.errors import SpcError
from smartfactory.spc.estimators import (
    as_individuals,
    as_subgroups,
    sigma_moving_range,
    sigma_rmsdf,
    sigma_uwave_r,
    subgroup_stats,
    weighted_mean,
)
from smartfactory.spc.rules import FloatArray
from smartfactory.spc.variables import resolve_phase1

Data = npt.ArrayLike | Sequence[Sequence[float]]


def location_estimates(
    data: Data, phase1: int | None, center: float | None, sigma: float | None
) -> tuple[FloatArray, FloatArray, int, float, float]:
    """Group statistics, sizes, phase I length, centre and σ̂ for the time-weighted charts."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except ValueError:  # ragged subgroups
        arr = as_subgroups(data)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    is_individual = arr.ndim == 1
    if is_individual:
        x = as_individuals(arr)
        n1 = resolve_phase1(x.size, phase1, 2, "points")
        cl = float(np.mean(x[:n1])) if center is None else float(center)
        sd = sigma_moving_range(x[:n1]) if sigma is None else float(sigma)
        return x, np.ones(x.size), n1, cl, sd
    st = subgroup_stats(as_subgroups(arr), min_size=2)
    n1 = resolve_phase1(st.sizes.size, phase1, 1, "subgroups")
    sz = st.sizes[:n1]
    cl = weighted_mean(st.means[:n1], sz) if center is None else float(center)
    if sigma is not None:
        sd = float(sigma)
    elif float(st.sizes[:n1].max()) > D2_MAX_N:
        sd = sigma_rmsdf(st.sds[:n1], sz)
    else:
        sd = sigma_uwave_r(st.ranges[:n1], sz)
    return st.means, st.sizes, n1, cl, sd


def ewma(
    data: Data,
    phase1: int | None = None,
    *,
    lam: float = 0.2,
    nsigmas: float = 3.0,
    center: float | None = None,
    sigma: float | None = None,
) -> ControlChart:
    """EWMA chart; ``statistics`` are the z_t, ``observed`` the values they smooth."""
    if not 0.0 < lam <= 1.0:
        raise SpcError(f"lambda must be in (0, 1], got {lam:g}")
    x, sizes, n1, cl, sd = location_estimates(data, phase1, center, sigma)
    lam = float(lam)
    from scipy.signal import lfilter  # imported on first use: scipy.signal is slow to import

    z, _ = lfilter([lam], [1.0, -(1.0 - lam)], x, zi=[(1.0 - lam) * cl])
    t = np.arange(1, x.size + 1, dtype=np.float64)
    se = np.sqrt(sd**2 / sizes * ((lam / (2.0 - lam)) * (1.0 - (1.0 - lam) ** (2.0 * t))))

    def limits(k: float) -> tuple[FloatArray, FloatArray]:
        return cl - k * se, cl + k * se

    lcl, ucl = limits(nsigmas)
    signal = (z > ucl) | (z < lcl)
    return make_chart(
        "ewma", z, sizes, n1, cl, sd, limits, nsigmas, (),
        signal=signal, observed=x, params={"lambda": lam, "nsigmas": float(nsigmas)},
    )  # fmt: skip


def cusum(
    data: Data,
    phase1: int | None = None,
    *,
    h: float = 5.0,
    k: float = 0.5,
    center: float | None = None,
    sigma: float | None = None,
) -> ControlChart:
    """Tabular CUSUM; ``statistics`` are the observed values, ``upper``/``lower`` the cumulative sums."""
    if h <= 0 or k < 0:
        raise SpcError(f"CUSUM needs h > 0 and k ≥ 0 (in sigma units), got h={h:g}, k={k:g}")
    x, sizes, n1, cl, sd = location_estimates(data, phase1, center, sigma)
    if sd <= 0:
        raise SpcError("sigma is 0: the data do not vary, a CUSUM cannot be standardised")
    zs = ((x - cl) / (sd / np.sqrt(sizes))).tolist()
    upper: list[float] = []
    lower: list[float] = []
    cp = cn = 0.0
    kk = float(k)
    for z in zs:  # the recursion is inherently sequential; plain floats keep it exact and fast
        cp = max(0.0, cp + (z - kk))
        cn = max(0.0, cn - (z + kk))
        upper.append(cp)
        lower.append(-cn)
    up = np.asarray(upper)
    lo = np.asarray(lower)
    signal = (up > h) | (lo < -h)
    hh = float(h)

    def limits(_: float) -> tuple[FloatArray, FloatArray]:
        return np.full(x.size, -hh), np.full(x.size, hh)

    return make_chart(
        "cusum", x, sizes, n1, cl, sd, limits, 3.0, (),
        signal=signal, upper=up, lower=lo, observed=x, params={"h": hh, "k": kk},
    )  # fmt: skip
