"""Plant overview: every machine as a tile grouped by line; the tiles refresh themselves (no full-page rerun)."""

from __future__ import annotations

import streamlit as st

from dashboard import data, theme, tiles, timewin
from smartfactory.query.series import sensor_of

st.title("Plant overview")
TILES_PER_ROW = 4


def render_tile(tile: tiles.MachineTile) -> None:
    with st.container(border=True):
        st.subheader(tile.name, anchor=False)
        since = f" since {timewin.fmt_ms(tile.state_since_ms)[11:]}" if tile.state_since_ms else ""
        st.markdown(theme.state_badge(tile.state, tile.reason) + since)
        oee = "—" if tile.oee is None else f"{tile.oee * 100:.1f} %"
        st.metric("OEE (window)", oee, help="Availability × performance × quality over the sidebar's window.")
        columns = st.columns(2)
        for index, reading in enumerate(tile.readings):
            label = f":red[:material/warning:] {reading.sensor}" if reading.alarmed else reading.sensor
            columns[index % 2].metric(label, reading.text)
        if tile.alarms:
            names = ", ".join(f"{sensor_of(a.series)} ({'/'.join(a.rules)})" for a in tile.alarms)
            count = f"{len(tile.alarms)} active alarm{'s' * (len(tile.alarms) > 1)}"
            st.markdown(f":red-background[:material/notifications_active: **{count}**]: {names}")
        elif tile.readings:
            st.caption("no active alarms")


@st.fragment(run_every=data.settings().dashboard.refresh)
def overview() -> None:
    window = data.window()
    model = data.overview_tiles(window)
    if not model:
        st.info(data.EMPTY_HINT)
        return
    for line in model:
        st.header(f"Line {line.line}", divider="gray", anchor=False)
        per_row = min(TILES_PER_ROW, max(2, len(line.machines)))
        for start in range(0, len(line.machines), per_row):
            row = line.machines[start : start + per_row]
            for column, tile in zip(st.columns(per_row), row, strict=False):
                with column:
                    render_tile(tile)
    st.caption(f"Refreshes every {data.settings().dashboard.refresh:g} s · {window.describe()}")


overview()
