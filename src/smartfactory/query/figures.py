"""The control-chart figure (plotly), one renderer and one title table for `smartfactory spc analyze --plot` and
the dashboard's SPC page. Builds figures only; writing them (HTML, PNG) or showing them is the caller's business.

Drawn: the statistic (and, for EWMA, the readings behind it; for CUSUM, C⁺ and −C⁻), the centre line, the control
limits (constant ones as labelled lines, varying ones as steps), the 1σ/2σ/3σ zones as faint bands, the phase I
points as a grey band, and every flagged point as a red ring whose hover text says which rule and why
(`query.explain`). Long charts are thinned on the server (`explain.plot_indices`), never shipped whole to the
browser. The x axis is whatever the caller gives: times (the dashboard) or point numbers (the CLI).

Import this module only where a figure is drawn: it imports plotly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from smartfactory.query.explain import Explainer, Formatter, marker_indices, plot_indices
from smartfactory.spc.chart import ChartPair, ControlChart

MAX_LINE_POINTS = 2400  # min and max of 1,200 buckets: more than a chart's width in pixels
MAX_MARKERS = 600
VIOLATIONS_TRACE = "violations"

#: Panel titles by `ControlChart.chart`.
TITLES = {
    "i": "Individuals (I)",
    "mr": "Moving range (MR)",
    "xbar": "Subgroup means (X̄)",
    "r": "Subgroup ranges (R)",
    "s": "Subgroup standard deviations (S)",
    "p": "Proportion nonconforming (p)",
    "np": "Number nonconforming (np)",
    "c": "Nonconformities (c)",
    "u": "Nonconformities per unit (u)",
    "ewma": "EWMA",
    "cusum": "CUSUM (standard errors)",
}

# Colours: mid-saturation, readable on a white and on a near-black background (the dashboard's theme uses them).
STATISTIC = "#2f7ed8"
STATISTIC_2 = "#17becf"
VIOLATION = "#d62728"
CENTER = "#2e9e44"
LIMIT = "#d62728"
PHASE1 = "rgba(128,128,128,0.16)"
ZONE_FILL = {1: "rgba(46,158,68,0.07)", 2: "rgba(224,168,0,0.09)", 3: "rgba(214,58,58,0.08)"}
OBSERVED = "rgba(128,128,128,0.55)"


def _g(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class NumberFormats:
    """How a panel writes its numbers: `value` a plotted point (hover), `limit` its centre line, control limits
    and zone lines (labels and hover reasons). Default: four significant digits; the dashboard passes the
    characteristic's resolution (a value to its declared decimals, a limit one decimal more)."""

    value: Formatter = _g
    limit: Formatter = _g


#: Labels of flagged points: two labels are at least this share of the x range apart per character of the longer
#: one (9 px a character on a 720 px wide plot, enough for 13 px text), so neighbouring rule ids never print
#: over each other; larger fonts need a larger share (`control_chart(label_gap=…)`).
LABEL_GAP_PER_CHAR = 1 / 80


def chart_title(chart: ControlChart) -> str:
    return TITLES.get(chart.chart, chart.chart)


def _constant(line: npt.NDArray[np.float64]) -> float | None:
    return float(line[0]) if line.size and bool(np.all(line == line[0])) else None


