"""Plotly figures of control charts (shared by the CLI's ``--plot`` and the dashboard).

Builds figures only; writing them (HTML, PNG) is the caller's business. plotly is imported lazily so the
numerical core never needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from smartfactory.spc.chart import ChartPair, ControlChart

_TITLES = {
    "i": "Individuals",
    "mr": "Moving range",
    "xbar": "X̄",
    "r": "Range",
    "s": "Standard deviation",
    "p": "Proportion nonconforming (p)",
    "np": "Number nonconforming (np)",
    "c": "Nonconformities (c)",
    "u": "Nonconformities per unit (u)",
    "ewma": "EWMA",
    "cusum": "CUSUM (standard errors)",
}


def _line(go: Any, x: Any, y: Any, **style: Any) -> Any:
    return go.Scatter(x=x, y=np.broadcast_to(y, x.shape), mode="lines", showlegend=False, line=style)


def _add_chart(fig: Any, go: Any, chart: ControlChart, row: int) -> None:
    x = np.arange(1, chart.n + 1)
    traces: list[Any] = []
    limit_style = {"dash": "dash", "color": "red", "shape": "hvh"}
    if chart.chart == "cusum" and chart.upper is not None and chart.lower is not None:
        traces.append(go.Scatter(x=x, y=chart.upper, mode="lines+markers", name="C⁺"))
        traces.append(go.Scatter(x=x, y=chart.lower, mode="lines+markers", name="−C⁻"))
    else:
        name = _TITLES.get(chart.chart, chart.chart)
        traces.append(go.Scatter(x=x, y=chart.statistics, mode="lines+markers", name=name))
        traces.append(_line(go, x, chart.center_line, color="green"))
        if chart.chart != "ewma":
            z = chart.zones
            zone_style = {"dash": "dot", "color": "lightgray", "shape": "hvh"}
            traces.extend(_line(go, x, y, **zone_style) for y in (z.lo1, z.hi1, z.lo2, z.hi2))
    traces.extend(_line(go, x, y, **limit_style) for y in (chart.lcl_line, chart.ucl_line))
    flagged = chart.flags.any() if chart.signal is None else chart.signal
    if flagged.any():
        idx = np.flatnonzero(flagged)
        y = chart.upper if chart.chart == "cusum" and chart.upper is not None else chart.statistics
        labels = [", ".join(chart.rules[i]) or "signal" for i in idx]
        marker = {"color": "red", "size": 10}
        traces.append(go.Scatter(x=idx + 1, y=y[idx], mode="markers", marker=marker, text=labels, name="alarm"))
    for trace in traces:
        fig.add_trace(trace, row=row, col=1)
    if 0 < chart.n_phase1 < chart.n:
        fig.add_vline(x=chart.n_phase1 + 0.5, line_dash="dot", row=row, col=1)


def figure(result: ChartPair | ControlChart, title: str = "") -> Any:
    """A plotly ``Figure``: one panel per chart (two for I-MR, X̄-R, X̄-S)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    charts = [result.main, result.companion] if isinstance(result, ChartPair) else [result]
    fig = make_subplots(rows=len(charts), cols=1, subplot_titles=[_TITLES.get(c.chart, c.chart) for c in charts])
    for row, chart in enumerate(charts, start=1):
        _add_chart(fig, go, chart, row)
    fig.update_layout(title=title, height=380 * len(charts), template="plotly_white")
    return fig
