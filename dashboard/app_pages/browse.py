"""Data: browse any series over any range and download it as CSV; the rejected messages (dead letters)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard import csvexport, data, numbers, timewin
from dashboard.seriespick import pick_series
from smartfactory.query.series import series_label

st.title("Data")
MAX_ROWS = 500_000
PREVIEW_ROWS = 1000
AGG_BUCKETS = 1000

infos = data.series_list()
if not infos:
    st.info(data.EMPTY_HINT)
    st.stop()

by_name = {s.series: s for s in infos}
picked = pick_series(list(by_name), key="data_series", format_func=series_label, bind_query_params=True)
assert picked is not None  # there are series
series = picked
unit = by_name[series].unit
window = data.window()
a, b = st.columns(2)
span = a.radio("Range", ["sidebar window", "custom range"], horizontal=True, key="data_range")
resolution = b.radio(
    "Resolution", ["raw readings", f"aggregated ({AGG_BUCKETS} buckets)"], horizontal=True, key="data_res"
)
if span == "custom range":
    end = datetime.fromtimestamp(window.until_ms / 1000, UTC)
    start = end - timedelta(hours=1)
    c1, c2, c3, c4 = st.columns(4)
    d0 = c1.date_input("From (UTC)", start.date(), key="data_d0")
    t0 = c2.time_input("at", start.time().replace(microsecond=0), key="data_t0", step=60)
    d1 = c3.date_input("To (UTC)", end.date(), key="data_d1")
    t1 = c4.time_input("at ", end.time().replace(microsecond=0), key="data_t1", step=60)
    if not (isinstance(d0, date) and isinstance(d1, date) and isinstance(t0, time) and isinstance(t1, time)):
        st.info("Pick a start and an end.")
        st.stop()

    def ms(day: date, moment: time) -> int:
        return int(datetime.combine(day, moment, UTC).timestamp() * 1000)

    try:
        chosen = timewin.custom(ms(d0, t0), ms(d1, t1) + 1)
    except ValueError as exc:
        st.warning(f"{exc}: pick an end after the start.")
        st.stop()
else:
    chosen = window

if resolution == "raw readings":
    frame = data.readings(series, chosen.since_ms, chosen.until_ms, MAX_ROWS)
    aggregated = False
else:
    frame = data.store().read_aggregates(series, chosen.since_ms, chosen.until_ms, AGG_BUCKETS)
    aggregated = True

st.caption(chosen.describe())
if frame.empty:
    st.info("No readings of this series in the range; choose a longer window or another series.")
    st.stop()

decimals = data.decimals(series)  # declared by the machine, else from its spec width (numbers.resolution)
m = st.columns(4)
m[0].metric("Rows", f"{len(frame):,}")
low, high = (frame["min"], frame["max"]) if aggregated else (frame["value"], frame["value"])
mean = frame["mean"] if aggregated else frame["value"]
m[1].metric("Min", numbers.fmt(float(low.min()), decimals, unit))
m[2].metric("Mean", numbers.fmt_stat(float(mean.mean()), decimals, unit), help="One decimal more than the readings.")
m[3].metric("Max", numbers.fmt(float(high.max()), decimals, unit))
if not aggregated and len(frame) >= MAX_ROWS:
    st.warning(
        f"Only the most recent {MAX_ROWS:,} readings of the range are shown and downloaded; for everything use "
        f"`smartfactory export --since … --until … --machine … --sensor {by_name[series].sensor}`."
    )
value = st.column_config.NumberColumn(format=numbers.printf(decimals))
stat = st.column_config.NumberColumn(format=numbers.printf(numbers.statistic_decimals(decimals)))
st.dataframe(
    frame.tail(PREVIEW_ROWS),
    hide_index=True,
    key="data_preview",
    column_config={"value": value, "min": value, "max": value, "mean": stat},
)
if len(frame) > PREVIEW_ROWS:
    st.caption(f"Preview: the last {PREVIEW_ROWS:,} of {len(frame):,} rows; the download has all of them.")

name = f"{series.replace('/', '_')}_{chosen.since_ms}_{chosen.until_ms}{'_agg' if aggregated else ''}.csv"
st.download_button(
    "Download CSV",
    data=(lambda: csvexport.aggregates_csv(frame, series, unit))
    if aggregated
    else (lambda: csvexport.readings_csv(frame, series, unit)),
    file_name=name,
    mime="text/csv",
    icon="⬇️",
    key="data_download",
)

with st.expander("Rejected messages (dead letters) in the window"):
    letters = data.deadletters(window.since_ms)
    if not letters:
        st.caption("None: every message in the window was valid.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "received (UTC)": [pd.Timestamp(d.received_ms, unit="ms", tz="UTC") for d in letters],
                    "topic": [d.topic for d in letters],
                    "reason": [d.reason for d in letters],
                    "detail": [d.detail for d in letters],
                    "payload": [d.payload[:120].decode("utf-8", "replace") for d in letters],
                }
            ),
            hide_index=True,
            key="data_deadletters",
        )