@dataclass
class Decor:
    """Shapes and annotations of one figure, collected as plain dicts and set in one go.

    plotly's `add_hline`/`add_hrect` with `row=` look up the subplot grid on every call (about 30 ms each);
    building the dicts here keeps a control chart's figure under 100 ms.
    """

    shapes: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    fmt: Callable[[float], str] = _g  # the number in a line's label ("UCL 25.0131")

    @staticmethod
    def axes(row: int) -> tuple[str, str]:
        return ("x", "y") if row == 1 else (f"x{row}", f"y{row}")

    def hline(self, y: float, row: int, color: str, dash: str, label: str, text: str | None = None) -> None:
        """A horizontal line across a panel, labelled `text` (default: `label` and `y` written by `fmt`)."""
        xa, ya = self.axes(row)
        line = {"color": color, "dash": dash, "width": 1.5}
        self.shapes.append(
            {"type": "line", "xref": f"{xa} domain", "yref": ya, "x0": 0, "x1": 1, "y0": y, "y1": y, "line": line}
        )
        self.annotations.append(
            {"xref": f"{xa} domain", "yref": ya, "x": 1, "y": y, "text": text or f"{label} {self.fmt(y)}",
             "showarrow": False, "xanchor": "right", "yanchor": "bottom", "font": {"color": color}}
        )  # fmt: skip

    def vline(self, x: float, color: str, dash: str, label: str) -> None:
        line = {"color": color, "dash": dash, "width": 2}
        self.shapes.append({"type": "line", "xref": "x", "yref": "y domain", "x0": x, "x1": x, "y0": 0, "y1": 1,
                            "line": line})  # fmt: skip
        self.annotations.append(
            {"xref": "x", "yref": "y domain", "x": x, "y": 1, "text": label, "showarrow": False, "xanchor": "left",
             "yanchor": "top", "font": {"color": color}}
        )  # fmt: skip

    def hband(self, y0: float, y1: float, row: int, fill: str) -> None:
        xa, ya = self.axes(row)
        self.shapes.append(
            {"type": "rect", "xref": f"{xa} domain", "yref": ya, "x0": 0, "x1": 1, "y0": y0, "y1": y1,
             "fillcolor": fill, "line": {"width": 0}, "layer": "below"}
        )  # fmt: skip

    def vband(self, x0: Any, x1: Any, row: int, fill: str, label: str | None) -> None:
        xa, ya = self.axes(row)
        self.shapes.append(
            {"type": "rect", "xref": xa, "yref": f"{ya} domain", "x0": x0, "x1": x1, "y0": 0, "y1": 1,
             "fillcolor": fill, "line": {"width": 0}, "layer": "below"}
        )  # fmt: skip
        if label:
            self.annotations.append(
                {"xref": xa, "yref": f"{ya} domain", "x": x0, "y": 1, "text": label, "showarrow": False,
                 "xanchor": "left", "yanchor": "top"}
            )  # fmt: skip

    def apply(self, fig: go.Figure) -> None:
        fig.update_layout(shapes=self.shapes, annotations=[*fig.layout.annotations, *self.annotations])


@dataclass(frozen=True)
class Panel:
    """One chart and the x value of each of its points (datetime64 times or point numbers)."""

    chart: ControlChart
    x: npt.NDArray[Any]
    formats: NumberFormats = field(default_factory=NumberFormats)


def _is_time(x: npt.NDArray[Any]) -> bool:
    return bool(np.issubdtype(x.dtype, np.datetime64))


def _step(fig: go.Figure, x: Any, y: Any, row: int, color: str, dash: str, name: str) -> None:
    fig.add_trace(
        go.Scatter(
            x=x, y=y, mode="lines", name=name, line={"color": color, "dash": dash, "shape": "hv", "width": 1.5},
            hoverinfo="skip", showlegend=False,
        ),
        row=row,
        col=1,
    )  # fmt: skip


def _zones(fig: go.Figure, decor: Decor, chart: ControlChart, x: Any, idx: npt.NDArray[np.int64], row: int) -> None:
    """Faint bands: inside ±1σ, 1σ-2σ and 2σ-3σ (constant: rectangles; varying: filled step traces)."""
    z = chart.zones
    pairs = [(z.lo3, z.lo2, 3), (z.lo2, z.lo1, 2), (z.lo1, z.hi1, 1), (z.hi1, z.hi2, 2), (z.hi2, z.hi3, 3)]
    for lo, hi, zone in pairs:
        clo, chi = _constant(lo), _constant(hi)
        if clo is not None and chi is not None:
            if chi > clo:
                decor.hband(clo, chi, row, ZONE_FILL[zone])
            continue
        fig.add_trace(
            go.Scatter(x=x[idx], y=lo[idx], mode="lines", line={"width": 0, "shape": "hv"}, hoverinfo="skip",
                       showlegend=False),
            row=row, col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=x[idx], y=hi[idx], mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                       fillcolor=ZONE_FILL[zone], hoverinfo="skip", showlegend=False),
            row=row, col=1,
        )  # fmt: skip


def _limits(
    fig: go.Figure, decor: Decor, chart: ControlChart, x: Any, idx: npt.NDArray[np.int64], row: int, fmt: Formatter
) -> None:
    for line, color, dash, label in (
        (chart.center_line, CENTER, "solid", "CL"),
        (chart.ucl_line, LIMIT, "dash", "UCL" if chart.chart != "cusum" else "+h"),
        (chart.lcl_line, LIMIT, "dash", "LCL" if chart.chart != "cusum" else "−h"),
    ):
        if chart.chart == "cusum" and label == "CL":
            decor.hline(0.0, row, color, "solid", "0")
            continue
        value = _constant(line)
        if value is not None:
            decor.hline(value, row, color, dash, label, f"{label} {fmt(value)}")
        else:
            _step(fig, x[idx], line[idx], row, color, dash, label)


