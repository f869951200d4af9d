"""Cached reads for the classroom pages, over `data` (the one module that opens the store) and the class folder."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import classview, data, tiles, timewin
from dashboard.classlink import BirthWatcher
from smartfactory import query
from smartfactory.classroom.results import Progress, read_progress, read_started
from smartfactory.classroom.roster import ClassDir
from smartfactory.query import oee as oee_query
from smartfactory.settings import parse_mqtt_url


@st.cache_resource
def births() -> BirthWatcher:
    return BirthWatcher(parse_mqtt_url(data.settings().mqtt_url))


@st.cache_data(ttl=5.0, show_spinner=False)
def online() -> dict[str, bool] | None:
    """Machine path → online, from the retained births (None while the broker is unreachable)."""
    return births().online()


@st.cache_data(ttl=data.TTL_S, show_spinner=False, max_entries=8)
def class_oee(since_ms: int, until_ms: int, namespaces: tuple[str, ...]) -> dict[str, float | None]:
    """OEE over the window of each student's plant."""
    window = data.oee_window(since_ms, until_ms)
    if window is None:
        return {}
    inputs = query.OeeInputs.from_plant_info(data.plant())
    return {ns: classview.namespace_oee(window, inputs, ns) for ns in namespaces}


@st.cache_data(ttl=data.TTL_S, show_spinner=False, max_entries=64)
def own_tiles(since_ms: int, until_ms: int, namespace: str) -> list[tiles.LineTiles]:
    """The plant overview's tiles of one student's machines: the same model, with OEE computed over their
    machines only (one small computation per student, not the whole class's)."""
    prefix = f"{namespace}/"
    window = data.oee_window(since_ms, until_ms)
    mine = None if window is None else classview.namespace_window(window, namespace)
    report = None
    if mine is not None and mine.intervals:
        try:
            report = oee_query.compute(mine, query.OeeInputs.from_plant_info(data.plant())).report
        except query.NoIdealCycleError:
            report = None
    latest = data.latest()
    latest = latest[latest["series"].astype(str).str.startswith(prefix)]
    active = [a for a in data.alarms(active_only=True) if a.series.startswith(prefix)]
    current = mine.current() if mine is not None else {}
    return tiles.build(latest, current, tiles.machine_oee(report), active, data.decimals_of())


def my_tiles(window: timewin.Window, namespace: str) -> list[tiles.LineTiles]:
    return own_tiles(window.since_ms, window.until_ms, namespace)


@st.cache_data(ttl=10.0, show_spinner=False)
def progress(folder: str) -> dict[str, Progress]:
    """Exercise progress per username from DIR/results.csv (empty without one)."""
    return read_progress(ClassDir(Path(folder)).results_file)


@st.cache_data(ttl=10.0, show_spinner=False)
def started(folder: str) -> dict[str, set[str]]:
    """The exercises started per username (DIR/STUDENT/NAME/exercise.json)."""
    return read_started(Path(folder))


__all__ = ["births", "class_oee", "my_tiles", "online", "own_tiles", "progress", "started"]
