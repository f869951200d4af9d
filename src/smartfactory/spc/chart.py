"""The result type shared by every control chart, and the one place that turns limits into zones and flags."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from smartfactory.spc.rules import ALL_RULES, BoolArray, FloatArray, RuleFlags, Zones, evaluate

#: ``limit_fn(k)`` returns the (lower, upper) k-sigma lines per point, clipped the way the chart clips them.
LimitFn = Callable[[float], tuple[FloatArray, FloatArray]]


def _collapse(line: FloatArray) -> float | FloatArray:
    """A scalar when every point shares the value (as qcc collapses constant limits), else the array."""
    if line.size and bool(np.all(line == line[0])):
        return float(line[0])
    return line


def _frozen(a: npt.ArrayLike, dtype: type = np.float64) -> FloatArray:
    out: FloatArray = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class ControlChart:
    """One control chart: plotted statistics, centre, limits, zone lines and rule flags, per point.

    Points are phase I (``0 .. n_phase1-1``) followed by phase II. ``center``, ``sigma``, ``lcl``, ``ucl``
    are scalars when constant and per-point arrays when they vary (varying subgroup sizes, EWMA).
    EWMA and CUSUM charts also carry ``signal`` and ``observed`` (the individual values or subgroup means
    they were computed from); CUSUM charts carry ``upper`` and ``lower`` (standard-error units, ``lower``
    ≤ 0 as in qcc).
    """

    chart: str
    statistics: FloatArray
    sizes: FloatArray
    n_phase1: int
    center_line: FloatArray
    sigma_line: FloatArray
    lcl_line: FloatArray
    ucl_line: FloatArray
    zones: Zones
    flags: RuleFlags
    nsigmas: float = 3.0
    excluded: tuple[int, ...] = ()
    signal: BoolArray | None = None
    upper: FloatArray | None = None
    lower: FloatArray | None = None
    observed: FloatArray | None = None
    params: dict[str, float] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.statistics.size)

    @property
    def center(self) -> float | FloatArray:
        return _collapse(self.center_line)

    @property
    def sigma(self) -> float | FloatArray:
        return _collapse(self.sigma_line)

    @property
    def lcl(self) -> float | FloatArray:
        return _collapse(self.lcl_line)

    @property
    def ucl(self) -> float | FloatArray:
        return _collapse(self.ucl_line)

    @property
    def rules(self) -> list[tuple[str, ...]]:
        """Rule ids violated by each point."""
        return self.flags.per_point()

    def violations(self, rule: str) -> list[int]:
        """1-based indices of the points violating ``rule``."""
        return self.flags.indices(rule)

    def beyond_limits(self) -> BoolArray:
        """Strictly beyond the control limits (qcc's ``beyond.limits``)."""
        return np.asarray((self.statistics > self.ucl_line) | (self.statistics < self.lcl_line), dtype=np.bool_)


@dataclass(frozen=True)
class ChartPair:
    """A location chart and its dispersion companion (I & MR, X̄ & R, X̄ & S).

    ``observations`` are the individual phase I measurements that entered the estimates (for capability).
    """

    main: ControlChart
    companion: ControlChart
    observations: FloatArray


def make_chart(
    chart: str,
    statistics: npt.ArrayLike,
    sizes: npt.ArrayLike,
    n_phase1: int,
    center_line: npt.ArrayLike,
    sigma_line: npt.ArrayLike,
    limit_fn: LimitFn,
    nsigmas: float,
    rules: Iterable[str] | str = ALL_RULES,
    *,
    excluded: Iterable[int] = (),
    signal: BoolArray | None = None,
    upper: FloatArray | None = None,
    lower: FloatArray | None = None,
    observed: FloatArray | None = None,
    params: dict[str, float] | None = None,
) -> ControlChart:
    """Assemble a :class:`ControlChart`; zone lines at nsigmas·1/3 and ·2/3 (qcc ``qccRulesSigmaLimits``)."""
    stats = _frozen(statistics)
    n = stats.size

    def full(v: npt.ArrayLike) -> FloatArray:
        # a read-only view: no copy for lines that are scalars or already per-point temporaries
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))

    lo1, hi1 = limit_fn(nsigmas / 3.0)
    lo2, hi2 = limit_fn(2.0 * nsigmas / 3.0)
    lcl, ucl = limit_fn(nsigmas)
    center = full(center_line)
    zones = Zones(center, full(lo1), full(hi1), full(lo2), full(hi2), full(lcl), full(ucl))
    flags = evaluate(stats, zones, rules)
    flags.flags.setflags(write=False)
    return ControlChart(
        chart=chart,
        statistics=stats,
        sizes=full(sizes),
        n_phase1=int(n_phase1),
        center_line=center,
        sigma_line=full(sigma_line),
        lcl_line=zones.lo3,
        ucl_line=zones.hi3,
        zones=zones,
        flags=flags,
        nsigmas=float(nsigmas),
        excluded=tuple(int(i) for i in excluded),
        signal=None if signal is None else np.asarray(_frozen(signal, np.bool_), dtype=np.bool_),
        upper=None if upper is None else _frozen(upper),
        lower=None if lower is None else _frozen(lower),
        observed=None if observed is None else _frozen(observed),
        params=dict(params or {}),
    )
