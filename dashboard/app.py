"""smartfactory dashboard: `smartfactory dashboard` (or `streamlit run dashboard/app.py`).

This file only sets the page up: navigation over `app_pages/`, and the shared sidebar. Logic lives in the
modules next to it (data access in `data.py`, computations in `spcview.py`/`oeeview.py`, figures in
`charts.py`), so the page scripts stay short and the logic is testable without Streamlit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import sidebar  # noqa: E402  (needs the path above)

st.set_page_config(page_title="smartfactory", page_icon=":material/factory:", layout="wide")

PAGES = HERE / "app_pages"
pages = st.navigation(
    [
        st.Page(str(PAGES / "overview.py"), title="Plant overview", icon=":material/factory:", default=True),
        st.Page(str(PAGES / "machine.py"), title="Machine", icon=":material/precision_manufacturing:"),
        st.Page(str(PAGES / "spc.py"), title="SPC", icon=":material/monitoring:"),
        st.Page(str(PAGES / "alarms.py"), title="Alarms", icon=":material/notifications_active:"),
        st.Page(str(PAGES / "oee.py"), title="OEE", icon=":material/speed:"),
        st.Page(str(PAGES / "browse.py"), title="Data", icon=":material/table_view:", url_path="data"),
    ]
)
sidebar.render()
pages.run()
