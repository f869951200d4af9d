"""Everything the SPC page computes, without Streamlit or plotly: data shaping, the chart, its phase I and limits.

The numbers come from `smartfactory.spc`, the engine the live monitor uses. By default a chart of a stored series
shows the monitor's own limits **as it stored them** (`query.limits.stored_limits`: centre, σ and width of the
newest `LimitsVersion`, learned by the monitor from the series' first `spc.phase1_points` readings, or configured),
so the chart shows the limits the alarms were raised against. Without stored limits, or on request, the limits are
a classic phase I study of the window (the first k points or subgroups), labelled as computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from dashboard import numbers
from smartfactory import spc
from smartfactory.model import LimitsVersion, PartResult
from smartfactory.query import limits as stored
from smartfactory.spc.chart import ChartPair, ControlChart

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
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
RULE_SETS = {
    "we": "Western Electric (WE1-WE4)",
    "nelson": "Nelson (N1-N8)",
    "all": "all rules",
    "none": "none (limits only)",
}
BUCKETS = {"1 min": 60_000, "5 min": 300_000, "15 min": 900_000, "1 h": 3_600_000}
LIMITS_MONITOR = "live monitor"
LIMITS_WINDOW = "phase I in this window"
SOURCE_SERIES, SOURCE_PARTS, SOURCE_SCRAP = "sensor readings", "part measurements", "scrap parts"


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
        flags: npt.NDArray[np.bool_] = self.main.flags.any() if self.main.signal is None else self.main.signal
        return flags


def to_time(ts_ms: npt.ArrayLike) -> TimeArray:
    return np.asarray(ts_ms, dtype="datetime64[ms]")


def sources_for(kind: str) -> list[str]:
    """What a chart can be drawn of: p and np of scrap parts; c and u of scrap or a count series; variables
    charts of readings or part measurements."""
    if kind in ("p", "np"):
        return [SOURCE_SCRAP]
    if kind in ("c", "u"):
        return [SOURCE_SCRAP, SOURCE_SERIES]
    return [SOURCE_SERIES, SOURCE_PARTS]


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


def learning_span(ts_ms: npt.ArrayLike, monitor: LimitsVersion) -> tuple[np.datetime64, np.datetime64] | None:
    """The monitor's learning readings inside the window: the `n` readings up to the one that froze its limits
    (at `monitor.ts_ms`); None for configured limits or limits learned before the window."""
    t = np.asarray(ts_ms, dtype=np.int64)
    if monitor.source != "learned" or t.size == 0:
        return None
    last = int(np.searchsorted(t, monitor.ts_ms, side="right")) - 1
    if last < 0:
        return None
    first = max(0, last - max(monitor.n, 1) + 1)
    return to_time(t[first : first + 1])[0], to_time(t[last : last + 1])[0]


def variables_chart(
    kind: str,
    ts_ms: npt.ArrayLike,
    values: npt.ArrayLike,
    *,
    rules: tuple[str, ...],
    phase1: int,
    monitor: LimitsVersion | None = None,
    subgroup: int = 5,
    lam: float = 0.2,
    h: float = 5.0,
    k: float = 0.5,
    decimals: int | None = None,
) -> ChartView:
    """I-MR, X̄-R, X̄-S, EWMA or CUSUM of a series (readings in time order; values with `decimals`).

    With `monitor` (stored limits) the centre, σ and width are the monitor's (standard given); `phase1` is then
    ignored and the phase I band marks the monitor's learning readings where they fall inside the window.
    Without, the first `phase1` points (or subgroups) of the window are phase I. Raises `spc.SpcError` when the
    data cannot make the chart (too few points, no variation …).
    """
    t = np.asarray(ts_ms, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    unit = "subgroups" if kind in SUBGROUP_CHARTS else "points"
    center = None if monitor is None else monitor.center
    sigma = None if monitor is None else monitor.sigma
    nsigmas = 3.0 if monitor is None else monitor.nsigmas
    if kind in SUBGROUP_CHARTS:
        times, data = consecutive_subgroups(t, x, subgroup)
        n_points = data.shape[0]
        group_ts = t[: n_points * subgroup : subgroup]
    else:
        times, data, n_points, group_ts = to_time(t), x, x.size, t
    if monitor is not None:
        inside = int(np.sum(group_ts <= monitor.ts_ms)) if monitor.source == "learned" else 0
        n1 = min(max(inside, 2 if kind not in SUBGROUP_CHARTS else 1), n_points) if n_points else 0
        span = learning_span(t, monitor)
        note = stored.describe(monitor, lambda v: numbers.fmt_stat(v, decimals))
    else:
        n1 = min(phase1, n_points)
        span, note = _phase1_span(times, n1), stored.computed_note(n1, unit)
    if n_points < 2:
        raise spc.SpcError(f"only {n_points} {unit} in the window: widen the window")
    companion: ControlChart | None = None
    x_comp: TimeArray | None = None
    if kind == "I-MR":
        pair = spc.imr(data, phase1=n1, center=center, sigma=sigma, nsigmas=nsigmas, rules=rules)
        main, companion, x_comp = pair.main, pair.companion, times[1:]
    elif kind in SUBGROUP_CHARTS:
        build = spc.xbar_r if kind == "X̄-R" else spc.xbar_s
        pair = build(data, phase1=n1, center=center, sigma=sigma, nsigmas=nsigmas, rules=rules)
        main, companion, x_comp = pair.main, pair.companion, times
    elif kind == "EWMA":
        main = spc.ewma(data, phase1=n1, lam=lam, nsigmas=nsigmas, center=center, sigma=sigma)
    elif kind == "CUSUM":
        main = spc.cusum(data, phase1=n1, h=h, k=k, center=center, sigma=sigma)
    else:
        raise spc.SpcError(f"{kind!r} is not a variables chart: choose one of {', '.join(VARIABLE_CHARTS)}")
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
    note = stored.computed_note(n1, "samples")
    return ChartView(kind, chart, times, phase1_span=_phase1_span(times, n1), limits_note=note)


# ------------------------------------------------------------------------------------------ what the page draws


@dataclass(frozen=True)
class ChartSettings:
    """The page's choices that shape a chart."""

    kind: str
    rules: tuple[str, ...]
    phase1: int = 50
    subgroup: int = 5
    lam: float = 0.2
    h: float = 5.0
    k: float = 0.5
    bucket: str = "5 min"


