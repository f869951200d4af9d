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

machines = whole[whole["level"] == "machine"]
st.plotly_chart(charts.oee_bars(machines.fillna(0.0), projector=sidebar.projector()), key="oee_bars")
st.subheader("Machines, lines and plant", anchor=False)
st.dataframe(oeeview.display_table(whole), hide_index=True, key="oee_table")
notes = [window.describe(), f"plant {result.report.plant.name}", *plant.problems]
if table["perf_capped"].any():
    notes.append("performance above 100 % was capped (the ideal cycle time is set too slow)")
if whole[list(oeeview.RATIOS)].isna().any().any():
    notes.append("— : no figure (no planned time, or no parts made)")
st.caption(" · ".join(notes))

per_shift = table[table["shift"] != "whole window"]
if not per_shift[per_shift["level"] == "machine"].empty:
    st.subheader("OEE per shift", anchor=False)
    st.dataframe(oeeview.shift_pivot(table), key="oee_shifts")
    with st.expander("All per-shift figures"):
        st.dataframe(oeeview.display_table(per_shift, shifts=True), hide_index=True, key="oee_shift_rows")

left, right = st.columns(2)
with left:
    pareto = oeeview.downtime_pareto(result.window.intervals, window.since_ms, window.until_ms)
    if pareto.empty:
        st.success("No downtime in the window: every machine ran (or was in planned downtime).")
    else:
        shown, unit = oeeview.pareto_display(pareto)
        st.plotly_chart(charts.pareto(pareto, projector=sidebar.projector(), unit=unit), key="oee_pareto")
        st.dataframe(shown, hide_index=True, key="oee_pareto_table", column_config={
            f"Time ({unit[0]})": st.column_config.NumberColumn(format="%.1f"),
            "Share": st.column_config.NumberColumn(format="percent"),
            "Cumulative": st.column_config.NumberColumn(format="percent"),
        })  # fmt: skip
with right:
    losses = oeeview.losses_table(result.report)
    if not losses.empty:
        unit = oeeview.losses_unit(losses)
        st.plotly_chart(charts.losses(losses, projector=sidebar.projector(), unit=unit), key="oee_losses")
