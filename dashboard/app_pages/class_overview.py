"""The lecturer's class overview (classroom mode): every student's plant at a glance."""

from __future__ import annotations

import streamlit as st

from dashboard import classdata, classgate, classview, data

classgate.require("lecturer")
st.title("Class overview")


@st.fragment(run_every=max(5.0, data.settings().dashboard.refresh))
def overview() -> None:
    roster = classgate.class_roster()
    students = roster.info.students
    window = data.window()
    namespaces = tuple(m.namespace for m in students)
    online = classdata.online()
    table = classview.class_table(
        students,
        online,
        data.alarms(active_only=True),
        classdata.class_oee(window.since_ms, window.until_ms, namespaces) if window.until_ms > window.since_ms else {},
        classdata.progress(str(roster.folder)),
        classdata.started(str(roster.folder)),
    )
    connected = classview.plants_connected(online, namespaces)
    left, middle, right = st.columns(3)
    left.metric("Students", len(students))
    middle.metric("Plants connected", "—" if connected is None else f"{connected}/{len(students)}")
    right.metric("Active alarms", int(table["active alarms"].sum()) if not table.empty else 0)
    st.dataframe(
        table,
        hide_index=True,
        column_config={"OEE (window)": st.column_config.NumberColumn(format="%.1f %%")},
    )
    if not roster.folder.joinpath("results.csv").is_file():
        st.caption("No exercise results yet (DIR/results.csv is written by `smartfactory exercise check`).")
    st.caption(f"Class seed {roster.info.class_seed} · {window.describe()}")


overview()
