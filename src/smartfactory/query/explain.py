"""Why a point of a control chart was flagged, in words, and which points to draw when there are too many.

`why(chart, i)` turns the rule ids of point i into sentences with the numbers that triggered them, for hover
texts and the violations table. `plot_indices` keeps a long chart light for the browser: min and max of every
bucket of points (so no spike disappears) plus every flagged point, up to a budget.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd

from smartfactory.spc import RULE_DESCRIPTIONS
from smartfactory.spc.chart import ControlChart
from smartfactory.spc.rules import run_length

IntArray = npt.NDArray[np.int64]


def _g(value: float) -> str:
    return f"{value:.4g}"


Formatter = Callable[[float], str]


class Explainer:
    """Reasons for the flagged points of one chart; run lengths are computed once, vectorised."""

    def __init__(self, chart: ControlChart, value_format: Formatter = _g, limit_format: Formatter = _g) -> None:
        """`value_format` writes a plotted value, `limit_format` a centre, limit or zone line (default: four
        significant digits; the dashboard passes the characteristic's resolution). CUSUM sums are in standard
        errors, not in the data's unit: they keep four significant digits."""
        self.chart = chart
        self._v = value_format
        self._l = limit_format
        x, z = chart.statistics, chart.zones
        self.above = run_length(np.asarray(x > z.center, dtype=np.bool_))
        self.below = run_length(np.asarray(x < z.center, dtype=np.bool_))
        d = np.diff(x, prepend=np.nan)
        self.rising = run_length(np.asarray(d > 0, dtype=np.bool_))
        self.falling = run_length(np.asarray(d < 0, dtype=np.bool_))
        self.per_point = chart.rules if chart.signal is None else []

    def rule_reason(self, i: int, rule: str) -> str:
        """One sentence: the rule and the numbers behind it at point i (0-based)."""
        chart = self.chart
        v = float(chart.statistics[i])
        z = chart.zones
        c = float(z.center[i])
        up = v > c
        side = "above" if up else "below"
        sign = "+" if up else "−"
        text = RULE_DESCRIPTIONS.get(rule, rule)
        if rule in ("WE1", "N1"):
            limit = float(z.hi3[i] if up else z.lo3[i])
            detail = f"{self._v(v)} is {side} the {'UCL' if up else 'LCL'} {self._l(limit)}"
        elif rule in ("WE2", "N5"):
            detail = f"{sign}2σ line at {self._l(float(z.hi2[i] if up else z.lo2[i]))}"
        elif rule in ("WE3", "N6"):
            detail = f"{sign}1σ line at {self._l(float(z.hi1[i] if up else z.lo1[i]))}"
        elif rule in ("WE4", "N2"):
            run = int(self.above[i] if up else self.below[i])
            detail = f"{run} points in a row {side} the centre {self._l(c)}"
        elif rule == "N3":
            rising = self.rising[i] >= self.falling[i]
            run = int(max(self.rising[i], self.falling[i])) + 1
            detail = f"{run} points {'rising' if rising else 'falling'} in a row"
        elif rule == "N4":
            detail = "the last 14 points alternate up and down"
        elif rule == "N7":
            detail = f"the last 15 points all lie within {self._l(float(z.lo1[i]))} … {self._l(float(z.hi1[i]))}"
        elif rule == "N8":
            detail = "the last 8 points all lie beyond ±1σ, on both sides"
        else:
            detail = ""
        return f"{rule}: {text}" + (f" ({detail})" if detail else "")

    def signal_reason(self, i: int) -> str:
        """EWMA and CUSUM signal in words."""
        chart = self.chart
        if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
            h = float(chart.ucl_line[i])
            if float(chart.upper[i]) > h:
                return f"CUSUM: C⁺ = {_g(float(chart.upper[i]))} exceeds h = {_g(h)} (sustained upward shift)"
            return f"CUSUM: C⁻ = {_g(-float(chart.lower[i]))} exceeds h = {_g(h)} (sustained downward shift)"
        z, lo, hi = float(chart.statistics[i]), float(chart.lcl_line[i]), float(chart.ucl_line[i])
        if z > hi:
            return f"EWMA: z = {self._v(z)} is above its upper limit {self._l(hi)} (sustained upward shift)"
        return f"EWMA: z = {self._v(z)} is below its lower limit {self._l(lo)} (sustained downward shift)"

    def why(self, i: int) -> list[str]:
        """Every reason point i (0-based) is flagged; empty when it is not."""
        chart = self.chart
        if chart.signal is not None:
            return [self.signal_reason(i)] if bool(chart.signal[i]) else []
        return [self.rule_reason(i, rule) for rule in self.per_point[i]]


def why(chart: ControlChart, i: int) -> list[str]:
    """Every reason point i (0-based) of `chart` is flagged (builds an `Explainer`; use one for many points)."""
    return Explainer(chart).why(i)


def first_of_runs(flagged: npt.NDArray[np.bool_]) -> IntArray:
    """Indices where a run of flagged points starts."""
    idx = np.flatnonzero(flagged)
    if idx.size == 0:
        return idx.astype(np.int64)
    starts = np.concatenate(([True], np.diff(idx) > 1))
    return idx[starts].astype(np.int64)


def marker_indices(flagged: npt.NDArray[np.bool_], budget: int) -> IntArray:
    """Flagged points to mark: all of them within the budget, else each run's first point and an even sample."""
    idx = np.flatnonzero(flagged).astype(np.int64)
    if idx.size <= budget:
        return idx
    firsts = first_of_runs(flagged)[:budget]
    room = budget - firsts.size
    extra = idx[np.linspace(0, idx.size - 1, room).astype(np.int64)] if room > 0 else idx[:0]
    return np.unique(np.concatenate((firsts, extra)))


def plot_indices(values: npt.ArrayLike, budget: int) -> IntArray:
    """Points of the line to draw: all within the budget, else the min and max of each of budget/2 buckets."""
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    if n <= budget:
        return np.arange(n, dtype=np.int64)
    width = -(-n // max(1, budget // 2))  # equal buckets of `width` points (the last one padded)
    rows = -(-n // width)
    low = np.full(rows * width, np.inf)
    high = np.full(rows * width, -np.inf)
    finite = np.isfinite(y)
    low[:n] = np.where(finite, y, np.inf)
    high[:n] = np.where(finite, y, -np.inf)
    offsets = np.arange(rows, dtype=np.int64) * width
    lows = offsets + np.argmin(low.reshape(rows, width), axis=1)
    highs = offsets + np.argmax(high.reshape(rows, width), axis=1)
    keep = np.concatenate(([0, n - 1], lows, highs))
    return np.unique(keep[keep < n]).astype(np.int64)


def violations_table(
    chart: ControlChart,
    times: npt.ArrayLike,
    limit: int = 500,
    value_format: Formatter = _g,
    limit_format: Formatter = _g,
) -> pd.DataFrame:
    """The first `limit` flagged points: time, plotted value, rule ids and why (numbers as `Explainer` writes them)."""
    flagged = chart.flags.any() if chart.signal is None else chart.signal
    idx = np.flatnonzero(flagged)[:limit]
    explainer = Explainer(chart, value_format, limit_format)
    t = np.asarray(times)
    return pd.DataFrame(
        {
            "time (UTC)": pd.to_datetime(t[idx]),
            "value": chart.statistics[idx],
            "rules": [", ".join(explainer.per_point[i]) if chart.signal is None else chart.chart.upper() for i in idx],
            "why": ["; ".join(explainer.why(int(i))) for i in idx],
        }
    )
