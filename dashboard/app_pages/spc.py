"""SPC: an individuals control chart of one series with its limits and rule violations."""

from __future__ import annotations

import data
import plotly.graph_objects as go
import streamlit as st

from smartfactory.spc import imr

st.title("Statistical process control")

series = [s.series for s in data.series_list()]
if not series:
    st.info(data.EMPTY_HINT)
    st.stop()

choice = st.selectbox("Series", series)
points = st.slider("Points", min_value=50, max_value=5000, value=500, step=50)
phase1 = st.number_input("Phase I points (limits learned from these)", min_value=10, value=50, step=10)


@st.fragment(run_every=data.settings().dashboard.refresh)
def chart() -> None:
    frame = data.recent(choice, points)
    if len(frame) < max(int(phase1), 10):
        st.info(f"{len(frame)} points so far; the chart needs {int(phase1)} to learn its limits.")
        return
    result = imr(frame["value"].to_numpy(), phase1=int(phase1), rules=["WE1"]).main
    violating = [i for i, rules in enumerate(result.rules) if rules]
    figure = go.Figure()
    figure.add_scatter(x=frame["ts"], y=frame["value"], mode="lines+markers", name="value", marker={"size": 4})
    for value, name, dash in (
        (result.ucl, "UCL", "dash"),
        (result.center, "CL", "solid"),
        (result.lcl, "LCL", "dash"),
    ):
        figure.add_hline(y=float(value), line_dash=dash, annotation_text=f"{name} {float(value):.4g}")
    figure.add_scatter(
        x=frame["ts"].iloc[violating],
        y=frame["value"].iloc[violating],
        mode="markers",
        name="rule 1 violation",
        marker={"color": "red", "size": 10, "symbol": "x"},
    )
    figure.update_layout(height=480, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    st.plotly_chart(figure, width="stretch")
    st.metric("Points beyond the 3σ limits (rule 1)", len(violating))


chart()
