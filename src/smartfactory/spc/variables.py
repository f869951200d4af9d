"""Variables control charts: individuals & moving range, X̄ & R, X̄ & S (unequal subgroup sizes allowed).

Formulas (Montgomery §6.2-6.4; qcc 2.7 ``stats.*``, ``sd.*``, ``limits.*``), k = nsigmas (3 by default):

- I chart:  CL = x̄ (phase I mean), σ̂ = MR̄/1.128, limits CL ± k σ̂
- MR chart: CL = MR̄, limits max(0, MR̄ − k d3(2) σ̂), MR̄ + k d3(2) σ̂ (qcc's R chart on consecutive pairs)
- X̄ chart:  CL = Σ n_i x̄_i / Σ n_i, limits CL ± k σ̂ / √n_i; σ̂ = mean(R_i/d2(n_i)) (X̄-R) or
  mean(s_i/c4(n_i)) (X̄-S)
- R chart:  CL = Σ n_i R_i / Σ n_i, limits max(0, CL − k d3(n_i) σ̂), CL + k d3(n_i) σ̂
- S chart:  CL = Σ n_i s_i / Σ n_i, limits max(0, CL − k σ̂ √(1−c4(n_i)²)), CL + k σ̂ √(1−c4(n_i)²)

Phase I is the first ``phase1`` points or subgroups (all of them by default); estimates use phase I only and
phase II points are judged against the frozen limits; rules run across both phases. ``revise=N`` drops
phase I points/subgroups beyond the limits of either chart and re-estimates, up to N passes.

With a known ``sigma`` the dispersion charts use the "standard given" form (Montgomery §6.2.1): centre
d2(n)σ (MR, R) or c4(n)σ (S) with the same k-sigma widths.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from smartfactory.spc.chart import ChartPair, make_chart
from smartfactory.spc.constants import c4, d2, d3
from smartfactory.spc.errors import SpcError
from smartfactory.spc.estimators import (
    as_individuals,
    as_subgroups,
    per_size,
    sigma_moving_range,
    sigma_uwave_r,
    sigma_uwave_sd,
    subgroup_stats,
    weighted_mean,
)
from smartfactory.spc.rules import ALL_RULES, BoolArray, FloatArray


def resolve_phase1(n: int, phase1: int | None, minimum: int, unit: str) -> int:
    """Validate the phase I length (``None`` = every point is phase I)."""
    n1 = n if phase1 is None else int(phase1)
    if n1 > n:
        raise SpcError(f"phase I has {n1} {unit} but the data only has {n}: lower --phase1")
    if n1 < minimum:
        raise SpcError(f"need at least {minimum} phase I {unit} to estimate limits, got {n1}")
    return n1


def _excluded(keep: BoolArray) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in np.flatnonzero(~keep))


def imr(
    values: npt.ArrayLike,
    phase1: int | None = None,
    *,
    center: float | None = None,
    sigma: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ChartPair:
    """Individuals (I) chart with its moving-range (MR) companion.

    The MR chart has n−1 points: MR_j = |x_{j+1} − x_j|, indexed 1..n−1; its phase I is the n1−1 ranges
    inside phase I.
    """
    x = as_individuals(values)
    n1 = resolve_phase1(x.size, phase1, 2, "points")
    base = x[:n1]
    k = float(nsigmas)

    def estimate(keep: BoolArray) -> tuple[float, float]:
        cl = float(np.mean(base[keep])) if center is None else float(center)
        return cl, (sigma_moving_range(base, keep) if sigma is None else float(sigma))

    keep = np.ones(n1, dtype=np.bool_)
    cl, sd = estimate(keep)
    for _ in range(max(0, revise)):
        if center is not None and sigma is not None:
            break
        out = keep & ((base > cl + k * sd) | (base < cl - k * sd))
        if not out.any():
            break
        keep = keep & ~out
        if keep.sum() < 2:
            raise SpcError("revising phase I dropped almost every point: check the data or use --revise 0")
        cl, sd = estimate(keep)

    # constant lines as 0-d arrays: make_chart broadcasts them to every point without a copy per point
    def i_limits(z: float) -> tuple[FloatArray, FloatArray]:
        return np.asarray(cl - z * sd), np.asarray(cl + z * sd)

    main = make_chart("i", x, 1.0, n1, cl, sd, i_limits, k, rules, excluded=_excluded(keep))

    mr = np.abs(np.diff(x))
    usable = keep[1:] & keep[:-1]
    # MR̄ from phase I (qcc: centre of the R chart of consecutive pairs); standard given: d2(2)·σ
    mr_center = float(np.mean(mr[: n1 - 1][usable])) if sigma is None else d2(2) * sd

    def mr_limits(z: float) -> tuple[FloatArray, FloatArray]:
        half = z * d3(2) * sd
        return np.asarray(max(0.0, mr_center - half)), np.asarray(mr_center + half)

    mr_excl = tuple(int(j) + 1 for j in np.flatnonzero(~usable))
    companion = make_chart("mr", mr, 2.0, n1 - 1, mr_center, sd, mr_limits, k, rules, excluded=mr_excl)
    return ChartPair(main=main, companion=companion, observations=x[:n1][keep].copy())


def _xbar_pair(
    dispersion: str,
    data: npt.ArrayLike | Sequence[Sequence[float]],
    phase1: int | None,
    center: float | None,
    sigma: float | None,
    nsigmas: float,
    rules: Iterable[str] | str,
    revise: int,
) -> ChartPair:
    arr = as_subgroups(data)
    st = subgroup_stats(arr, min_size=2)
    n1 = resolve_phase1(st.sizes.size, phase1, 1, "subgroups")
    sizes = st.sizes
    spread = st.ranges if dispersion == "r" else st.sds
    k = float(nsigmas)
    # the dispersion chart's k·σ-width per unit σ: d3(n) for R, √(1−c4(n)²) for S
    width = per_size(d3, sizes) if dispersion == "r" else np.sqrt(1.0 - per_size(c4, sizes) ** 2)
    keep = np.ones(n1, dtype=np.bool_)

    def estimate(keep: BoolArray) -> tuple[float, float, FloatArray]:
        sz, m = sizes[:n1][keep], st.means[:n1][keep]
        cl = weighted_mean(m, sz) if center is None else float(center)
        if sigma is not None:
            sd = float(sigma)
            scale = per_size(d2, sizes) if dispersion == "r" else per_size(c4, sizes)
            return cl, sd, scale * sd  # standard given: d2(n)σ or c4(n)σ
        sp = spread[:n1][keep]
        sd = sigma_uwave_r(sp, sz) if dispersion == "r" else sigma_uwave_sd(sp, sz)
        return cl, sd, np.full(sizes.size, weighted_mean(sp, sz))

    cl, sd, sp_center = estimate(keep)
    for _ in range(max(0, revise)):
        if center is not None and sigma is not None:
            break
        se = sd / np.sqrt(sizes[:n1])
        out_x = (st.means[:n1] > cl + k * se) | (st.means[:n1] < cl - k * se)
        lo = np.maximum(0.0, sp_center[:n1] - k * width[:n1] * sd)
        out_s = (spread[:n1] > sp_center[:n1] + k * width[:n1] * sd) | (spread[:n1] < lo)
        out = keep & (out_x | out_s)
        if not out.any():
            break
        keep = keep & ~out
        if not keep.any():
            raise SpcError("revising phase I dropped every subgroup: check the data or use --revise 0")
        cl, sd, sp_center = estimate(keep)

    root_n = np.sqrt(sizes)

    def x_limits(z: float) -> tuple[FloatArray, FloatArray]:
        return cl - z * sd / root_n, cl + z * sd / root_n

    def s_limits(z: float) -> tuple[FloatArray, FloatArray]:
        half = z * width * sd
        return np.maximum(0.0, sp_center - half), sp_center + half

    excl = _excluded(keep)
    main = make_chart("xbar", st.means, sizes, n1, cl, sd, x_limits, k, rules, excluded=excl)
    companion = make_chart(dispersion, spread, sizes, n1, sp_center, sd, s_limits, k, rules, excluded=excl)
    obs = arr[:n1][keep]
    return ChartPair(main=main, companion=companion, observations=obs[~np.isnan(obs)])


def xbar_r(
    data: npt.ArrayLike | Sequence[Sequence[float]],
    phase1: int | None = None,
    *,
    center: float | None = None,
    sigma: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ChartPair:
    """X̄ chart with its R companion; σ̂ = mean(R_i / d2(n_i)). Subgroups of 2..25 (NaN pads short ones)."""
    return _xbar_pair("r", data, phase1, center, sigma, nsigmas, rules, revise)


def xbar_s(
    data: npt.ArrayLike | Sequence[Sequence[float]],
    phase1: int | None = None,
    *,
    center: float | None = None,
    sigma: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ChartPair:
    """X̄ chart with its S companion; σ̂ = mean(s_i / c4(n_i)). Subgroups of 2 or more (NaN pads short ones)."""
    return _xbar_pair("s", data, phase1, center, sigma, nsigmas, rules, revise)
