"""smartfactory dashboard: `smartfactory dashboard` (or `streamlit run dashboard/app.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import data  # noqa: E402  (needs the path above)

st.set_page_config(page_title="smartfactory", page_icon="🏭", layout="wide")

pages = st.navigation(
    [
        st.Page(str(HERE / "app_pages" / "overview.py"), title="Plant overview", icon="🏭", default=True),
        st.Page(str(HERE / "app_pages" / "spc.py"), title="SPC", icon="📈"),
    ]
)

with st.sidebar:
    st.caption(f"Store: `{data.settings().store}`")
    try:
        count = len(data.series_list())
        st.caption(f"{count} series stored")
    except Exception as exc:  # the sidebar must never break a page
        st.error(f"Store not readable: {exc}")

pages.run()
