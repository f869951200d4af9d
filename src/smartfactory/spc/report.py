"""JSON-ready documents of chart results (the format of ``smartfactory spc analyze --format json``).

Two layers share one description of the output:

- :func:`analysis_document` returns the document *lazily*: small values are plain JSON types, lines that vary
  per point are float arrays and the per-point part of each chart is a :class:`PointColumns` (one array per
  field). A writer can stream it column-wise (the CLI does, in chunks, without one Python object per point).
- :func:`analysis_to_dict` (and :func:`chart_to_dict`) materialise the same document as dicts and lists.

Non-finite numbers become ``None`` so the output is strict JSON. Lines that are constant over the points are
numbers, varying ones are lists with one value per point (as qcc collapses constant limits). With
``points="violations"`` only flagged points are listed (a rule violated, or an EWMA/CUSUM signal) and each
chart says so in ``points_given``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from smartfactory.spc.capability import Capability, Interval, NormalityCheck
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.rules import BoolArray, FloatArray, IntArray, RuleFlags

PointsGiven = Literal["all", "violations"]
POINTS_GIVEN: tuple[str, ...] = ("all", "violations")
CodeArray = npt.NDArray[np.uint16]


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


def rule_codes(flags: RuleFlags) -> CodeArray:
    """One bit mask per point: bit k set when the point violates ``flags.ids[k]`` (at most 16 rules)."""
    codes = np.zeros(flags.n, dtype=np.uint16)
    for k in range(len(flags.ids)):
        codes |= flags.flags[k].view(np.uint8).astype(np.uint16) << np.uint16(k)
    return codes


def code_labels(ids: tuple[str, ...], codes: CodeArray) -> dict[int, tuple[str, ...]]:
    """The rule ids of every bit mask that occurs in ``codes`` (in the order of ``ids``)."""
    present = np.flatnonzero(np.bincount(codes)) if codes.size else np.zeros(0, dtype=np.int64)
    out: dict[int, tuple[str, ...]] = {0: ()}
    for code in present.tolist():
        out[int(code)] = tuple(rule for k, rule in enumerate(ids) if code >> k & 1)
    return out


def flagged(chart: ControlChart) -> BoolArray:
    """Points that violate at least one evaluated rule or carry an EWMA/CUSUM signal."""
    hit = chart.flags.any()
    if chart.signal is not None:
        hit = hit | chart.signal
    return np.asarray(hit, dtype=np.bool_)


@dataclass(frozen=True)
class PointColumns:
    """The per-point part of a chart, column-wise: the rows :func:`chart_to_dict` lists under ``points``.

    ``index`` is 1-based; ``codes`` are rule bit masks over ``rule_ids``; ``extra`` holds, in JSON key order,
    the optional fields ``size`` (sizes that are whole numbers print as integers), ``signal`` (bool),
    ``observed``, ``upper``, ``lower`` (floats).
    """

    rule_ids: tuple[str, ...]
    index: IntArray
    value: FloatArray
    codes: CodeArray
    phase: npt.NDArray[np.int8]
    extra: dict[str, npt.NDArray[Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.index.size)

    def labels(self) -> dict[int, tuple[str, ...]]:
        return code_labels(self.rule_ids, self.codes)

    def rows(self) -> list[dict[str, Any]]:
        """The points as dicts (what ``json.loads`` gives back for the streamed form)."""
        labels = self.labels()
        rules = [list(labels[c]) for c in self.codes.tolist()]
        extra: dict[str, list[Any]] = {}
        for key, col in self.extra.items():
            if key == "size":
                extra[key] = [int(s) if s.is_integer() else s for s in col.astype(np.float64).tolist()]
            elif key == "signal":
                extra[key] = [bool(s) for s in col.tolist()]
            else:
                extra[key] = [num(v) for v in col.tolist()]
        out: list[dict[str, Any]] = []
        cols = zip(self.index.tolist(), self.value.tolist(), rules, self.phase.tolist(), strict=True)
        for i, (index, value, ids, phase) in enumerate(cols):
            p: dict[str, Any] = {"index": index, "value": num(value), "rules": ids, "phase": phase}
            for key, values in extra.items():
                p[key] = values[i]
            out.append(p)
        return out


def point_columns(chart: ControlChart, points: PointsGiven = "all") -> PointColumns:
    """The chart's points (all, or only the flagged ones) as :class:`PointColumns`."""
    if points not in POINTS_GIVEN:
        raise ValueError(f"points must be one of {POINTS_GIVEN}, got {points!r}")
    n = chart.n
    index_all = np.arange(1, n + 1, dtype=np.int64)
    codes_all = rule_codes(chart.flags)
    extra: dict[str, npt.NDArray[Any]] = {}
    if chart.chart not in ("i", "mr") and bool(np.any(chart.sizes != 1)):
        extra["size"] = np.asarray(chart.sizes, dtype=np.float64)
    if chart.signal is not None:
        extra["signal"] = np.asarray(chart.signal, dtype=np.bool_)
    if chart.chart == "ewma" and chart.observed is not None:
        extra["observed"] = chart.observed
    if chart.upper is not None and chart.lower is not None:
        extra["upper"], extra["lower"] = chart.upper, chart.lower
    phase = np.full(n, 2, dtype=np.int8)
    phase[: chart.n_phase1] = 1
    if points == "all":
        return PointColumns(chart.flags.ids, index_all, chart.statistics, codes_all, phase, extra)
    keep = np.flatnonzero(flagged(chart))
    return PointColumns(
        chart.flags.ids,
        index_all[keep],
        chart.statistics[keep],
        codes_all[keep],
        phase[keep],
        {k: v[keep] for k, v in extra.items()},
    )


