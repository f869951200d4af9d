"""Plant overview: the latest value of every sensor, grouped by machine, refreshing on its own."""

from __future__ import annotations

import data
import streamlit as st

from smartfactory.wire import series_path

st.title("Plant overview")


@st.fragment(run_every=data.settings().dashboard.refresh)
def tiles() -> None:
    latest = data.latest()
    if latest.empty:
        st.info(data.EMPTY_HINT)
        return
    active = {a.series for a in data.alarms(active_only=True)}
    latest = latest.assign(
        machine=[str(series_path(s)[0]) for s in latest["series"]],
        sensor=[series_path(s)[1] for s in latest["series"]],
    )
    for machine, rows in latest.groupby("machine", sort=True):
        with st.container(border=True):
            st.subheader(str(machine).rsplit("/", 1)[-1])
            st.caption(str(machine))
            columns = st.columns(max(1, len(rows)))
            for column, row in zip(columns, rows.itertuples(), strict=True):
                label = f"{'🔴 ' if row.series in active else ''}{row.sensor}"
                column.metric(label, f"{row.value:g} {row.unit or ''}".strip())


tiles()
