"""Plotly figure builders for the pages (no Streamlit): control charts, capability, trends, state strip, OEE.

Every figure follows the colour language in `theme.py` and uses `theme.layout(projector, ...)`, so projector
mode enlarges every chart the same way. Long charts are thinned on the server (`explain.plot_indices`), never
shipped whole to the browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
import theme
from explain import Explainer, marker_indices, plot_indices
from plantinfo import SpecLimits
from plotly.subplots import make_subplots
from scipy import stats
from spcview import ChartView

from smartfactory.spc import Capability
from smartfactory.spc.chart import ControlChart

MAX_LINE_POINTS = 2400  # min and max of 1,200 buckets: more than a chart's width in pixels
MAX_MARKERS = 600
MAX_LABELS = 60
VIOLATIONS_TRACE = "violations"

TITLES = {
    "i": "Individuals (I)",
    "mr": "Moving range (MR)",
    "xbar": "Subgroup means (X̄)",
    "r": "Subgroup ranges (R)",
    "s": "Subgroup standard deviations (S)",
    "p": "Fraction scrap (p)",
    "np": "Number scrap (np)",
    "c": "Nonconformities (c)",
    "u": "Nonconformities per unit (u)",
    "ewma": "EWMA",
    "cusum": "CUSUM (standard errors)",
}


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

    @staticmethod
    def axes(row: int) -> tuple[str, str]:
        return ("x", "y") if row == 1 else (f"x{row}", f"y{row}")

    def hline(self, y: float, row: int, color: str, dash: str, label: str) -> None:
        xa, ya = self.axes(row)
        line = {"color": color, "dash": dash, "width": 1.5}
        self.shapes.append(
            {"type": "line", "xref": f"{xa} domain", "yref": ya, "x0": 0, "x1": 1, "y0": y, "y1": y, "line": line}
        )
        self.annotations.append(
            {"xref": f"{xa} domain", "yref": ya, "x": 1, "y": y, "text": f"{label} {y:.4g}", "showarrow": False,
             "xanchor": "right", "yanchor": "bottom", "font": {"color": color}}
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
                decor.hband(clo, chi, row, theme.ZONE_FILL[zone])
            continue
        fig.add_trace(
            go.Scatter(x=x[idx], y=lo[idx], mode="lines", line={"width": 0, "shape": "hv"}, hoverinfo="skip",
                       showlegend=False),
            row=row, col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=x[idx], y=hi[idx], mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                       fillcolor=theme.ZONE_FILL[zone], hoverinfo="skip", showlegend=False),
            row=row, col=1,
        )  # fmt: skip


def _limits(fig: go.Figure, decor: Decor, chart: ControlChart, x: Any, idx: npt.NDArray[np.int64], row: int) -> None:
    for line, color, dash, label in (
        (chart.center_line, theme.CENTER, "solid", "CL"),
        (chart.ucl_line, theme.LIMIT, "dash", "UCL" if chart.chart != "cusum" else "+h"),
        (chart.lcl_line, theme.LIMIT, "dash", "LCL" if chart.chart != "cusum" else "−h"),
    ):
        if chart.chart == "cusum" and label == "CL":
            decor.hline(0.0, row, color, "solid", "0")
            continue
        value = _constant(line)
        if value is not None:
            decor.hline(value, row, color, dash, label)
        else:
            _step(fig, x[idx], line[idx], row, color, dash, label)


def _violations(fig: go.Figure, chart: ControlChart, x: Any, row: int, name: str, label: bool) -> int:
    flagged = chart.flags.any() if chart.signal is None else chart.signal
    total = int(flagged.sum())
    if total == 0:
        return 0
    idx = marker_indices(flagged, MAX_MARKERS)
    explainer = Explainer(chart)
    times = pd.to_datetime(x[idx]).strftime("%Y-%m-%d %H:%M:%S")
    y = chart.statistics
    if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
        y = np.where(chart.upper > -chart.lower, chart.upper, chart.lower)  # the side that signalled
    reasons = ["<br>".join(explainer.why(int(i))) for i in idx]
    if chart.signal is None:
        labels = [", ".join(explainer.per_point[int(i)]) for i in idx]
    else:
        labels = [chart.chart.upper()] * idx.size
    hover = [f"<b>{t}</b><br>value {y[i]:.4g}<br>{r}" for t, i, r in zip(times, idx, reasons, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=x[idx], y=y[idx], mode="markers+text" if label and idx.size <= MAX_LABELS else "markers",
            name=f"{name} ({total})", text=labels, textposition="top center",
            textfont={"color": theme.VIOLATION}, hovertext=hover, hoverinfo="text",
            marker={"color": theme.VIOLATION, "size": 11, "symbol": "circle-open-dot",
                    "line": {"width": 2.5, "color": theme.VIOLATION}},
        ),
        row=row, col=1,
    )  # fmt: skip
    return total


def _panel(fig: go.Figure, decor: Decor, chart: ControlChart, x: Any, row: int) -> int:
    n = chart.n
    idx = plot_indices(chart.statistics, MAX_LINE_POINTS)
    if chart.chart != "ewma":
        _zones(fig, decor, chart, x, idx, row)
    mode = "lines+markers" if n <= 600 else "lines"
    marker = {"size": 5}
    if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
        for y, name, color in ((chart.upper, "C⁺", theme.STATISTIC), (chart.lower, "−C⁻", theme.STATISTIC_2)):
            fig.add_trace(
                go.Scatter(x=x[idx], y=y[idx], mode=mode, name=name, marker=marker, line={"color": color}),
                row=row, col=1,
            )  # fmt: skip
    else:
        if chart.chart == "ewma" and chart.observed is not None:
            fig.add_trace(
                go.Scatter(x=x[idx], y=chart.observed[idx], mode="markers", name="readings",
                           marker={"size": 4, "color": theme.OBSERVED}),
                row=row, col=1,
            )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=x[idx], y=chart.statistics[idx], mode=mode, name=TITLES.get(chart.chart, chart.chart),
                       marker={**marker, "color": theme.STATISTIC}, line={"width": 1.5, "color": theme.STATISTIC}),
            row=row, col=1,
        )  # fmt: skip
    _limits(fig, decor, chart, x, idx, row)
    label = VIOLATIONS_TRACE if row == 1 else f"{chart.chart.upper()} {VIOLATIONS_TRACE}"
    return _violations(fig, chart, x, row, label, label=row == 1)


def control_chart(view: ChartView, *, projector: bool) -> go.Figure:
    """The control chart (and its MR/R/S companion below it), zones, phase I band and violation markers."""
    charts: list[tuple[ControlChart, Any]] = [(view.main, view.x)]
    if view.companion is not None and view.x_companion is not None:
        charts.append((view.companion, view.x_companion))
    fig = make_subplots(
        rows=len(charts), cols=1, shared_xaxes=True, vertical_spacing=0.08,
        row_heights=[0.68, 0.32][: len(charts)] if len(charts) == 2 else [1.0],
        subplot_titles=[TITLES.get(c.chart, c.chart) for c, _ in charts],
    )  # fmt: skip
    decor = Decor()
    for row, (chart, x) in enumerate(charts, start=1):
        _panel(fig, decor, chart, np.asarray(x), row)
        if view.phase1_span is not None:
            x0, x1 = (pd.Timestamp(t) for t in view.phase1_span)
            decor.vband(x0, x1, row, theme.PHASE1, "phase I" if row == 1 else None)
    decor.apply(fig)
    fig.update_xaxes(type="date")
    fig.update_layout(**theme.layout(projector, height=540 if len(charts) == 2 else 420))
    return fig


def capability_figure(values: npt.ArrayLike, cap: Capability, spec: SpecLimits, *, projector: bool) -> go.Figure:
    """Histogram of the readings, the fitted normal curves (within and overall σ) and the spec limits."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    fig = go.Figure()
    counts, edges = np.histogram(x, bins="auto" if x.size < 50_000 else 120)
    width = float(edges[1] - edges[0]) if edges.size > 1 else 1.0
    fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=width, name="readings",
                         marker={"color": "rgba(47,126,216,0.55)"}))  # fmt: skip
    lo = min([float(x.min()), *(v for v in (spec.lsl, spec.usl) if v is not None)])
    hi = max([float(x.max()), *(v for v in (spec.lsl, spec.usl) if v is not None)])
    grid = np.linspace(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo), 300)
    for sd, name, dash in (
        (cap.sigma_within, "normal (within σ)", "solid"),
        (cap.sigma_overall, "normal (overall σ)", "dot"),
    ):
        if sd > 0:
            pdf = stats.norm.pdf(grid, cap.center, sd) * x.size * width
            fig.add_trace(
                go.Scatter(x=grid, y=pdf, mode="lines", name=name, line={"color": theme.CENTER, "dash": dash})
            )
    decor = Decor()
    for value, label in ((spec.lsl, "LSL"), (spec.usl, "USL"), (spec.target, "target")):
        if value is not None:
            decor.vline(value, theme.SPEC, "dash" if label != "target" else "dot", f"{label} {value:.4g}")
    decor.apply(fig)
    fig.update_layout(**theme.layout(projector, height=380, bargap=0.02))
    return fig


