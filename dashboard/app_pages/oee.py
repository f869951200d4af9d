"""OEE: availability, performance, quality and OEE per machine and shift; downtime Pareto; the six big losses."""

from __future__ import annotations

import charts
import data
import oeeview
import sidebar
import streamlit as st

st.title("Overall equipment effectiveness")

window = data.window()
changes = data.states(window.since_ms, window.until_ms)
parts = data.parts(window.since_ms, window.until_ms)
if not changes and not parts:
    st.info(
        "No machine states or part results in this window. Simulated machines publish both while they run "
        f"(`smartfactory demo`); or choose a longer window in the sidebar ({window.describe()})."
    )
    st.stop()

plant = data.plant()
cycles, estimated = data.ideal_cycles(parts)
calendars = {"three 8-hour shifts (UTC)": oeeview.THREE_SHIFTS, "none (whole window only)": None}
if plant.calendar is not None:
    calendars = {"plant calendar": plant.calendar, **calendars}
shift_choice = st.radio("Shifts", list(calendars), horizontal=True, key="oee_calendar")
calendar = calendars[shift_choice]

ivs = oeeview.intervals(changes, window.until_ms)
events = oeeview.part_events(parts)
missing = [m for m in oeeview.machines_of(ivs, events) if m not in cycles]
report = oeeview.compute(ivs, events, cycles, window.since_ms, window.until_ms, calendar, plant.oee)
if missing:
    st.warning(
        f"No ideal cycle time for {', '.join(oeeview.short(m) for m in missing)}: set `ideal_cycle_s` for it in "
        f"the plant file (with {oeeview.MIN_PARTS_FOR_ESTIMATE} parts in the window the dashboard estimates one)."
    )
if report is None:
    st.stop()

table = oeeview.report_table(report)
whole = table[table["shift"] == "whole window"]
plant_row = whole[whole["level"] == "plant"].iloc[0]
cols = st.columns(4)
for column, key, label in zip(
    cols,
    ("availability", "performance", "quality", "oee"),
    ("Availability", "Performance", "Quality", "OEE"),
    strict=True,
):
    value = plant_row[key]
    column.metric(f"{label} (plant)", "—" if value is None or value != value else f"{value * 100:.1f} %")

percent = {
    k: st.column_config.NumberColumn(k, format="percent") for k in ("availability", "performance", "quality", "oee")
}
machines = whole[whole["level"] == "machine"]
st.plotly_chart(charts.oee_bars(machines.fillna(0.0), projector=sidebar.projector()), key="oee_bars")
st.subheader("Machines, lines and plant", anchor=False)
st.dataframe(whole.drop(columns=["shift"]), hide_index=True, column_config=percent, key="oee_table")
notes = [window.describe()]
if estimated:
    notes.append(
        "ideal cycle time estimated from the parts (10th percentile of the gaps) for "
        + ", ".join(f"{oeeview.short(m)} ({cycles[m]:.3g} s)" for m in sorted(estimated))
        + ": set ideal_cycle_s in the plant file for the rated value"
    )
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
    pareto = oeeview.downtime_pareto(ivs, window.since_ms, window.until_ms)
    if pareto.empty:
        st.success("No downtime in the window: every machine ran (or was in planned downtime).")
    else:
        st.plotly_chart(charts.pareto(pareto, projector=sidebar.projector()), key="oee_pareto")
        st.dataframe(pareto, hide_index=True, key="oee_pareto_table", column_config={
            "share": st.column_config.NumberColumn("share", format="percent"),
            "cumulative": st.column_config.NumberColumn("cumulative", format="percent"),
        })  # fmt: skip
with right:
    losses = oeeview.losses_table(report)
    if not losses.empty:
        st.plotly_chart(charts.losses(losses, projector=sidebar.projector()), key="oee_losses")
