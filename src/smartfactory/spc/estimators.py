"""Subgroup statistics and the within-subgroup sigma estimators of qcc 2.7 (``sd.xbar``, ``sd.xbar.one``).

References: Montgomery, *Introduction to Statistical Quality Control*, 7th ed., §6.2-6.4;
Scrucca, L. (2004) "qcc: an R package for quality control charting", *R News* 4/1; qcc 2.7 ``R/qcc.R``.

- individuals ("MR"):  σ̂ = mean|x_t − x_{t−1}| / d2(2),  d2(2) = 1.128
- "UWAVE-R":           σ̂ = (1/m) Σ R_i / d2(n_i)          (unweighted mean over subgroups)
- "UWAVE-SD":          σ̂ = (1/m) Σ s_i / c4(n_i)
- "RMSDF":             σ̂ = sqrt(Σ (n_i−1) s_i² / Σ (n_i−1)) / c4(Σ (n_i−1) + 1)
  (qcc's default for an X̄ chart as soon as one subgroup has more than 25 observations)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from smartfactory.spc.constants import D2_MAX_N, c4, d2
from smartfactory.spc.errors import SpcError
from smartfactory.spc.rules import BoolArray, FloatArray


def as_individuals(values: npt.ArrayLike, what: str = "values") -> FloatArray:
    """A finite 1-D float array (individual measurements)."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise SpcError(f"{what} must be a 1-D sequence of numbers, got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise SpcError(f"{what} has a missing or non-finite value at point {int(bad[0]) + 1}: remove or fill it")
    return x


def as_subgroups(data: npt.ArrayLike | Sequence[Sequence[float]]) -> FloatArray:
    """A 2-D float array, one row per subgroup, NaN padding for unequal sizes (ragged lists are padded)."""
    if isinstance(data, np.ndarray):
        arr = np.asarray(data, dtype=np.float64)
    else:
        rows = [np.atleast_1d(np.asarray(r, dtype=np.float64)) for r in data]  # type: ignore[union-attr]
        width = max((r.size for r in rows), default=0)
        arr = np.full((len(rows), width), np.nan)
        for i, r in enumerate(rows):
            arr[i, : r.size] = r
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise SpcError(f"subgroup data must be 2-D (one row per subgroup), got shape {arr.shape}")
    if np.isinf(arr).any():
        raise SpcError("subgroup data contains an infinite value")
    return arr


@dataclass(frozen=True)
class SubgroupStats:
    """Per-subgroup size, mean, range and standard deviation (NaN cells ignored)."""

    sizes: FloatArray
    means: FloatArray
    ranges: FloatArray
    sds: FloatArray


def subgroup_stats(arr: FloatArray, min_size: int = 1) -> SubgroupStats:
    """Compute size, mean, range and sd of each row of ``arr``; every row needs ``min_size`` values."""
    present = ~np.isnan(arr)
    sizes = present.sum(axis=1).astype(np.float64)
    small = np.flatnonzero(sizes < min_size)
    if small.size:
        i = int(small[0])
        raise SpcError(
            f"subgroup {i + 1} has {int(sizes[i])} value(s); this chart needs {min_size} or more per subgroup"
        )
    filled = np.where(present, arr, 0.0)
    safe = np.maximum(sizes, 1.0)
    means = filled.sum(axis=1) / safe
    ranges = np.where(present, arr, -np.inf).max(axis=1) - np.where(present, arr, np.inf).min(axis=1)
    dev2 = np.where(present, (arr - means[:, None]) ** 2, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sds = np.where(sizes > 1, np.sqrt(dev2 / np.maximum(sizes - 1.0, 1.0)), np.nan)
    return SubgroupStats(sizes=sizes, means=means, ranges=ranges, sds=sds)


def per_size(fn: Callable[[int], float], sizes: npt.ArrayLike) -> FloatArray:
    """Apply a constant function (d2, d3, c4 …) to each subgroup size, computing each distinct size once."""
    s = np.asarray(sizes, dtype=np.float64)
    uniq, inverse = np.unique(s, return_inverse=True)
    table = np.array([fn(int(u)) for u in uniq], dtype=np.float64)
    return np.asarray(table[inverse].reshape(s.shape), dtype=np.float64)


def sigma_moving_range(x: FloatArray, keep: BoolArray | None = None) -> float:
    """MR̄ / d2(2): mean absolute difference of consecutive points (both kept) divided by 1.128."""
    mr = np.abs(np.diff(x))
    if keep is not None:
        mr = mr[keep[1:] & keep[:-1]]
    if mr.size == 0:
        raise SpcError("need at least 2 consecutive phase I points to estimate sigma from moving ranges")
    return float(np.mean(mr)) / d2(2)


def sigma_uwave_r(ranges: FloatArray, sizes: FloatArray) -> float:
    """Unweighted mean of R_i / d2(n_i) (qcc "UWAVE-R", Montgomery eq. 6.6 generalised)."""
    if ranges.size == 0:
        raise SpcError("no phase I subgroups to estimate sigma from")
    if float(sizes.max()) > D2_MAX_N:
        raise SpcError(f"ranges need subgroups of at most {D2_MAX_N}: use an X̄-S chart for larger subgroups")
    return float(np.sum(ranges / per_size(d2, sizes))) / ranges.size


def sigma_uwave_sd(sds: FloatArray, sizes: FloatArray) -> float:
    """Unweighted mean of s_i / c4(n_i) (qcc "UWAVE-SD", Montgomery eq. 6.27 generalised)."""
    if sds.size == 0:
        raise SpcError("no phase I subgroups to estimate sigma from")
    return float(np.sum(sds / per_size(c4, sizes))) / sds.size


def sigma_rmsdf(sds: FloatArray, sizes: FloatArray) -> float:
    """Pooled standard deviation divided by c4 of the pooled degrees of freedom + 1 (qcc "RMSDF")."""
    w = sizes - 1.0
    df = float(np.sum(w))
    if df <= 0:
        raise SpcError("no phase I subgroups with more than one value to estimate sigma from")
    return float(np.sqrt(np.sum(sds**2 * w) / df)) / c4(df + 1.0)


def weighted_mean(values: FloatArray, sizes: FloatArray) -> float:
    """Σ n_i v_i / Σ n_i (qcc's centre of X̄, R and S charts)."""
    total = float(np.sum(sizes))
    if total <= 0:
        raise SpcError("no phase I data to estimate the centre line from")
    return float(np.sum(sizes * values)) / total
