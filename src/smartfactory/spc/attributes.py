"""Attributes control charts p, np, c and u, with varying limits when the sample sizes vary.

Formulas (Montgomery §7.2-7.3; qcc 2.7 ``limits.np``, ``limits.p``, ``limits.c``, ``limits.u``), k = nsigmas:

- p:   CL = p̄ = ΣD/Σn, limits [max(0, n_i p̄ − k√(n_i p̄(1−p̄))), min(n_i, n_i p̄ + k√(n_i p̄(1−p̄)))] / n_i;
       σ = √(p̄(1−p̄)) (qcc 2.7 stores the per-unit value)
- np:  CL_i = n_i p̄, limits max(0, n_i p̄ ∓ k√(n_i p̄(1−p̄))) capped at n_i; σ_i = √(n_i p̄(1−p̄))
- c:   CL = c̄, limits max(0, c̄ − k√c̄), c̄ + k√c̄; σ = √c̄ (equal inspection units required)
- u:   CL = ū = Σc/Σn, limits [max(0, n_i ū − k√(n_i ū)), n_i ū + k√(n_i ū)] / n_i; σ = √ū

Lower limits are clipped at 0 (and p/np upper limits at 1/n_i), which also clips the 1σ and 2σ zone lines.
A known ``center`` (p̄, c̄ or ū) replaces the estimate; σ then follows from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from smartfactory.spc.chart import ControlChart, make_chart
from smartfactory.spc.errors import SpcError
from smartfactory.spc.rules import ALL_RULES, BoolArray, FloatArray
from smartfactory.spc.variables import resolve_phase1


def _counts_sizes(
    counts: npt.ArrayLike, sizes: npt.ArrayLike | None, need_sizes: bool, bounded: bool
) -> tuple[FloatArray, FloatArray]:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1:
        raise SpcError("counts must be a 1-D sequence")
    if sizes is None:
        if need_sizes:
            raise SpcError("this chart needs the sample size of every point: pass --size COL")
        n = np.ones_like(c)
    else:
        n = np.broadcast_to(np.asarray(sizes, dtype=np.float64), c.shape).copy()
    for name, arr in (("count", c), ("size", n)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise SpcError(f"{name} of point {int(bad[0]) + 1} is missing: fill it or drop the row")
    if (c < 0).any():
        raise SpcError(f"count of point {int(np.flatnonzero(c < 0)[0]) + 1} is negative")
    if (n <= 0).any():
        raise SpcError(f"sample size of point {int(np.flatnonzero(n <= 0)[0]) + 1} must be positive")
    if bounded and (c > n).any():
        i = int(np.flatnonzero(c > n)[0])
        raise SpcError(f"point {i + 1} has {c[i]:g} nonconforming in a sample of {n[i]:g}: count must be ≤ size")
    return c, n


def _revised(
    n1: int,
    revise: int,
    estimate: Callable[[BoolArray], float],
    stat: FloatArray,
    limits_for: Callable[[float], Callable[[float], tuple[FloatArray, FloatArray]]],
    k: float,
    known: bool,
) -> tuple[float, BoolArray]:
    """Estimate the centre from phase I, dropping points beyond the limits up to ``revise`` times."""
    keep = np.ones(n1, dtype=np.bool_)
    cl = estimate(keep)
    for _ in range(0 if known else max(0, revise)):
        lo, hi = limits_for(cl)(k)
        out = keep & ((stat[:n1] > hi[:n1]) | (stat[:n1] < lo[:n1]))
        if not out.any():
            break
        keep = keep & ~out
        if not keep.any():
            raise SpcError("revising phase I dropped every point: check the data or use --revise 0")
        cl = estimate(keep)
    return cl, keep


def _binomial(
    kind: str,
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    phase1: int | None,
    center: float | None,
    nsigmas: float,
    rules: Iterable[str] | str,
    revise: int,
) -> ControlChart:
    c, n = _counts_sizes(counts, sizes, need_sizes=True, bounded=True)
    n1 = resolve_phase1(c.size, phase1, 1, "samples")
    k = float(nsigmas)
    stat = c.copy() if kind == "np" else c / n  # np plots counts, p plots proportions

    def estimate(keep: BoolArray) -> float:
        if center is not None:
            return float(center)
        total = float(np.sum(n[:n1][keep]))
        return float(np.sum(c[:n1][keep])) / total

    def limits_for(pbar: float) -> Callable[[float], tuple[FloatArray, FloatArray]]:
        def fn(z: float) -> tuple[FloatArray, FloatArray]:
            tol = z * np.sqrt(pbar * (1.0 - pbar) * n)
            lo = np.maximum(n * pbar - tol, 0.0)
            hi = np.minimum(n * pbar + tol, n)
            return (lo, hi) if kind == "np" else (lo / n, hi / n)

        return fn

    pbar, keep = _revised(n1, revise, estimate, stat, limits_for, k, center is not None)
    if not 0.0 <= pbar <= 1.0:
        raise SpcError(f"the centre of a {kind} chart is a proportion in [0, 1], got {pbar:g}")
    excl = tuple(int(i) + 1 for i in np.flatnonzero(~keep))
    if kind == "np":
        cl: FloatArray | float = n * pbar
        sd: FloatArray | float = np.sqrt(n * pbar * (1.0 - pbar))
    else:
        cl, sd = pbar, float(np.sqrt(pbar * (1.0 - pbar)))
    return make_chart(kind, stat, n, n1, cl, sd, limits_for(pbar), k, rules, excluded=excl)


def p_chart(
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    phase1: int | None = None,
    *,
    center: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ControlChart:
    """Fraction nonconforming D_i/n_i."""
    return _binomial("p", counts, sizes, phase1, center, nsigmas, rules, revise)


def np_chart(
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    phase1: int | None = None,
    *,
    center: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ControlChart:
    """Number nonconforming D_i (centre n_i p̄ varies when sizes vary). ``center`` is p̄."""
    return _binomial("np", counts, sizes, phase1, center, nsigmas, rules, revise)


def _poisson(
    kind: str,
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike | None,
    phase1: int | None,
    center: float | None,
    nsigmas: float,
    rules: Iterable[str] | str,
    revise: int,
) -> ControlChart:
    c, n = _counts_sizes(counts, sizes, need_sizes=kind == "u", bounded=False)
    n1 = resolve_phase1(c.size, phase1, 1, "samples")
    if kind == "c" and any(part.size and bool(np.any(part != part[0])) for part in (n[:n1], n[n1:])):
        # qcc checks each phase on its own (stats.c is called for the data and for the new data)
        raise SpcError("a c chart needs the same inspection unit for every point: use a u chart (--chart u)")
    k = float(nsigmas)
    units = n if kind == "u" else np.ones_like(n)
    stat = c / units

    def estimate(keep: BoolArray) -> float:
        if center is not None:
            return float(center)
        if kind == "c":
            return float(np.mean(c[:n1][keep]))
        return float(np.sum(c[:n1][keep])) / float(np.sum(n[:n1][keep]))

    def limits_for(rate: float) -> Callable[[float], tuple[FloatArray, FloatArray]]:
        def fn(z: float) -> tuple[FloatArray, FloatArray]:
            mean = rate * units
            tol = z * np.sqrt(mean)
            return np.maximum(mean - tol, 0.0) / units, (mean + tol) / units

        return fn

    rate, keep = _revised(n1, revise, estimate, stat, limits_for, k, center is not None)
    if rate < 0:
        raise SpcError(f"the centre of a {kind} chart is a rate ≥ 0, got {rate:g}")
    excl = tuple(int(i) + 1 for i in np.flatnonzero(~keep))
    return make_chart(kind, stat, n, n1, rate, float(np.sqrt(rate)), limits_for(rate), k, rules, excluded=excl)


def c_chart(
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike | None = None,
    phase1: int | None = None,
    *,
    center: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ControlChart:
    """Count of nonconformities per (constant) inspection unit."""
    return _poisson("c", counts, sizes, phase1, center, nsigmas, rules, revise)


def u_chart(
    counts: npt.ArrayLike,
    sizes: npt.ArrayLike,
    phase1: int | None = None,
    *,
    center: float | None = None,
    nsigmas: float = 3.0,
    rules: Iterable[str] | str = ALL_RULES,
    revise: int = 0,
) -> ControlChart:
    """Nonconformities per unit c_i/n_i."""
    return _poisson("u", counts, sizes, phase1, center, nsigmas, rules, revise)
