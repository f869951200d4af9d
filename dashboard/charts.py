"""Plotly figure builders for the pages (no Streamlit): control charts, capability, trends, state strip, OEE.

The control chart is drawn by `smartfactory.query.figures` (the renderer `smartfactory spc analyze --plot` uses
too); here it gets the dashboard's layout. Every figure uses `theme.layout(projector, ...)`, so projector mode
enlarges every chart the same way, and follows the colour language in `theme.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from dashboard import numbers, theme
from dashboard.spcview import ChartView
from smartfactory.query import figures
from smartfactory.query.figures import Decor, NumberFormats, Panel
from smartfactory.query.plantinfo import SpecLimits
from smartfactory.spc import Capability


def formats(chart: str, decimals: int | None) -> NumberFormats:
    """How a panel of kind `chart` writes numbers for values with `decimals`: the plotted statistic as a value
    where it is one (individuals, moving ranges, ranges), else as a statistic (means, σ, EWMA); its centre and
    limits always as statistics, one decimal more (`numbers`). Attribute charts count parts: four digits."""
    if chart in ("p", "np", "c", "u", "cusum"):
        return NumberFormats()
    stat = numbers.statistic_decimals(decimals)

    def limit(v: float) -> str:
        return numbers.fmt(v, stat)

    def value(v: float) -> str:
        return numbers.fmt(v, decimals if chart in ("i", "mr", "r") else stat)

    return NumberFormats(value, limit)


def control_chart(view: ChartView, *, projector: bool, decimals: int | None = None) -> go.Figure:
    """The control chart (and its MR/R/S companion below it), zones, phase I band and violation markers; numbers
    to the resolution of values with `decimals` (`formats`), every text at the mode's size."""
    panels = [Panel(view.main, view.x, formats(view.main.chart, decimals))]
    if view.companion is not None and view.x_companion is not None:
        panels.append(Panel(view.companion, view.x_companion, formats(view.companion.chart, decimals)))
    layout = theme.layout(projector, height=figures.height(len(panels)))
    gap = figures.LABEL_GAP_PER_CHAR * theme.font_size(projector) / theme.NORMAL_FONT  # larger text, wider labels
    figure = figures.control_chart(panels, phase1_span=view.phase1_span, layout=layout, label_gap=gap)
    return theme.scale_fonts(figure, projector)


def capability_figure(
    values: npt.ArrayLike, cap: Capability, spec: SpecLimits, *, projector: bool, decimals: int | None = None
) -> go.Figure:
    """Histogram of the readings, the fitted normal curves (within and overall σ, each named with its value and
    estimator) and the spec limits as declared."""
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
    within, overall = (numbers.fmt_stat(v, decimals) for v in (cap.sigma_within, cap.sigma_overall))
    for sd, name, dash in (
        (cap.sigma_within, f"normal, σ within = {within} (short-term)", "solid"),
        (cap.sigma_overall, f"normal, σ overall = {overall} (sample s)", "dot"),
    ):
        if sd > 0:
            pdf = stats.norm.pdf(grid, cap.center, sd) * x.size * width
            fig.add_trace(
                go.Scatter(x=grid, y=pdf, mode="lines", name=name, line={"color": figures.CENTER, "dash": dash})
            )
    decor = Decor()
    for value, label in ((spec.lsl, "LSL"), (spec.usl, "USL"), (spec.target, "target")):
        if value is not None:
            dash = "dash" if label != "target" else "dot"
            decor.vline(value, theme.SPEC, dash, f"{label} {numbers.fmt_declared(value)}")
    decor.apply(fig)
    fig.update_layout(**theme.layout(projector, height=380, bargap=0.02))
    fig.update_layout(legend={"orientation": "h", "y": -0.15, "x": 0})  # long names: below the plot, not beside
    return theme.scale_fonts(fig, projector)


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
                                     fillcolor=theme.TREND_BAND, name="min–max", showlegend=row == 1),
                          row=row, col=1)  # fmt: skip
            fig.add_trace(go.Scatter(x=f["ts"], y=f["mean"], mode="lines", name=item.sensor, showlegend=False,
                                     line={"color": theme.TREND}), row=row, col=1)  # fmt: skip
        else:
            fig.add_trace(go.Scatter(x=f["ts"], y=f["value"], mode="lines", name=item.sensor, showlegend=False,
                                     line={"color": theme.TREND}), row=row, col=1)  # fmt: skip
        for value, label in ((item.spec.lsl, "LSL"), (item.spec.usl, "USL")):
            if value is not None:
                decor.hline(value, row, theme.SPEC, "dash", label, f"{label} {numbers.fmt_declared(value)}")
    decor.apply(fig)
    _state_strip(fig, segments, machine, rows)
    fig.update_yaxes(showticklabels=False, row=rows, col=1)
    fig.update_xaxes(type="date", range=[pd.Timestamp(t, unit="ms", tz="UTC") for t in span_ms])
    fig.update_layout(**theme.layout(projector, height=170 * len(items) + 140, barmode="overlay"))
    return theme.scale_fonts(fig, projector)


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


