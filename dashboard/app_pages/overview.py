"""Plant overview: the plant's alarm rate against its budget, and every machine as a tile grouped by line; the
tiles refresh themselves (no full-page rerun)."""

from __future__ import annotations

import streamlit as st

from dashboard import data, theme, tiles, timewin
from smartfactory.query.series import sensor_of

st.title("Plant overview")


def render_tile(tile: tiles.MachineTile) -> None:
    with st.container(border=True):
        st.subheader(tile.name, anchor=False)
        since = f" since {timewin.fmt_ms(tile.state_since_ms)[11:]}" if tile.state_since_ms else ""
        st.markdown(theme.state_badge(tile.state, tile.reason) + since)
        oee = "—" if tile.oee is None else f"{tile.oee * 100:.1f} %"
        st.metric("OEE (window)", oee, help="Availability × performance × quality over the sidebar's window.")
        if tile.readings:
            st.html(tiles.readings_html(tile.readings))
        if tile.alarms:
            names = ", ".join(f"{sensor_of(a.series)} ({'/'.join(a.rules)})" for a in tile.alarms)
            count = f"{len(tile.alarms)} active alarm{'s' * (len(tile.alarms) > 1)}"
            st.markdown(f":red-background[:material/notifications_active: **{count}**]: {names}")
        elif tile.readings:
            st.caption("no active alarms")


def render_alarm_rate(rate: tiles.AlarmRate) -> None:
    """Alarms per hour over the window beside the budget: the lecture's first question, is SPC quiet enough?"""
    left, middle, right = st.columns(3)
    per_hour = rate.per_hour
    over = None if per_hour is None else per_hour - rate.budget_per_hour
    left.metric(
        "Alarm rate (window)",
        "—" if per_hour is None else f"{per_hour:.1f} / h",
        None if over is None else ("over the budget" if over > 0 else "within the budget"),
        delta_color="inverse" if over is not None and over > 0 else "normal",
        delta_arrow="off",
        help="SPC alarms raised in the sidebar's window per hour of it (the rate `smartfactory report detection` "
        "prints). In control the plant should stay within its budget; each alarm above it costs attention.",
    )
    middle.metric(
        "Alarm budget",
        f"{rate.budget_per_hour:.1f} / h",
        help="The false-alarm rate the live monitor is designed for (setting spc.budget_per_hour).",
    )
    right.metric("Alarms raised (window)", f"{rate.count:,}")


@st.fragment(run_every=data.settings().dashboard.refresh)
def overview() -> None:
    window = data.window()
    model = data.overview_tiles(window)
    if not model:
        st.info(data.EMPTY_HINT)
        return
    render_alarm_rate(data.alarm_rate(window))
    for index, line in enumerate(model):
        st.header(f"Line {line.line}", divider="gray", anchor=False)
        # one container per line, laid out by the page's style sheet as a grid of as many tiles as fit the width
        with st.container(key=f"{theme.TILES_KEY}{index}"):
            for tile in line.machines:
                render_tile(tile)
    st.caption(f"Refreshes every {data.settings().dashboard.refresh:g} s · {window.describe()}")


overview()
