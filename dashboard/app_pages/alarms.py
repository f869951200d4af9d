"""Alarms: active and past SPC alarms, filters, acknowledgement over MQTT, and the detection report."""

from __future__ import annotations

import streamlit as st

from dashboard import alarmview, classgate, data
from smartfactory.errors import BrokerError
from smartfactory.model import Alarm
from smartfactory.query.detection import Span, detection_report
from smartfactory.query.series import machine_of, sensor_of, series_label, short

st.title("Alarms")
MAX_ACK_ROWS = 20
NO_ALARMS = (
    "No alarms yet. The SPC monitor raises one when a series breaks a run rule; to see one, inject a fault, e.g. "
    "`smartfactory inject acme/plant1/machining/line-1/cnc-01 shift --sensor spindle_temp --param size=5`."
)


def alarm_table(alarms: list[Alarm], key: str, *, active: bool = False) -> None:
    """Alarms as text cells (`alarmview.table`) in a table whose cells wrap, so a long message is read whole (a
    dataframe cuts it at the column's edge). Beyond `alarmview.TABLE_ROWS` alarms the newest are tabled and
    every one is in a sortable dataframe below (its message column as wide as the longest message)."""
    frame = alarmview.table(alarms, data.decimals_of())
    if active:
        frame = frame.drop(columns=["cleared (UTC)"])  # an active alarm has not cleared
    st.table(frame.head(alarmview.TABLE_ROWS).set_index("raised (UTC)"))
    if len(frame) > alarmview.TABLE_ROWS:
        with st.expander(f"All {len(frame):,} alarms (sortable; hover a message to read it whole)"):
            width = alarmview.message_width(frame)
            columns = {alarmview.MESSAGE: st.column_config.TextColumn(width=width)}
            st.dataframe(frame, hide_index=True, column_config=columns, key=key)


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
    alarm_table(shown, "active_table", active=True)
    waiting = sorted((x for x in shown if x.acked_ms is None), key=lambda x: x.ts_ms, reverse=True)
    if not waiting:
        st.caption("Every active alarm is acknowledged; each clears once its series is back in control.")
        return
    st.subheader(f"Acknowledge ({len(waiting)} waiting)", anchor=False)
    signed_in = classgate.member() if classgate.enabled() else None
    if signed_in is not None:  # classroom mode: the acknowledgement carries who signed in, not a typed name
        by = signed_in.username
        st.caption(f"Acknowledged as **{by}** (signed in).")
    else:
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
    past = [x for x in everything if not x.active and window.since_ms <= x.ts_ms < window.until_ms and filters.keep(x)]
    st.header(f"Past alarms in the window ({len(past)})", anchor=False)
    if past:
        alarm_table(past, "past_table")
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
    # the page's window, for the faults and the alarms alike (as `smartfactory report detection --since/--until`)
    in_window = [e for e in events if window.since_ms <= e.ts_ms < window.until_ms]
    raised = [a for a in everything if window.since_ms <= a.ts_ms < window.until_ms]
    oldest = data.oldest_ms()
    span = Span(max(window.since_ms, oldest or window.since_ms), window.until_ms)
    report = detection_report(in_window, raised, grace_ms=int(grace_s) * 1000, span=span)
    m = st.columns(5)
    m[0].metric("Faults", len(report.detections))
    m[1].metric("Detected", report.detected)
    m[2].metric("Missed", report.missed)
    delay = report.median_delay_ms
    m[3].metric("Median delay", "—" if delay is None else f"{delay / 1000:.1f} s")
    rate = report.false_alarms_per_hour
    m[4].metric(
        "False alarms",
        f"{len(report.false_alarms):,}",
        None if rate is None else f"{rate:.1f} per h",
        delta_color="off",
        delta_arrow="off",
        help="Alarms raised in the window outside every fault episode.",
    )
    credited = sum(d.alarms_during for d in report.detections)
    st.caption(
        f"{len(raised):,} alarms raised in the window ({window.describe()}): {credited:,} during a fault on a "
        f"signal it affects, {len(report.false_alarms):,} false. The same pairing as `smartfactory report "
        "detection` over the same window."
    )
    if report.detections:
        st.dataframe(alarmview.detection_table(report), hide_index=True, key="detection_table")
    else:
        st.caption("No fault started in this window; choose a longer window in the sidebar.")
