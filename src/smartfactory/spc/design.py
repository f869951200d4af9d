"""Detectors designed to an alarm budget: from false alarms per plant-hour to each detector's thresholds.

1. **Budget → series.** The plant budget B (default 1 false alarm per hour) is shared between the kinds of
   series (``DEFAULT_SHARES``: process signals 40 %, part characteristics 30 %, counts 10 %, data quality
   20 %; shares of kinds the plant does not have are redistributed) and each kind's share between its
   series in proportion to their weights (``SeriesGroup.weight``, default 1: equally). A series with r_s
   allowed false alarms per hour that makes P points per hour (readings, subgroups or count windows) needs an
   in-control ARL0 of P / r_s points.
2. **Series → detectors.** The series' rate 1/ARL0 is split between its detectors (``INDIVIDUALS_SPLIT``:
   mean CUSUM 50 %, variance CUSUM 30 %, shock 20 %), since 1/ARL = Σ 1/ARL_i, and each threshold is solved
   numerically from its ARL: Siegmund's approximation for the mean CUSUM, the Brook–Evans Markov chain for
   the z² CUSUM, the normal and χ² tails for the shock, X̄ and S limits, the exact Poisson tail for counts
   (formulas and sources in :mod:`smartfactory.spc.arl`).
3. **Phase I error.** With ``phase1_points=n`` the thresholds are solved so that the false-alarm rate
   *averaged over the phase I estimates* meets the budget (``smartfactory.spc.arl.expected_*_rate``);
   ``None`` designs for known parameters. bench/alarm_design.py measures both against simulation.

Everything is in standard units of the series' :class:`~smartfactory.spc.baseline.Baseline`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from smartfactory.spc import arl as A
from smartfactory.spc.errors import SpcError

KINDS = ("process", "part", "count")
DEFAULT_SHARES: Mapping[str, float] = {"process": 0.4, "part": 0.3, "count": 0.1, "data_quality": 0.2}
INDIVIDUALS_SPLIT: Mapping[str, float] = {"cusum_mean": 0.5, "cusum_var": 0.3, "shock": 0.2}
SUBGROUP_SPLIT: Mapping[str, float] = {"cusum_mean": 0.4, "xbar": 0.2, "s": 0.3, "shock": 0.1}


@dataclass(frozen=True)
class CusumDesign:
    """A CUSUM's reference value ``k`` and decision interval ``h`` (standard units) and its in-control ARL."""

    k: float
    h: float
    arl0: float


@dataclass(frozen=True)
class IndividualsDesign:
    """Thresholds of an :class:`~smartfactory.spc.detect.IndividualsDetector` (process signals, slow parts)."""

    mean: CusumDesign  # two-sided CUSUM on z, k = shift/2
    variance: CusumDesign  # z² CUSUM, k = r ln r/(r − 1)
    shock: float  # |z| > shock
    shock_arl0: float
    arl0: float  # all three: 1/Σ 1/ARL_i (points)
    shift: float = 1.0
    variance_ratio: float = 2.0
    phase1_points: int | None = None


@dataclass(frozen=True)
class SubgroupDesign:
    """Thresholds of a :class:`~smartfactory.spc.detect.SubgroupDetector` (fast parts, rational subgroups of n)."""

    n: int
    mean: CusumDesign  # CUSUM on the standardised subgroup means z̄ = (x̄ − μ)√n/σ
    xbar: float  # |z̄| > xbar
    s_limit: float  # s/σ > s_limit
    shock: float  # one part: |z| > shock
    arl0: float  # in subgroups
    component_arl0: Mapping[str, float] = field(default_factory=dict)
    phase1_points: int | None = None


@dataclass(frozen=True)
class CountDesign:
    """A Poisson (c) chart on counts summed over ``window`` readings: signal when the sum exceeds its limit."""

    alpha: float  # allowed false-alarm probability per window
    window: int = 1

    @property
    def arl0(self) -> float:
        return 1.0 / self.alpha

    def limit(self, rate: float) -> int:
        """Upper limit for a learned or known mean count per reading."""
        return A.poisson_limit(rate * self.window, self.alpha)


@dataclass(frozen=True)
class DataQualityDesign:
    """Data-quality checks of one series (their own alarm class)."""

    stuck_arl0: float  # readings: the stuck run length follows from σ and the resolution (stuck_run_length)
    silent_after_s: float  # no reading for this long: silent sensor
    dropout_window_s: float  # tumbling window for the missing fraction
    dropout_fraction: float  # heavy dropout: at least this fraction of the expected readings missing