def _where(x: npt.NDArray[Any], idx: npt.NDArray[np.int64]) -> list[str]:
    if _is_time(x):
        return list(pd.to_datetime(x[idx]).strftime("%Y-%m-%d %H:%M:%S"))
    return [f"point {v:g}" for v in np.asarray(x[idx], dtype=np.float64)]


def spaced_labels(
    idx: npt.NDArray[np.int64], x: npt.NDArray[Any], labels: Sequence[str], gap_per_char: float = LABEL_GAP_PER_CHAR
) -> list[str]:
    """The labels to print beside the flagged points `idx` (positions, ascending; `labels`: each point's rule ids,
    comma-separated). Within a run of consecutive flagged points a point is labelled only with the rules that
    start there (a run of WE4 is labelled once, at its first point; "WE1" where a point of it also leaves the
    limits), and a label closer to the previous printed one than `gap_per_char` of the x range per character is
    left blank. Every point keeps its ring and its hover text with all its rules; the labels never print over
    each other ("WE4WE4WE4")."""
    if idx.size == 0:
        return []
    pos = np.asarray(x[idx], dtype="datetime64[ms]").astype(np.int64) if _is_time(x) else np.asarray(x[idx], float)
    full = np.asarray(x, dtype="datetime64[ms]").astype(np.int64) if _is_time(x) else np.asarray(x, float)
    span = float(np.nanmax(full) - np.nanmin(full)) if full.size > 1 else 1.0
    span = span if span > 0 else 1.0
    out: list[str] = []
    last_pos: float | None = None
    last_text = ""
    before: list[str] = []
    for k, (i, label) in enumerate(zip(idx, labels, strict=True)):
        rules = [r for r in label.split(", ") if r]
        continues = k > 0 and int(idx[k - 1]) == int(i) - 1
        text = ", ".join(r for r in rules if r not in before) if continues else ", ".join(rules)
        before = rules
        gap = gap_per_char * span * (max(len(text), len(last_text)) + 1)
        crowded = last_pos is not None and float(pos[k]) - last_pos < gap
        if crowded or not text:
            out.append("")
            continue
        out.append(text)
        last_pos, last_text = float(pos[k]), text
    return out


def _violations(
    fig: go.Figure,
    chart: ControlChart,
    x: npt.NDArray[Any],
    row: int,
    name: str,
    formats: NumberFormats,
    label_gap: float = LABEL_GAP_PER_CHAR,
) -> int:
    flagged = chart.flags.any() if chart.signal is None else chart.signal
    total = int(flagged.sum())
    if total == 0:
        return 0
    idx = marker_indices(flagged, MAX_MARKERS)
    limit = formats.limit if chart.chart != "cusum" else _g
    explainer = Explainer(chart, formats.value if chart.chart != "cusum" else _g, limit)
    y = chart.statistics
    if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
        y = np.where(chart.upper > -chart.lower, chart.upper, chart.lower)  # the side that signalled
    reasons = ["<br>".join(explainer.why(int(i))) for i in idx]
    if chart.signal is None:
        labels = [", ".join(explainer.per_point[int(i)]) for i in idx]
    else:
        labels = [chart.chart.upper()] * idx.size
    where = _where(x, idx)
    value = formats.value if chart.chart != "cusum" else _g
    hover = [f"<b>{t}</b><br>value {value(float(y[i]))}<br>{r}" for t, i, r in zip(where, idx, reasons, strict=True)]
    shown = spaced_labels(idx, x, labels, label_gap)
    fig.add_trace(
        go.Scatter(
            x=x[idx], y=y[idx], mode="markers+text" if any(shown) else "markers",
            name=f"{name} ({total})", text=shown, textposition="top center",
            textfont={"color": VIOLATION}, hovertext=hover, hoverinfo="text",
            marker={"color": VIOLATION, "size": 11, "symbol": "circle-open-dot",
                    "line": {"width": 2.5, "color": VIOLATION}},
        ),
        row=row, col=1,
    )  # fmt: skip
    return total