def _collapse(a: FloatArray) -> float | FloatArray:
    return float(a[0]) if a.size and bool(np.all(a == a[0])) else a


def _lazy_line(v: float | FloatArray) -> float | FloatArray | None:
    return v if isinstance(v, np.ndarray) else num(v)


def chart_document(chart: ControlChart, name: str | None = None, points: PointsGiven = "all") -> dict[str, Any]:
    """One chart, lazily: centre, sigma, limits and zone lines (floats, or arrays when they vary), the chart's
    parameters, ``points_given`` and ``points`` (a :class:`PointColumns`)."""
    z = chart.zones
    out: dict[str, Any] = {
        "chart": name or chart.chart,
        "center": _lazy_line(chart.center),
        "sigma": _lazy_line(chart.sigma),
        "lcl": _lazy_line(chart.lcl),
        "ucl": _lazy_line(chart.ucl),
        "nsigmas": chart.nsigmas,
        "n_phase1": chart.n_phase1,
        "n_phase2": chart.n - chart.n_phase1,
        "excluded": list(chart.excluded),
        "rules_evaluated": list(chart.flags.ids),
    }
    if chart.chart not in ("ewma", "cusum"):
        out["zones"] = {
            "lower_1sigma": _lazy_line(_collapse(z.lo1)),
            "upper_1sigma": _lazy_line(_collapse(z.hi1)),
            "lower_2sigma": _lazy_line(_collapse(z.lo2)),
            "upper_2sigma": _lazy_line(_collapse(z.hi2)),
        }
    out.update({k: num(v) for k, v in chart.params.items()})
    out["points_given"] = points
    out["points"] = point_columns(chart, points)
    return out


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


def analysis_document(
    chart_name: str,
    result: ChartPair | ControlChart,
    capability: Capability | None = None,
    points: PointsGiven = "all",
) -> dict[str, Any]:
    """The whole analysis, lazily (see :func:`chart_document`): main chart at the top level, ``statistic``,
    then ``companion`` and ``capability`` when present."""
    main = result.main if isinstance(result, ChartPair) else result
    out = chart_document(main, chart_name, points)
    out["statistic"] = main.chart
    if isinstance(result, ChartPair):
        out["companion"] = chart_document(result.companion, points=points)
    if capability is not None:
        out["capability"] = capability_to_dict(capability)
    return out


def materialize(doc: Any) -> Any:
    """A lazy document as plain dicts and lists (arrays become lists with ``None`` for non-finite values)."""
    if isinstance(doc, dict):
        return {k: materialize(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [materialize(v) for v in doc]
    if isinstance(doc, PointColumns):
        return doc.rows()
    if isinstance(doc, np.ndarray):
        return line(doc)
    return doc


def chart_to_dict(chart: ControlChart, name: str | None = None, points: PointsGiven = "all") -> dict[str, Any]:
    """One chart: centre, sigma, limits, zone lines and per-point values and rule ids."""
    out: dict[str, Any] = materialize(chart_document(chart, name, points))
    return out


def analysis_to_dict(
    chart_name: str,
    result: ChartPair | ControlChart,
    capability: Capability | None = None,
    points: PointsGiven = "all",
) -> dict[str, Any]:
    """The whole analysis: main chart at the top level, ``companion`` and ``capability`` when present."""
    out: dict[str, Any] = materialize(analysis_document(chart_name, result, capability, points))
    return out