@dataclass(frozen=True)
class Samples:
    """Time-ordered samples of one subject: readings, part measurements, or 1.0 per scrap part (0.0 good)."""

    ts_ms: IntArray
    values: FloatArray
    capped_at: int | None = None  # the window had more readings than this, only the newest are here

    @classmethod
    def of(cls, ts_ms: npt.ArrayLike, values: npt.ArrayLike, capped_at: int | None = None) -> Samples:
        return cls(np.asarray(ts_ms, dtype=np.int64), np.asarray(values, dtype=np.float64), capped_at)


def part_samples(parts: Sequence[PartResult], machine: str, characteristic: str) -> Samples:
    chosen = [p for p in parts if p.machine == machine and characteristic in p.measurements]
    return Samples.of([p.ts_ms for p in chosen], [p.measurements[characteristic] for p in chosen])


def scrap_samples(parts: Sequence[PartResult], machine: str) -> Samples:
    chosen = [p for p in parts if p.machine == machine]
    return Samples.of([p.ts_ms for p in chosen], [0.0 if p.good else 1.0 for p in chosen])


def build(
    settings: ChartSettings,
    source: str,
    samples: Samples,
    monitor: LimitsVersion | None = None,
    decimals: int | None = None,
) -> tuple[ChartView, FloatArray | None, list[str]]:
    """The chart of `samples` (values with `decimals`), the observations for a capability study (variables
    charts), and notes."""
    notes: list[str] = []
    if samples.capped_at is not None:
        notes.append(f"showing the most recent {samples.capped_at:,} readings of the window")
    s = settings
    if s.kind in VARIABLE_CHARTS:
        view = variables_chart(
            s.kind, samples.ts_ms, samples.values, rules=s.rules, phase1=s.phase1, monitor=monitor,
            subgroup=s.subgroup, lam=s.lam, h=s.h, k=s.k, decimals=decimals,
        )  # fmt: skip
        return view, samples.values, notes
    bucket = BUCKETS[s.bucket]
    if source == SOURCE_SCRAP:
        times, counts, sizes = bucket_counts(samples.ts_ms, samples.values, bucket)
        notes.append(f"one sample per {s.bucket}: scrap parts / parts made")
    elif s.kind == "c":
        times, counts, sizes = to_time(samples.ts_ms), samples.values, np.ones_like(samples.values)
        notes.append("each reading is one count")
    else:
        times, counts, sizes = bucket_counts(samples.ts_ms, samples.values, bucket)
        notes.append(f"one sample per {s.bucket}: sum of the counts / readings")
    return attribute_chart(s.kind, times, counts, sizes, rules=s.rules, phase1=s.phase1), None, notes