@dataclass(frozen=True)
class Trend:
    """One sensor's trend: raw readings (`ts`, `value`) or store aggregates (`ts`, `mean`, `min`, `max`)."""

    sensor: str
    unit: str | None
    frame: pd.DataFrame
    aggregated: bool
    spec: SpecLimits


def trends(
    items: Sequence[Trend], segments: pd.DataFrame, machine: str, span_ms: tuple[int, int], *, projector: bool
) -> go.Figure:
    """One panel per sensor (shared time axis over `span_ms`) and the machine's state strip below them."""
    rows = len(items) + 1
    titles = [f"{t.sensor} [{t.unit}]" if t.unit else t.sensor for t in items] + ["machine state"]
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=min(0.06, 0.3 / rows), subplot_titles=titles,
        row_heights=[1.0] * len(items) + [0.35],
    )  # fmt: skip
    decor = Decor()
    for row, item in enumerate(items, start=1):
        f = item.frame
        if item.aggregated:
            fig.add_trace(go.Scatter(x=f["ts"], y=f["min"], mode="lines", line={"width": 0}, hoverinfo="skip",
                                     showlegend=False), row=row, col=1)  # fmt: skip
            fig.add_trace(go.Scatter(x=f["ts"], y=f["max"], mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor="rgba(47,126,216,0.2)", name="min–max", showlegend=row == 1),
                          row=row, col=1)  # fmt: skip
            fig.add_trace(go.Scatter(x=f["ts"], y=f["mean"], mode="lines", name=item.sensor, showlegend=False,
                                     line={"color": "#2f7ed8"}), row=row, col=1)  # fmt: skip
        else:
            fig.add_trace(go.Scatter(x=f["ts"], y=f["value"], mode="lines", name=item.sensor, showlegend=False,
                                     line={"color": "#2f7ed8"}), row=row, col=1)  # fmt: skip
        for value, label in ((item.spec.lsl, "LSL"), (item.spec.usl, "USL")):
            if value is not None:
                decor.hline(value, row, theme.SPEC, "dash", label)
    decor.apply(fig)
    _state_strip(fig, segments, machine, rows)
    fig.update_yaxes(showticklabels=False, row=rows, col=1)
    fig.update_xaxes(type="date", range=[pd.Timestamp(t, unit="ms", tz="UTC") for t in span_ms])
    fig.update_layout(**theme.layout(projector, height=170 * len(items) + 140, barmode="overlay"))
    return fig