def pareto(table: pd.DataFrame, *, projector: bool, unit: tuple[str, float] = ("h", 1.0)) -> go.Figure:
    """Stop time by cause (in `unit`: name and factor from hours), largest first, with the cumulative share on the
    right axis."""
    name, factor = unit
    title = "minutes" if name == "min" else "hours"
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    colors = [theme.state_color(s) for s in table["state"]]
    fig.add_trace(
        go.Bar(x=table["cause"], y=table["hours"] * factor, marker={"color": colors}, name=title), secondary_y=False
    )
    fig.add_trace(
        go.Scatter(x=table["cause"], y=table["cumulative"] * 100, mode="lines+markers", name="cumulative %",
                   line={"color": "#555555"}),
        secondary_y=True,
    )  # fmt: skip
    fig.update_yaxes(title_text=title, secondary_y=False)
    fig.update_yaxes(title_text="cumulative %", range=[0, 105], tickvals=[0, 25, 50, 75, 100], secondary_y=True)
    fig.update_layout(**theme.layout(projector, height=380, title="Downtime by reason (Pareto)"))
    fig.update_layout(legend={"orientation": "h", "y": -0.2, "x": 0})  # not over the right-hand axis
    return theme.scale_fonts(fig, projector)


def oee_bars(table: pd.DataFrame, *, projector: bool) -> go.Figure:
    """Availability, performance, quality and OEE per machine (percent)."""
    fig = go.Figure()
    colors = {"availability": "#2f7ed8", "performance": "#e0a800", "quality": "#7b3fbf", "oee": "#2e9e44"}
    for column, color in colors.items():
        name = column.upper() if column == "oee" else column.title()
        fig.add_trace(go.Bar(x=table["name"], y=table[column] * 100, name=name, marker={"color": color}))
    fig.update_yaxes(title_text="%", range=[0, 105])
    fig.update_layout(**theme.layout(projector, height=360, barmode="group", title="OEE per machine"))
    return theme.scale_fonts(fig, projector)


def losses(table: pd.DataFrame, *, projector: bool, unit: tuple[str, float] = ("h", 1.0)) -> go.Figure:
    """The six big losses per machine, stacked (the table in hours, drawn in `unit`: name and factor)."""
    name, factor = unit
    fig = go.Figure()
    for column in [c for c in table.columns if c != "machine"]:
        color = theme.LOSS_COLORS.get(column)
        fig.add_trace(
            go.Bar(y=table["machine"], x=table[column] * factor, name=column, orientation="h", marker={"color": color})
        )
    fig.update_xaxes(title_text=f"{'minutes' if name == 'min' else 'hours'} lost")
    fig.update_layout(**theme.layout(projector, height=300, barmode="stack", title="Six big losses"))
    return theme.scale_fonts(fig, projector)