def limits_table(versions: Sequence[LimitsVersion]) -> pd.DataFrame:
    """The monitor's stored limits of a series, newest first: version, since when, source, centre, σ, LCL, UCL."""
    rows = [
        {
            "version": v.version,
            "in use since (UTC)": pd.Timestamp(v.ts_ms, unit="ms", tz="UTC"),
            "source": v.source,
            "learned from": f"{v.n:,} readings" if v.source == "learned" else "—",
            "centre": v.center,
            "σ": v.sigma,
            "LCL": v.lcl,
            "UCL": v.ucl,
        }
        for v in sorted(versions, key=lambda v: v.version, reverse=True)
    ]
    columns = ["version", "in use since (UTC)", "source", "learned from", "centre", "σ", "LCL", "UCL"]
    return pd.DataFrame(rows, columns=columns)


# ------------------------------------------------------------------------------------------ capability


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
    # intervals with the within σ's own degrees of freedom (MR̄/d2, R̄/d2, s̄/c4), not qcc's n − 1 (issue 12)
    if kind in SUBGROUP_CHARTS:
        method, sizes = ("r" if kind == "X̄-R" else "s"), np.asarray(pair.main.sizes[: pair.main.n_phase1])
    else:
        method, sizes = "mr", None
    return spc.capability(
        pair.observations,
        center=float(np.mean(pair.main.center_line)),
        sigma_within=float(np.mean(pair.main.sigma_line)),
        lsl=lsl,
        usl=usl,
        target=target,
        in_control=in_control,
        sigma_method=method,
        subgroup_sizes=sizes,
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


def default_series(series: list[str], active_alarm_series: list[str], characteristics: Sequence[str] = ()) -> int:
    """Index of the series to show first. The lecture's story starts at the product, so a part characteristic
    (a `quality` signal, one value per part: `characteristics`) comes first: the one with the newest active
    alarm, else the first of them; without any, the series with the newest active alarm, else the first."""
    quality = [s for s in series if s in set(characteristics)]
    for pool in (quality, series):
        for candidate in reversed(active_alarm_series):
            if candidate in pool:
                return series.index(candidate)
        if pool is quality and quality:
            return series.index(quality[0])
    return 0


def series_from_url(value: str | None, series: Sequence[str]) -> str | None:
    """The series a `?series=` link names by its full id (`acme/…/cnc-01/telemetry/diameter`); None when it
    names none (or names it by its display label, which the selectbox's binding reads itself)."""
    return value if value is not None and value in set(series) else None


#: How each chart estimates σ (the standard deviation within subgroups, short-term), for the page's labels.
SIGMA_ESTIMATORS = {
    "I-MR": "MR̄/d₂",
    "EWMA": "MR̄/d₂",
    "CUSUM": "MR̄/d₂",
    "X̄-R": "R̄/d₂",
    "X̄-S": "S̄/c₄",
    "p": "binomial",
    "np": "binomial",
    "c": "Poisson",
    "u": "Poisson",
}


def sigma_label(kind: str, monitor: bool) -> str:
    """Which σ the chart uses, so it is not confused with the capability study's within and overall σ: the
    live monitor's stored σ, or the window's phase I estimate (MR̄/d₂, R̄/d₂, S̄/c₄; binomial or Poisson)."""
    if monitor:
        return "σ of the chart (live monitor's)"
    return f"σ of the chart ({SIGMA_ESTIMATORS.get(kind, 'phase I')})"


def statistic_decimals(kind: str, decimals: int | None) -> int | None:
    """Decimals of the chart's centre and σ: one more than the values (variables charts; `numbers`); attribute
    charts count parts and keep four significant digits (None)."""
    return None if kind in ATTRIBUTE_CHARTS else numbers.statistic_decimals(decimals)
