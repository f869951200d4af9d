"""Machine: every sensor of one machine over the window (with spec limits where known) and its state strip."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, machineview, oeeview, sidebar
from smartfactory.query.series import line_of, series_of_machine, short

st.title("Machine")

window = data.window()
groups = data.machines(window)
if not groups:
    st.info(data.EMPTY_HINT)
    st.stop()

options = [machine for members in groups.values() for machine in members]
machine = st.selectbox(
    "Machine",
    options,
    format_func=lambda m: f"{line_of(m)} · {short(m)}",
    key="machine",
    bind="query-params",
)
assert machine is not None  # a selectbox with options and no placeholder always has a value
sensors = series_of_machine(data.series_list(), machine)
chosen = st.multiselect(
    "Sensors", [s.sensor for s in sensors], default=[s.sensor for s in sensors], key=f"sensors|{machine}"
)
plant = data.plant()
items: list[charts.Trend] = []
for info in sensors:
    if info.sensor not in chosen:
        continue
    frame, aggregated = data.trend(info.series, window.since_ms, window.until_ms)
    if not frame.empty:
        items.append(charts.Trend(info.sensor, info.unit, frame, aggregated, plant.spec_for_series(info.series)))

parts = data.parts(window.since_ms, window.until_ms, machine)
sensor_names = {s.sensor for s in sensors}
for name, frame in machineview.part_measurements(parts).items():
    if name in sensor_names:
        continue  # the simulator also publishes this characteristic as a series: drawn above already
    items.append(charts.Trend(f"part {name}", None, frame, False, plant.spec_for_part(machine, name)))

states = data.oee_window(window.since_ms, window.until_ms)
intervals = [iv for iv in states.intervals if iv.machine == machine] if states is not None else []
segments = oeeview.segments(intervals, window.since_ms, window.until_ms)

if not items and segments.empty:
    st.info(
        f"No readings, parts or states of {short(machine)} in this window ({window.describe()}). "
        "Choose a longer time window in the sidebar."
    )
    st.stop()

span = (window.since_ms, window.until_ms)
st.plotly_chart(charts.trends(items, segments, machine, span, projector=sidebar.projector()), key="machine_trends")
notes = [window.describe()]
if any(item.aggregated for item in items):
    notes.append(
        f"long range: each point is the store's mean over a bucket of the window ({data.TREND_POINTS} buckets), "
        "the band its min–max"
    )
if not any(item.spec.known for item in items):
    notes.append("no spec limits known for these sensors (the machine announced none in its birth message)")
st.caption(" · ".join(notes))

left, right = st.columns(2)
with left:
    st.subheader("Time in each state", anchor=False)
    if segments.empty:
        st.caption("No state reports from this machine in the window.")
    else:
        st.dataframe(
            machineview.state_minutes(segments),
            hide_index=True,
            key="machine_states",
            column_config={"minutes": st.column_config.NumberColumn(format="%.1f")},
        )
with right:
    st.subheader("Parts", anchor=False)
    if not parts:
        st.caption("No part results from this machine in the window.")
    else:
        good = sum(p.good for p in parts)
        a, b = st.columns(2)
        a.metric("Parts made", f"{len(parts):,}")
        b.metric("Scrap", f"{len(parts) - good:,}", help=f"{(len(parts) - good) / len(parts) * 100:.1f} % of the parts")