# -- detector designs --------------------------------------------------------------------------------------
def _split(arl0: float, split: Mapping[str, float], name: str, *, optional: bool = False) -> float:
    """The ARL0 of one detector given the series' ARL0 and the split of its rate (inf: switched off)."""
    share = split.get(name, 0.0)
    if share < 0 or (share == 0 and not optional):
        raise SpcError(f"the detector split gives {name} no share of the false-alarm rate")
    return math.inf if share == 0 else arl0 / (share / sum(split.values()))


def design_individuals(
    arl0: float,
    *,
    shift: float = 1.0,
    variance_ratio: float = 2.0,
    split: Mapping[str, float] = INDIVIDUALS_SPLIT,
    phase1_points: int | None = None,
) -> IndividualsDesign:
    """Mean CUSUM, z² CUSUM and shock limit whose combined in-control ARL is ``arl0`` points.

    ``shift`` (σ) is the mean shift the CUSUM is tuned for (k = shift/2), ``variance_ratio`` the variance
    increase the z² CUSUM is tuned for. ``phase1_points``: design for limits learned from that many points.
    A ``split`` that gives ``cusum_var`` no share switches the variance CUSUM off (h = ∞).

    A short phase I can make the variance CUSUM infeasible: the series whose σ̂ came out low by chance (with
    n = 100 points, σ̂² < 0.72σ² in 1.7 % of them) see z² drift upwards in control, and no h brings their
    average false-alarm rate down to the budget. That raises :class:`SpcError` naming the way out.
    """
    if arl0 < 10:
        raise SpcError(f"design for an in-control ARL of at least 10 points, got {arl0:g}")
    a_mean, a_shock = _split(arl0, split, "cusum_mean"), _split(arl0, split, "shock")
    a_var = _split(arl0, split, "cusum_var", optional=True)
    k = shift / 2.0
    kv = A.variance_k(variance_ratio)
    hv = math.inf
    if phase1_points is None:
        h = A.solve_cusum_h(a_mean, k)
        if math.isfinite(a_var):
            hv = A.solve_variance_h(a_var, kv)
        shock = A.shock_limit(a_shock)
    else:
        n1 = int(phase1_points)
        if n1 < 10:
            raise SpcError(f"a phase I of {n1} points is too short to design on; learn from at least 30")
        cv, df = 1.0 / n1, float(n1 - 1)
        h = A.solve_rate(lambda x: A.expected_cusum_rate(k, x, cv, df), 1.0 / a_mean, 0.0, 500.0, "CUSUM")
        if math.isfinite(a_var):
            try:
                hv = A.solve_variance_h_expected(a_var, kv, df, cv)
            except SpcError:
                raise SpcError(
                    f"a phase I of {n1} points cannot hold the variance CUSUM to an ARL0 of {a_var:.3g}: learn from "
                    "more points, tune it for a larger variance ratio, or give cusum_var no share of the split"
                ) from None
        shock = A.solve_rate(lambda x: A.expected_shock_rate(x, cv, df), 1.0 / a_shock, 1.0, 40.0, "shock")
    # the ARL0 figures are those of known parameters at the chosen thresholds (what a long phase I achieves)
    m = CusumDesign(k, h, A.cusum_arl(k, h))
    v = CusumDesign(kv, hv, A.variance_cusum_arl(kv, hv) if math.isfinite(hv) else math.inf)
    s_arl = A.shock_arl(shock)
    total = 1.0 / (1.0 / m.arl0 + 1.0 / v.arl0 + 1.0 / s_arl)
    return IndividualsDesign(m, v, shock, s_arl, total, shift, variance_ratio, phase1_points)


