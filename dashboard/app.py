"""smartfactory dashboard: `smartfactory dashboard` (or `streamlit run dashboard/app.py`).

This file only sets the page up: navigation over `app_pages/`, and the shared sidebar. Logic lives in the
modules of the `dashboard` package (data access in `data.py`, computations in `spcview.py`/`oeeview.py`/…,
figures in `charts.py`), so the page scripts stay short and the logic is testable without Streamlit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
# `streamlit run dashboard/app.py` runs this file as a script, with its own folder on the path: the project
# root has to be there too for the `dashboard` package to import as a package (the dashboard runs from a source
# checkout; it is not installed with the `smartfactory` distribution).
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from dashboard import classgate, heap, sidebar  # noqa: E402  (needs the project root on the path)

ABOUT = (
    "**smartfactory**: an open-source Industry 4.0 teaching pipeline (simulated plant → MQTT → ingestion with live "
    "SPC → store → this dashboard). Choose light or dark above; projector mode is in the sidebar."
)
# The toolbar is minimal (.streamlit/config.toml beside this file): no "Deploy" button or developer menu, only
# this menu with the theme choice (a menu needs at least one item of the app's to be shown at all).
st.set_page_config(
    page_title="smartfactory", page_icon=":material/factory:", layout="wide", menu_items={"About": ABOUT}
)

PAGES = HERE / "app_pages"
# classroom mode (dashboard.classroom_dir): sign-in first; a student gets their own plant, the lecturer the class
pages = st.navigation(
    classgate.pages([
        st.Page(str(PAGES / "overview.py"), title="Plant overview", icon=":material/factory:",
                default=not classgate.enabled()),
        st.Page(str(PAGES / "machine.py"), title="Machine", icon=":material/precision_manufacturing:"),
        st.Page(str(PAGES / "spc.py"), title="SPC", icon=":material/monitoring:"),
        st.Page(str(PAGES / "alarms.py"), title="Alarms", icon=":material/notifications_active:"),
        st.Page(str(PAGES / "oee.py"), title="OEE", icon=":material/speed:"),
        st.Page(str(PAGES / "browse.py"), title="Data", icon=":material/table_view:", url_path="data"),
    ])
)  # fmt: skip
if classgate.show_sidebar():
    classgate.sidebar_account()
    sidebar.render()
heap.freeze_startup_heap()  # once per process, before any page runs (dashboard/heap.py)
pages.run()