def _state_strip(fig: go.Figure, segments: pd.DataFrame, machine: str, row: int) -> None:
    seg = segments[segments["machine"] == machine] if not segments.empty else segments
    for state in theme.STATE_ORDER:
        part = seg[seg["state"] == state] if not seg.empty else seg
        if part.empty:
            continue
        start = pd.to_datetime(part["start_ms"], unit="ms", utc=True)
        end = pd.to_datetime(part["end_ms"], unit="ms", utc=True)
        hover = [
            f"<b>{state}</b>{' · ' + r if isinstance(r, str) and r else ''}<br>{a:%H:%M:%S} → {b:%H:%M:%S}"
            for r, a, b in zip(part["reason"], start, end, strict=True)
        ]
        fig.add_trace(
            go.Bar(x=(part["end_ms"] - part["start_ms"]).to_numpy(), base=start, y=["state"] * len(part),
                   orientation="h", name=state, marker={"color": theme.state_color(state)},
                   hovertext=hover, hoverinfo="text", legendgroup="states"),
            row=row, col=1,
        )  # fmt: skip


def pareto(table: pd.DataFrame, *, projector: bool) -> go.Figure:
    """Stop hours by cause, largest first, with the cumulative share on the right axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    colors = [theme.state_color(s) for s in table["state"]]
    fig.add_trace(go.Bar(x=table["cause"], y=table["hours"], marker={"color": colors}, name="hours"), secondary_y=False)
    fig.add_trace(
        go.Scatter(x=table["cause"], y=table["cumulative"] * 100, mode="lines+markers", name="cumulative %",
                   line={"color": "#555555"}),
        secondary_y=True,
    )  # fmt: skip
    fig.update_yaxes(title_text="hours", secondary_y=False)
    fig.update_yaxes(title_text="cumulative %", range=[0, 105], tickvals=[0, 25, 50, 75, 100], secondary_y=True)
    fig.update_layout(**theme.layout(projector, height=380, title="Downtime by reason (Pareto)"))
    return fig


def oee_bars(table: pd.DataFrame, *, projector: bool) -> go.Figure:
    """Availability, performance, quality and OEE per machine (percent)."""
    fig = go.Figure()
    colors = {"availability": "#2f7ed8", "performance": "#e0a800", "quality": "#7b3fbf", "oee": "#2e9e44"}
    for column, color in colors.items():
        name = column.upper() if column == "oee" else column.title()
        fig.add_trace(go.Bar(x=table["name"], y=table[column] * 100, name=name, marker={"color": color}))
    fig.update_yaxes(title_text="%", range=[0, 105])
    fig.update_layout(**theme.layout(projector, height=360, barmode="group", title="OEE per machine"))
    return fig


def losses(table: pd.DataFrame, *, projector: bool) -> go.Figure:
    """The six big losses per machine, stacked (hours)."""
    fig = go.Figure()
    for column in [c for c in table.columns if c != "machine"]:
        color = theme.LOSS_COLORS.get(column)
        fig.add_trace(
            go.Bar(y=table["machine"], x=table[column], name=column, orientation="h", marker={"color": color})
        )
    fig.update_xaxes(title_text="hours lost")
    fig.update_layout(**theme.layout(projector, height=300, barmode="stack", title="Six big losses"))
    return fig