def design_subgroups(
    arl0: float,
    n: int,
    *,
    shift: float = 1.0,
    split: Mapping[str, float] = SUBGROUP_SPLIT,
    phase1_points: int | None = None,
) -> SubgroupDesign:
    """CUSUM on subgroup means, X̄ and S limits and a per-part shock limit; combined ARL0 ``arl0`` subgroups.

    ``shift`` is in σ of one part (the CUSUM on z̄ uses k = shift·√n/2).
    """
    if n < 2:
        raise SpcError(f"rational subgroups need n ≥ 2 parts, got {n}; use design_individuals for n = 1")
    if arl0 < 10:
        raise SpcError(f"design for an in-control ARL of at least 10 subgroups, got {arl0:g}")
    a_cus, a_x, a_s, a_shock = (_split(arl0, split, k) for k in ("cusum_mean", "xbar", "s", "shock"))
    k = shift * math.sqrt(n) / 2.0
    shock_arl_parts = a_shock * n  # the shock looks at every part: n chances per subgroup
    if phase1_points is None:
        h = A.solve_cusum_h(a_cus, k)
        xbar = A.shock_limit(a_x)
        s_lim = A.s_chart_limit(a_s, n)
        shock = A.shock_limit(shock_arl_parts)
    else:
        n1 = int(phase1_points)
        if n1 < 2 * n:
            raise SpcError(f"a phase I of {n1} parts is too short for subgroups of {n}")
        df = float(n1 - 1)
        cv_sub, cv_part = n / n1, 1.0 / n1  # error of μ̂ in σ/√n and σ units
        h = A.solve_rate(lambda x: A.expected_cusum_rate(k, x, cv_sub, df), 1.0 / a_cus, 0.0, 500.0, "CUSUM")
        xbar = A.solve_rate(lambda x: A.expected_shock_rate(x, cv_sub, df), 1.0 / a_x, 1.0, 40.0, "X̄")
        s_lim = A.solve_rate(lambda x: A.expected_s_chart_rate(x, n, df), 1.0 / a_s, 1.0, 40.0, "S")
        shock = A.solve_rate(lambda x: A.expected_shock_rate(x, cv_part, df), 1.0 / shock_arl_parts, 1.0, 40.0, "shock")
    chi2 = A._scipy()[0].chi2
    parts = {
        "cusum_mean": A.cusum_arl(k, h),
        "xbar": A.shock_arl(xbar),
        "s": 1.0 / float(chi2.sf((n - 1) * s_lim * s_lim, n - 1)),
        "shock": A.shock_arl(shock) / n,
    }
    total = 1.0 / sum(1.0 / a for a in parts.values())
    return SubgroupDesign(n, CusumDesign(k, h, parts["cusum_mean"]), xbar, s_lim, shock, total, parts, phase1_points)


def design_counts(arl0_windows: float, window: int = 1) -> CountDesign:
    """Poisson chart with a false-alarm probability of 1/arl0 per window of ``window`` readings.

    The limit is the smallest u with P(C > u) ≤ α, so the achieved ARL0 is at least the target (counts are
    discrete: often much more).
    """
    if arl0_windows <= 1:
        raise SpcError(f"a count chart needs an in-control ARL above 1 window, got {arl0_windows:g}")
    return CountDesign(1.0 / arl0_windows, int(window))


def stuck_run_length(
    sigma: float, resolution: float, arl0: float, *, minimum: int = 3, maximum: int = 600
) -> int | None:
    """Smallest n such that n equal consecutive readings happen by chance at most once per ``arl0`` readings.

    The readings of an in-control sensor are N(μ, σ²) rounded to ``resolution``: n in a row land in the same
    bin j with probability Σ_j p_j^n (independent readings; p_j the bin probabilities, μ at the worse of a bin
    centre and a bin edge). ``None`` when even ``maximum`` is not enough (σ well below the resolution: the
    signal is constant at that resolution and "stuck" means nothing). Resolution 0: continuous values, two
    equal readings are already suspicious, so ``minimum``.
    """
    if not (sigma > 0 and math.isfinite(sigma)):
        return None
    if not resolution > 0:
        return minimum
    special = A._scipy()[1]
    half = int(min(10.0 * sigma / resolution + 2, 100_000))
    bins = np.arange(-half, half + 1, dtype=np.float64)
    target = 1.0 / arl0
    worst = minimum
    for offset in (0.0, 0.5):  # μ on a bin centre, μ on a bin edge
        cdf = special.ndtr(resolution * (np.append(bins, half + 1.0) - 0.5 + offset) / sigma)
        p = np.diff(cdf)
        p = p[p > 0]
        if float((p**maximum).sum()) > target:
            return None
        lo, hi = minimum, maximum
        while lo < hi:  # Σ p^n decreases with n: bisect for the smallest n that meets the target
            mid = (lo + hi) // 2
            if float((p**mid).sum()) <= target:
                hi = mid
            else:
                lo = mid + 1
        worst = max(worst, lo)
    return worst


