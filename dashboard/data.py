"""Data access for the dashboard: every read goes through the storage protocol, cached.

The store connection is a `st.cache_resource` (one per process); query results are cached for a few seconds so a
room full of browsers costs one query per refresh, not one per viewer.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from smartfactory.model import Alarm, SeriesInfo
from smartfactory.settings import Settings, load_settings
from smartfactory.storage import Storage, open_store

TTL_S = 2.0
EMPTY_HINT = "No data yet: start the simulator with `smartfactory simulate` (or everything with `smartfactory demo`)."


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def store() -> Storage:
    config = settings()
    token = config.influx_token.get_secret_value() if config.influx_token else None
    return open_store(config.store, token=token)


@st.cache_data(ttl=TTL_S)
def latest() -> pd.DataFrame:
    return store().latest()


@st.cache_data(ttl=TTL_S)
def series_list() -> list[SeriesInfo]:
    return store().list_series()


@st.cache_data(ttl=TTL_S)
def recent(series: str, points: int) -> pd.DataFrame:
    return store().read_series(series, limit=points)


@st.cache_data(ttl=TTL_S)
def alarms(active_only: bool) -> list[Alarm]:
    return store().read_alarms(active_only=active_only)
