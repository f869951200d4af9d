"""Alarms: active and past SPC alarms, filters, acknowledgement over MQTT, and the detection report."""

from __future__ import annotations

import streamlit as st

from dashboard import alarmview, data
from smartfactory.errors import BrokerError
from smartfactory.model import Alarm
from smartfactory.query.detection import detection_report
from smartfactory.query.series import machine_of, sensor_of, series_label, short

st.title("Alarms")
MAX_ACK_ROWS = 20
NO_ALARMS = (
    "No alarms yet. The SPC monitor raises one when a series breaks a run rule; to see one, inject a fault, e.g. "
    "`smartfactory inject acme/plant1/machining/line-1/cnc-01 shift --sensor spindle_temp --param size=5`."
)

TIME = "YYYY-MM-DD HH:mm:ss"
COLUMNS = {
    "raised (UTC)": st.column_config.DatetimeColumn(format=TIME),
    "cleared (UTC)": st.column_config.DatetimeColumn(format=TIME),
    "started (UTC)": st.column_config.DatetimeColumn(format=TIME),
    "repaired (UTC)": st.column_config.DatetimeColumn(format=TIME),
    "value": st.column_config.NumberColumn(format="%.4g"),
    "delay (s)": st.column_config.NumberColumn(format="%.1f"),
}

window = data.window()
everything = data.alarms(active_only=False)
lines, machines, rule_ids = alarmview.options(everything)
a, b, c = st.columns(3)
filters = alarmview.Filters(
    tuple(a.multiselect("Line", lines, key="alarm_lines")),
    tuple(b.multiselect("Machine", machines, format_func=short, key="alarm_machines")),
    tuple(c.multiselect("Rule", rule_ids, key="alarm_rules")),
)


def acknowledge(alarms: list[Alarm], by: str) -> None:
    try:
        sent = data.broker().acknowledge(alarms, by)
    except BrokerError as exc:
        st.error(str(exc))
        return
    data.refresh_alarms()
    st.success(f"Sent {sent} acknowledgement(s) as {by!r}; they show here once ingestion has stored them.")


@st.fragment(run_every=data.settings().dashboard.refresh)
def active_alarms() -> None:
    shown = [x for x in data.alarms(active_only=True) if filters.keep(x)]
    st.header(f"Active alarms ({len(shown)})", anchor=False)
    if not shown:
        st.success(
            "No active alarms"
            + (" matching the filters." if any((filters.lines, filters.machines, filters.rules)) else ".")
        )
        return
    st.dataframe(alarmview.table(shown), hide_index=True, column_config=COLUMNS, key="active_table")
    waiting = sorted((x for x in shown if x.acked_ms is None), key=lambda x: x.ts_ms, reverse=True)
    if not waiting:
        st.caption("Every active alarm is acknowledged; each clears once its series is back in control.")
        return
    st.subheader(f"Acknowledge ({len(waiting)} waiting)", anchor=False)
    by = st.text_input("Acknowledged by", value="dashboard", max_chars=100, key="ack_by") or "dashboard"
    if len(waiting) > 1 and st.button(f"Acknowledge all {len(waiting)}", key="ack_all"):
        acknowledge(waiting, by)
    for alarm in waiting[:MAX_ACK_ROWS]:
        row = st.columns([2, 3, 1, 1])
        row[0].markdown(f"**{short(machine_of(alarm.series))}** · {sensor_of(alarm.series)}")
        row[1].caption(alarm.message or ", ".join(alarm.rules))
        row[2].page_link(
            "app_pages/spc.py",
            label="SPC chart",
            icon=":material/monitoring:",
            query_params={"series": series_label(alarm.series)},
        )
        if row[3].button("Acknowledge", key=f"ack|{alarm.alarm_id}"):
            acknowledge([alarm], by)
    if len(waiting) > MAX_ACK_ROWS:
        st.caption(f"… and {len(waiting) - MAX_ACK_ROWS} more (use the filters or “Acknowledge all”).")


if not everything:
    st.info(NO_ALARMS)
else:
    active_alarms()
    past = [x for x in everything if not x.active and x.ts_ms >= window.since_ms and filters.keep(x)]
    st.header(f"Past alarms in the window ({len(past)})", anchor=False)
    if past:
        st.dataframe(alarmview.table(past), hide_index=True, column_config=COLUMNS, key="past_table")
    else:
        st.caption(f"No cleared alarms in the window ({window.describe()}).")

st.header("Detection report", anchor=False)
events = data.events()
if not any(e.kind == "fault" for e in events):
    st.info(
        "No ground-truth faults recorded. Run a scenario (`smartfactory demo --scenario NAME`) or inject a fault "
        "(`smartfactory inject MACHINE shift --sensor SENSOR --param size=3`): the simulator publishes every fault "
        "and repair as a ground-truth event, and this report pairs them with the alarms SPC raised."
    )
else:
    grace_s = st.number_input("Count alarms up to this many seconds after a repair", 0, 3600, 0, key="grace_s")
    report = detection_report(events, everything, grace_ms=int(grace_s) * 1000)
    m = st.columns(5)
    m[0].metric("Faults", len(report.detections))
    m[1].metric("Detected", report.detected)
    m[2].metric("Missed", report.missed)
    delay = report.median_delay_ms
    m[3].metric("Median delay", "—" if delay is None else f"{delay / 1000:.1f} s")
    m[4].metric("False alarms", len(report.false_alarms), help="Alarms raised outside every fault episode.")
    st.dataframe(alarmview.detection_table(report), hide_index=True, column_config=COLUMNS, key="detection_table")