# -- the plant budget --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeriesGroup:
    """``count`` series of one kind that each make ``rate_hz`` readings per second while running."""

    kind: str  # process | part | count
    count: int
    rate_hz: float
    subgroup: int = 1  # part: parts per rational subgroup (1 = individuals, for slow parts)
    window: int = 1  # count: readings summed per Poisson window
    name: str = ""
    weight: float = 1.0  # each series' weight in its kind's share of the budget

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SpcError(f"series kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.count < 0 or not self.rate_hz > 0 or self.subgroup < 1 or self.window < 1 or not self.weight > 0:
            raise SpcError(
                f"series group {self.name or self.kind}: need count ≥ 0, rate > 0, subgroup/window ≥ 1, weight > 0"
            )

    @property
    def points_per_hour(self) -> float:
        """Detector points per hour: readings, subgroups (parts) or windows (counts)."""
        per = self.subgroup if self.kind == "part" else self.window if self.kind == "count" else 1
        return self.rate_hz * 3600.0 / per


@dataclass(frozen=True)
class AlarmBudget:
    """False alarms per plant-hour allowed in control, and its shares by kind."""

    per_hour: float = 1.0
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))

    def __post_init__(self) -> None:
        if not self.per_hour > 0:
            raise SpcError(f"the alarm budget must be positive, got {self.per_hour:g} per hour")
        unknown = set(self.shares) - {*KINDS, "data_quality"}
        if unknown or any(v < 0 for v in self.shares.values()):
            raise SpcError(f"budget shares are ≥ 0 for {', '.join((*KINDS, 'data_quality'))}; got {dict(self.shares)}")


@dataclass(frozen=True)
class GroupPlan:
    """One group's allocation and design."""

    group: SeriesGroup
    per_series_per_hour: float  # SPC false alarms allowed per series and hour
    arl0: float  # in the detector's points (readings, subgroups, windows)
    design: IndividualsDesign | SubgroupDesign | CountDesign
    stuck_arl0: float  # readings, for the data-quality share


@dataclass(frozen=True)
class PlantPlan:
    budget: AlarmBudget
    groups: tuple[GroupPlan, ...]

    def designed_per_hour(self) -> float:
        """SPC false alarms per plant-hour at the chosen thresholds (known parameters; counts are conservative)."""
        total = 0.0
        for g in self.groups:
            total += g.group.count * g.group.points_per_hour / g.design.arl0
        return total


def plan_budget(
    groups: Sequence[SeriesGroup],
    budget: AlarmBudget | None = None,
    *,
    shift: float = 1.0,
    variance_ratio: float = 2.0,
    phase1_points: int | None = None,
) -> PlantPlan:
    """Allocate the budget to every series of ``groups`` and design each group's detectors."""
    budget = budget or AlarmBudget()
    present = {g.kind for g in groups if g.count > 0}
    shares = {k: v for k, v in budget.shares.items() if k in present or k == "data_quality"}
    total_share = sum(shares.values())
    if total_share <= 0:
        raise SpcError("the budget shares of the kinds present are all 0")
    n_series = {k: sum(g.count for g in groups if g.kind == k) for k in present}
    weights = {k: sum(g.count * g.weight for g in groups if g.kind == k) for k in present}
    all_series = sum(n_series.values())
    dq_rate = budget.per_hour * shares.get("data_quality", 0.0) / total_share / max(all_series, 1)
    plans: list[GroupPlan] = []
    for g in groups:
        if g.count == 0:
            continue
        rate = budget.per_hour * shares.get(g.kind, 0.0) / total_share * g.weight / weights[g.kind]
        if rate <= 0:
            raise SpcError(f"the budget gives {g.kind} series no false alarms at all: give the kind a share")
        arl0 = g.points_per_hour / rate
        design: IndividualsDesign | SubgroupDesign | CountDesign
        if g.kind == "count":
            design = design_counts(arl0, g.window)
        elif g.kind == "part" and g.subgroup > 1:
            p1 = None if phase1_points is None else max(phase1_points, 2 * g.subgroup)
            design = design_subgroups(arl0, g.subgroup, shift=shift, phase1_points=p1)
        else:
            design = design_individuals(arl0, shift=shift, variance_ratio=variance_ratio, phase1_points=phase1_points)
        stuck = g.rate_hz * 3600.0 / dq_rate if dq_rate > 0 else math.inf
        plans.append(GroupPlan(g, rate, arl0, design, stuck))
    return PlantPlan(budget, tuple(plans))


def data_quality_design(
    interval_s: float,
    stuck_arl0: float,
    *,
    silent_intervals: float = 5.0,
    silent_min_s: float = 30.0,
    dropout_window_intervals: float = 60.0,
    dropout_fraction: float = 0.3,
) -> DataQualityDesign:
    """Silent after max(5 intervals, 30 s); heavy dropout when ≥ 30 % of 60 intervals' readings are missing.

    A healthy publisher raises neither (its gaps are the machine's stops, which the caller gates), so they
    take no share of the budget; the stuck check's run length comes from ``stuck_arl0`` (see
    :func:`stuck_run_length`).
    """
    if not interval_s > 0:
        raise SpcError(f"the sampling interval must be positive, got {interval_s:g} s")
    return DataQualityDesign(
        stuck_arl0,
        max(silent_intervals * interval_s, silent_min_s),
        dropout_window_intervals * interval_s,
        dropout_fraction,
    )
