"""Everything the SPC page computes, without Streamlit or plotly: data shaping, the chart, its phase I and limits.

The numbers come from `smartfactory.spc`, the engine the live monitor uses. By default an individuals chart of a
stored series shows the monitor's own limits: centre and σ learned (`spc.Limits.learn`) from the first
`settings.spc.phase1_points` readings of the series, exactly what the ingestion monitor freezes. The
alternative is a classic phase I study inside the window (the first k points or subgroups).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from smartfactory import spc
from smartfactory.spc.chart import ChartPair, ControlChart

FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]

VARIABLE_CHARTS = ("I-MR", "X̄-R", "X̄-S", "EWMA", "CUSUM")
ATTRIBUTE_CHARTS = ("p", "np", "c", "u")
CHARTS = VARIABLE_CHARTS + ATTRIBUTE_CHARTS
SUBGROUP_CHARTS = ("X̄-R", "X̄-S")
CHART_HELP = {
    "I-MR": "individual readings and their moving ranges",
    "X̄-R": "means and ranges of subgroups of consecutive readings",
    "X̄-S": "means and standard deviations of subgroups of consecutive readings",
    "EWMA": "exponentially weighted moving average: small sustained shifts",
    "CUSUM": "cumulative sums of deviations: small sustained shifts",
    "p": "fraction of scrap parts per time bucket",
    "np": "number of scrap parts per time bucket",
    "c": "count of nonconformities per bucket (scrap parts, or the values of a count series)",
    "u": "nonconformities per unit per bucket",
}
LIMITS_MONITOR = "live monitor"
LIMITS_WINDOW = "phase I in this window"


@dataclass(frozen=True)
class Learned:
    """The live monitor's limits for one series and the readings they were learned from."""

    limits: spc.Limits
    first_ms: int
    last_ms: int


@dataclass(frozen=True)
class ChartView:
    """A computed chart ready to draw: main (and companion) chart with the time of every point."""

    kind: str
    main: ControlChart
    x: TimeArray
    companion: ControlChart | None = None
    x_companion: TimeArray | None = None
    phase1_span: tuple[np.datetime64, np.datetime64] | None = None
    limits_note: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def flagged(self) -> npt.NDArray[np.bool_]:
        """Points that violate a rule (Shewhart charts) or signal (EWMA, CUSUM)."""
        return self.main.flags.any() if self.main.signal is None else self.main.signal


def learn_limits(ts_ms: npt.ArrayLike, values: npt.ArrayLike) -> Learned | None:
    """What the monitor learns from its first readings (`values` are exactly those readings)."""
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(ts_ms, dtype=np.int64)
    if x.size < 2:
        return None
    return Learned(spc.Limits.learn(x), int(t[0]), int(t[-1]))


def to_time(ts_ms: npt.ArrayLike) -> TimeArray:
    return np.asarray(ts_ms, dtype="datetime64[ms]")


def consecutive_subgroups(ts_ms: npt.ArrayLike, values: npt.ArrayLike, size: int) -> tuple[TimeArray, FloatArray]:
    """Consecutive readings in subgroups of `size` (an incomplete last subgroup is dropped); time = first one."""
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(ts_ms, dtype=np.int64)
    groups = x.size // size
    if groups == 0:
        return to_time(t[:0]), x[:0].reshape(0, size)
    return to_time(t[: groups * size : size]), x[: groups * size].reshape(groups, size)


def bucket_counts(
    ts_ms: npt.ArrayLike, counts: npt.ArrayLike, bucket_ms: int
) -> tuple[TimeArray, FloatArray, FloatArray]:
    """Per time bucket (empty ones dropped): bucket start, sum of `counts`, number of items."""
    t = np.asarray(ts_ms, dtype=np.int64)
    c = np.asarray(counts, dtype=np.float64)
    if t.size == 0:
        return to_time(t), c, c
    keys = (t - t.min()) // bucket_ms
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse, weights=c).astype(np.float64)
    sizes = np.bincount(inverse).astype(np.float64)
    return to_time(t.min() + uniq * bucket_ms), sums, sizes


def _phase1_span(x: TimeArray, n1: int) -> tuple[np.datetime64, np.datetime64] | None:
    if n1 <= 0 or x.size == 0:
        return None
    return x[0], x[min(n1, x.size) - 1]


