"""A student's own plant (classroom mode): the machines below their namespace, their alarms and trends."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import alarmview, classdata, classgate, classview, data, tiles, timewin
from dashboard.seriespick import pick_series
from smartfactory.query.series import sensor_of, short, split_series

me = classgate.require("student")
st.title(f"My plant: {me.namespace}")


def render_tile(tile: tiles.MachineTile) -> None:
    with st.container(border=True):
        st.subheader(tile.name, anchor=False)
        state = tile.state or "unknown"
        st.markdown(f"**{state}**" + (f" ({tile.reason})" if tile.reason else ""))
        st.metric("OEE (window)", "—" if tile.oee is None else f"{tile.oee * 100:.1f} %")
        if tile.readings:
            st.html(tiles.readings_html(tile.readings))
        if tile.alarms:
            names = ", ".join(f"{sensor_of(a.series)} ({'/'.join(a.rules)})" for a in tile.alarms)
            st.markdown(f":red-background[**{len(tile.alarms)} active**]: {names}")


@st.fragment(run_every=data.settings().dashboard.refresh)
def plant() -> None:
    window = data.window()
    lines = classview.own_lines(classdata.my_tiles(window, me.namespace), me)
    if not lines:
        st.info(f"No data from {me.namespace} yet: is your plant running?")
        return
    for line in lines:
        st.header(f"Line {line.line}", divider="gray", anchor=False)
        columns = st.columns(max(1, len(line.machines)))
        for column, tile in zip(columns, line.machines, strict=True):
            with column:
                render_tile(tile)
    mine = [a for a in data.alarms(since_ms=window.since_ms) if me.sees(a.series)]
    st.header("My alarms (window)", divider="gray", anchor=False)
    if mine:
        st.dataframe(alarmview.table(mine, data.decimals_of()), hide_index=True)
    else:
        st.caption("no alarms in this window")
    st.caption(f"Refreshes every {data.settings().dashboard.refresh:g} s · {window.describe()}")


def trend() -> None:
    window = data.window()
    series = classview.own([s.series for s in data.series_list()], me)
    if not series:
        return
    st.header("Trend", divider="gray", anchor=False)
    labels = {s: f"{short(split_series(s).machine)} / {sensor_of(s)}" for s in series}
    chosen = pick_series(series, format_func=labels.__getitem__, key="my_plant_series")
    if chosen is None or window.until_ms <= window.since_ms:
        return
    frame, aggregated = data.trend(chosen, window.since_ms, window.until_ms)
    if frame.empty:
        st.caption("no readings in this window")
        return
    column = "mean" if aggregated else "value"
    chart = pd.DataFrame({"ts": frame["ts"], labels[chosen]: frame[column]}).set_index("ts")
    st.line_chart(chart)
    st.caption(f"{len(frame):,} {'buckets' if aggregated else 'readings'} · {timewin.fmt_ms(window.until_ms)} UTC end")


plant()
trend()
