"""OEE: availability, performance, quality and OEE per machine and shift; downtime Pareto; the six big losses.

The figures come from `smartfactory.query.oee` (through `data.oee`), the read path of `smartfactory oee`.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, data, oeeview, sidebar
from smartfactory import query

st.title("Overall equipment effectiveness")

window = data.window()
states = data.oee_window(window.since_ms, window.until_ms)
parts = data.parts(window.since_ms, window.until_ms)
if states is None and not parts:
    st.info(
        "No machine states or part results in this window. Simulated machines publish both while they run "
        f"(`smartfactory demo`); or choose a longer window in the sidebar ({window.describe()})."
    )
    st.stop()

plant = data.plant()
choices = oeeview.calendar_choices(plant.calendar)
shift_choice = st.radio("Shifts", choices, horizontal=True, key="oee_calendar") if len(choices) > 1 else choices[0]
result = data.oee(window.since_ms, window.until_ms, shift_choice)
if not isinstance(result, query.StoredOee):
    st.warning(f"No OEE for this window: {result}")
    st.stop()
if result.excluded:
    st.warning(oeeview.excluded_warning(result.excluded, query.OeeInputs.from_plant_info(plant).plant_source))

table = oeeview.report_table(result.report)
whole = oeeview.whole_window(table)
for column, (label, value) in zip(st.columns(4), oeeview.plant_metrics(table).items(), strict=True):
    column.metric(label, value)

percent = {k: st.column_config.NumberColumn(k, format="percent") for k in oeeview.RATIOS}
machines = whole[whole["level"] == "machine"]
st.plotly_chart(charts.oee_bars(machines.fillna(0.0), projector=sidebar.projector()), key="oee_bars")
st.subheader("Machines, lines and plant", anchor=False)
st.dataframe(whole.drop(columns=["shift"]), hide_index=True, column_config=percent, key="oee_table")
notes = [window.describe(), f"plant {result.report.plant.name}", *plant.problems]
if table["perf_capped"].any():
    notes.append("performance above 100 % was capped (the ideal cycle time is set too slow)")
st.caption(" · ".join(notes))

shifts = table[(table["shift"] != "whole window") & (table["level"] == "machine")]
if not shifts.empty:
    st.subheader("Per shift", anchor=False)
    pivot = shifts.pivot_table(index="name", columns="shift", values="oee", aggfunc="first", sort=False)
    shift_cols = {c: st.column_config.NumberColumn(c, format="percent") for c in pivot.columns}
    st.dataframe(pivot, column_config=shift_cols, key="oee_shifts")
    with st.expander("All per-shift figures"):
        st.dataframe(
            table[table["shift"] != "whole window"], hide_index=True, column_config=percent, key="oee_shift_rows"
        )

left, right = st.columns(2)
with left:
    pareto = oeeview.downtime_pareto(result.window.intervals, window.since_ms, window.until_ms)
    if pareto.empty:
        st.success("No downtime in the window: every machine ran (or was in planned downtime).")
    else:
        st.plotly_chart(charts.pareto(pareto, projector=sidebar.projector()), key="oee_pareto")
        st.dataframe(pareto, hide_index=True, key="oee_pareto_table", column_config={
            "share": st.column_config.NumberColumn("share", format="percent"),
            "cumulative": st.column_config.NumberColumn("cumulative", format="percent"),
        })  # fmt: skip
with right:
    losses = oeeview.losses_table(result.report)
    if not losses.empty:
        st.plotly_chart(charts.losses(losses, projector=sidebar.projector()), key="oee_losses")
