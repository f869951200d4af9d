"""JSON-ready dictionaries of chart results (the format of ``smartfactory spc analyze --format json``).

Non-finite numbers become ``None`` so the output is strict JSON. Lines that are constant over the points are
numbers, varying ones are lists with one value per point (as qcc collapses constant limits).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from smartfactory.spc.capability import Capability, Interval, NormalityCheck
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.rules import FloatArray


def num(v: float | None) -> float | None:
    """A JSON-safe float (``None`` for missing, NaN or ±inf)."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def line(v: float | FloatArray) -> float | list[float | None] | None:
    """A number for a constant line, a list for a varying one."""
    if isinstance(v, np.ndarray):
        return [num(x) for x in v.tolist()]
    return num(v)


def chart_to_dict(chart: ControlChart, name: str | None = None) -> dict[str, Any]:
    """One chart: centre, sigma, limits, zone lines and per-point values and rule ids."""
    z = chart.zones
    sizes = chart.sizes
    show_size = chart.chart not in ("i", "mr") and bool(np.any(sizes != 1))
    out: dict[str, Any] = {
        "chart": name or chart.chart,
        "center": line(chart.center),
        "sigma": line(chart.sigma),
        "lcl": line(chart.lcl),
        "ucl": line(chart.ucl),
        "nsigmas": chart.nsigmas,
        "n_phase1": chart.n_phase1,
        "n_phase2": chart.n - chart.n_phase1,
        "excluded": list(chart.excluded),
        "rules_evaluated": list(chart.flags.ids),
    }
    if chart.chart not in ("ewma", "cusum"):
        out["zones"] = {
            "lower_1sigma": line(_collapse(z.lo1)),
            "upper_1sigma": line(_collapse(z.hi1)),
            "lower_2sigma": line(_collapse(z.lo2)),
            "upper_2sigma": line(_collapse(z.hi2)),
        }
    out.update({k: num(v) for k, v in chart.params.items()})
    per_point = chart.rules
    stats = chart.statistics.tolist()
    points: list[dict[str, Any]] = []
    for i, value in enumerate(stats):
        p: dict[str, Any] = {
            "index": i + 1,
            "value": num(value),
            "rules": list(per_point[i]),
            "phase": 1 if i < chart.n_phase1 else 2,
        }
        if show_size:
            s = float(sizes[i])
            p["size"] = int(s) if s.is_integer() else s
        points.append(p)
    if chart.signal is not None:
        for p, s in zip(points, chart.signal.tolist(), strict=True):
            p["signal"] = bool(s)
    if chart.chart == "ewma" and chart.observed is not None:
        for p, o in zip(points, chart.observed.tolist(), strict=True):
            p["observed"] = num(o)
    if chart.upper is not None and chart.lower is not None:
        for p, up, lo in zip(points, chart.upper.tolist(), chart.lower.tolist(), strict=True):
            p["upper"], p["lower"] = num(up), num(lo)
    out["points"] = points
    return out


def _collapse(a: FloatArray) -> float | FloatArray:
    return float(a[0]) if a.size and bool(np.all(a == a[0])) else a


def interval_to_dict(i: Interval | None) -> dict[str, float | None] | None:
    if i is None:
        return None
    return {"value": num(i.value), "lower": num(i.lower), "upper": num(i.upper)}


def normality_to_dict(n: NormalityCheck) -> dict[str, Any]:
    return {
        "test": n.test,
        "n": n.n,
        "statistic": num(n.statistic),
        "p_value": num(n.p_value),
        "warning": n.warning,
    }


def capability_to_dict(cap: Capability) -> dict[str, Any]:
    """The capability object: the seven indices as {value, lower, upper}, then the study's inputs."""
    out: dict[str, Any] = {k: interval_to_dict(v) for k, v in cap.indices().items()}
    out.update(
        {
            "n": cap.n,
            "center": num(cap.center),
            "sigma_within": num(cap.sigma_within),
            "sigma_overall": num(cap.sigma_overall),
            "lsl": num(cap.lsl),
            "usl": num(cap.usl),
            "target": num(cap.target),
            "confidence": cap.confidence,
            "expected_below_lsl": num(cap.expected_below_lsl),
            "expected_above_usl": num(cap.expected_above_usl),
            "observed_below_lsl": num(cap.observed_below_lsl),
            "observed_above_usl": num(cap.observed_above_usl),
            "normality": normality_to_dict(cap.normality),
            "warnings": list(cap.warnings),
        }
    )
    return out


def analysis_to_dict(
    chart_name: str, result: ChartPair | ControlChart, capability: Capability | None = None
) -> dict[str, Any]:
    """The whole analysis: main chart at the top level, ``companion`` and ``capability`` when present."""
    main = result.main if isinstance(result, ChartPair) else result
    out = chart_to_dict(main, chart_name)
    out["statistic"] = main.chart
    if isinstance(result, ChartPair):
        out["companion"] = chart_to_dict(result.companion)
    if capability is not None:
        out["capability"] = capability_to_dict(capability)
    return out