def _panel(
    fig: go.Figure, decor: Decor, panel: Panel, x: npt.NDArray[Any], row: int, label_gap: float = LABEL_GAP_PER_CHAR
) -> int:
    chart = panel.chart
    n = chart.n
    idx = plot_indices(chart.statistics, MAX_LINE_POINTS)
    if chart.chart != "ewma":
        _zones(fig, decor, chart, x, idx, row)
    mode = "lines+markers" if n <= 600 else "lines"
    marker = {"size": 5}
    if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
        for y, name, color in ((chart.upper, "C⁺", STATISTIC), (chart.lower, "−C⁻", STATISTIC_2)):
            fig.add_trace(
                go.Scatter(x=x[idx], y=y[idx], mode=mode, name=name, marker=marker, line={"color": color}),
                row=row, col=1,
            )  # fmt: skip
    else:
        if chart.chart == "ewma" and chart.observed is not None:
            fig.add_trace(
                go.Scatter(x=x[idx], y=chart.observed[idx], mode="markers", name="readings",
                           marker={"size": 4, "color": OBSERVED}),
                row=row, col=1,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=x[idx], y=chart.statistics[idx], mode=mode, name=chart_title(chart),
                       marker={**marker, "color": STATISTIC}, line={"width": 1.5, "color": STATISTIC}),
            row=row, col=1,
        )  # fmt: skip
    _limits(fig, decor, chart, x, idx, row, panel.formats.limit if chart.chart != "cusum" else _g)
    label = VIOLATIONS_TRACE if row == 1 else f"{chart.chart.upper()} {VIOLATIONS_TRACE}"
    # the companion (MR, R, S) labels its flagged points too: a ring without a rule id explains nothing
    return _violations(fig, chart, x, row, label, panel.formats, label_gap)


def height(panels: int) -> int:
    """The figure height (px) for one or two panels."""
    return 540 if panels == 2 else 420


def control_chart(
    panels: Sequence[Panel],
    *,
    phase1_span: tuple[Any, Any] | None = None,
    title: str = "",
    layout: Mapping[str, Any] | None = None,
    label_gap: float = LABEL_GAP_PER_CHAR,
) -> go.Figure:
    """The chart (and its MR/R/S companion below it): zones, limits, the phase I band, violation markers.

    `phase1_span` is the (first, last) x of the phase I points; `layout` replaces the default layout (white
    template, `height(len(panels))`), e.g. the dashboard's projector-aware one; `label_gap` spaces the rule labels
    of flagged points (`spaced_labels`)."""
    fig = make_subplots(
        rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
        row_heights=[0.68, 0.32] if len(panels) == 2 else [1.0] * len(panels),
        subplot_titles=[chart_title(p.chart) for p in panels],
    )  # fmt: skip
    decor = Decor()
    for row, panel in enumerate(panels, start=1):
        x = np.asarray(panel.x)
        _panel(fig, decor, panel, x, row, label_gap)
        if phase1_span is not None:
            x0, x1 = (pd.Timestamp(t) if _is_time(x) else t for t in phase1_span)
            decor.vband(x0, x1, row, PHASE1, "phase I" if row == 1 else None)
    decor.apply(fig)
    if panels and _is_time(np.asarray(panels[0].x)):
        fig.update_xaxes(type="date")
    fig.update_layout(**(dict(layout) if layout is not None else {"height": height(len(panels))}))
    if layout is None:
        fig.update_layout(template="plotly_white")
    if title:
        fig.update_layout(title=title)
    return fig


def numbered(result: ChartPair | ControlChart) -> list[Panel]:
    """Panels with point numbers on the x axis (1…n; a moving range starts at 2, beside its second reading)."""
    charts = [result.main, result.companion] if isinstance(result, ChartPair) else [result]
    n = charts[0].n
    return [Panel(c, np.arange(n - c.n + 1, n + 1, dtype=np.float64)) for c in charts]


def figure(result: ChartPair | ControlChart, title: str = "") -> go.Figure:
    """The figure of a batch result (the CLI's `--plot`): point numbers, phase I band from `n_phase1`."""
    panels = numbered(result)
    main = panels[0]
    n1 = main.chart.n_phase1
    span = (float(main.x[0]) - 0.5, float(main.x[n1 - 1]) + 0.5) if 0 < n1 < main.chart.n else None
    return control_chart(panels, phase1_span=span, title=title)