def variables_chart(
    kind: str,
    ts_ms: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    rules: tuple[str, ...],
    phase1: int,
    learned: Learned | None = None,
    subgroup: int = 5,
    lam: float = 0.2,
    h: float = 5.0,
    k: float = 0.5,
) -> ChartView:
    """I-MR, X̄-R, X̄-S, EWMA or CUSUM of a series (readings in time order).

    With `learned` the centre and σ are the monitor's (standard given); `phase1` is then ignored and the phase I
    band marks the monitor's learning readings where they fall inside the window. Raises `spc.SpcError` when the
    data cannot make the chart (too few points, no variation …).
    """
    t = np.asarray(ts_ms, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    unit = "subgroups" if kind in SUBGROUP_CHARTS else "points"
    center = None if learned is None else learned.limits.center
    sigma = None if learned is None else learned.limits.sigma
    if kind in SUBGROUP_CHARTS:
        times, data = consecutive_subgroups(t, x, subgroup)
        n_points = data.shape[0]
        group_ts = t[: n_points * subgroup : subgroup]
    else:
        times, data, n_points, group_ts = to_time(t), x, x.size, t
    if learned is not None:
        inside = int(np.sum(group_ts <= learned.last_ms))
        n1 = min(max(inside, 2 if kind not in SUBGROUP_CHARTS else 1), n_points) if n_points else 0
        lo, hi = max(int(t[0]) if t.size else 0, learned.first_ms), learned.last_ms
        span = (to_time([lo])[0], to_time([hi])[0]) if t.size and lo <= hi and lo <= int(t[-1]) else None
        note = (
            f"Limits of the live monitor: centre {learned.limits.center:.4g}, σ {learned.limits.sigma:.4g}, "
            f"learned from the first {learned.limits.n} readings of the series (MR̄/1.128)."
        )
    else:
        n1 = min(phase1, n_points)
        span, note = None, f"Phase I: the first {n1} {unit} of the window."
    if n_points < 2:
        raise spc.SpcError(f"only {n_points} {unit} in the window: widen the window")
    companion: ControlChart | None = None
    x_comp: TimeArray | None = None
    if kind == "I-MR":
        pair = spc.imr(data, phase1=n1, center=center, sigma=sigma, rules=rules)
        main, companion, x_comp = pair.main, pair.companion, times[1:]
    elif kind in SUBGROUP_CHARTS:
        build = spc.xbar_r if kind == "X̄-R" else spc.xbar_s
        pair = build(data, phase1=n1, center=center, sigma=sigma, rules=rules)
        main, companion, x_comp = pair.main, pair.companion, times
    elif kind == "EWMA":
        main = spc.ewma(data, phase1=n1, lam=lam, center=center, sigma=sigma)
    elif kind == "CUSUM":
        main = spc.cusum(data, phase1=n1, h=h, k=k, center=center, sigma=sigma)
    else:
        raise spc.SpcError(f"{kind!r} is not a variables chart: choose one of {', '.join(VARIABLE_CHARTS)}")
    if span is None and learned is None:
        span = _phase1_span(times, n1)
    return ChartView(kind, main, times, companion, x_comp, span, note)


def attribute_chart(
    kind: str,
    times: TimeArray,
    counts: FloatArray,
    sizes: FloatArray,
    *,
    rules: tuple[str, ...],
    phase1: int,
) -> ChartView:
    """p, np, c or u chart of per-bucket counts (scrap parts or nonconformities) and sizes (parts or units)."""
    n = counts.size
    if n < 2:
        raise spc.SpcError(f"only {n} samples in the window: widen the window or shorten the bucket")
    n1 = max(1, min(phase1, n))
    if kind == "p":
        chart = spc.p_chart(counts, sizes, phase1=n1, rules=rules)
    elif kind == "np":
        chart = spc.np_chart(counts, sizes, phase1=n1, rules=rules)
    elif kind == "c":
        chart = spc.c_chart(counts, None, phase1=n1, rules=rules)
    elif kind == "u":
        chart = spc.u_chart(counts, sizes, phase1=n1, rules=rules)
    else:
        raise spc.SpcError(f"{kind!r} is not an attributes chart: choose one of {', '.join(ATTRIBUTE_CHARTS)}")
    note = f"Phase I: the first {n1} samples of the window."
    return ChartView(kind, chart, times, phase1_span=_phase1_span(times, n1), limits_note=note)


def capability_study(
    kind: str,
    values: npt.ArrayLike,
    lsl: float | None,
    usl: float | None,
    target: float | None,
    *,
    subgroup: int = 5,
    rules: tuple[str, ...] = spc.WE_RULES,
) -> spc.Capability:
    """Capability of the readings in the window: centre and within-σ from the window itself (all of it phase I)."""
    x = np.asarray(values, dtype=np.float64)
    pair: ChartPair
    if kind in SUBGROUP_CHARTS:
        _, groups = consecutive_subgroups(np.zeros(x.size, dtype=np.int64), x, subgroup)
        pair = (spc.xbar_r if kind == "X̄-R" else spc.xbar_s)(groups, rules=rules)
    else:
        pair = spc.imr(x, rules=rules)
    in_control = not bool(pair.main.flags.any().any())
    return spc.capability(
        pair.observations,
        center=float(np.mean(pair.main.center_line)),
        sigma_within=float(np.mean(pair.main.sigma_line)),
        lsl=lsl,
        usl=usl,
        target=target,
        in_control=in_control,
    )


def capability_table(cap: spc.Capability) -> pd.DataFrame:
    """Indices with their confidence intervals, one row each (missing indices left out)."""
    names = {"cp": "Cp", "cpk": "Cpk", "cpl": "Cpl", "cpu": "Cpu", "cpm": "Cpm", "pp": "Pp", "ppk": "Ppk"}
    level = f"{cap.confidence * 100:.0f} %"
    rows = [
        {"index": names[key], "estimate": iv.value, f"{level} lower": iv.lower, f"{level} upper": iv.upper}
        for key, iv in cap.indices().items()
        if iv is not None
    ]
    return pd.DataFrame(rows)


def default_series(series: list[str], active_alarm_series: list[str]) -> int:
    """Index of the series to show first: the one with the newest active alarm, else the first."""
    for candidate in reversed(active_alarm_series):
        if candidate in series:
            return series.index(candidate)
    return 0
