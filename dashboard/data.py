"""Data access for the dashboard: every read goes through the storage protocol, cached.

Connections (the store, the MQTT link) are `st.cache_resource`, one per process. Query results are cached for
`TTL_S` seconds, shared by every viewer, so a room full of browsers costs one query per refresh, not one per
viewer. Long ranges are downsampled by the store (`read_aggregates`), never in the browser.
"""

from __future__ import annotations

import time

import oeeview
import pandas as pd
import plantinfo
import spcview
import streamlit as st
import tiles
import timewin
from link import BrokerLink, BrokerStatus

from smartfactory.model import Alarm, DeadLetter, FaultEvent, PartResult, Reading, SeriesInfo, StateChange
from smartfactory.settings import Settings, load_settings, parse_mqtt_url
from smartfactory.storage import Storage, open_store

TTL_S = 2.0
SLOW_TTL_S = 30.0
#: How far before the window to look for each machine's state at the window's start.
STATE_LOOKBACK_MS = 24 * timewin.HOUR_MS
#: Up to this many readings a trend is drawn raw; beyond, as TREND_POINTS store-side buckets.
TREND_RAW_MAX = 5000
TREND_POINTS = 1500
EMPTY_HINT = "No data yet: start the simulator with `smartfactory simulate` (or everything with `smartfactory demo`)."
WINDOW_KEY = "window"


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def store() -> Storage:
    config = settings()
    token = config.influx_token.get_secret_value() if config.influx_token else None
    return open_store(config.store, token=token)


@st.cache_resource
def broker() -> BrokerLink:
    return BrokerLink(parse_mqtt_url(settings().mqtt_url))


@st.cache_resource(ttl=60)
def plant() -> plantinfo.PlantInfo:
    return plantinfo.load_plant_info(settings())


@st.cache_data(ttl=5.0, show_spinner=False)
def broker_status() -> BrokerStatus:
    return broker().status()


# ------------------------------------------------------------------------------------------ the time window


@st.cache_data(ttl=TTL_S, show_spinner=False)
def latest() -> pd.DataFrame:
    return store().latest()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def series_list() -> list[SeriesInfo]:
    return store().list_series()


def newest_ms() -> int | None:
    frame = latest()
    if frame.empty:
        return None
    return int(frame["ts"].max().value // 1_000_000)


def first_readings(series: str, count: int) -> list[Reading]:
    """The first `count` readings of a series (fewer while it has fewer), in time order."""
    machine, _, sensor = series.rpartition("/telemetry/")
    chunks = store().iter_readings(machine=machine, sensor=sensor, chunk=count)
    try:
        return next(chunks, [])
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stop the backend's query after the first chunk


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def oldest_ms() -> int | None:
    """The first reading of any series (one indexed lookup per series)."""
    firsts = [r.ts_ms for info in series_list() for r in first_readings(info.series, 1)]
    return min(firsts) if firsts else None


def window() -> timewin.Window:
    """The window chosen in the sidebar, ending at the newest stored reading."""
    preset = st.session_state.get(WINDOW_KEY, timewin.DEFAULT_PRESET)
    if preset not in timewin.PRESETS:
        preset = timewin.DEFAULT_PRESET
    oldest = oldest_ms() if timewin.PRESETS[preset] is None else None
    return timewin.resolve(preset, newest_ms(), oldest, int(time.time() * 1000))


# ------------------------------------------------------------------------------------------ readings


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def readings(series: str, since_ms: int, until_ms: int, limit: int | None = None) -> pd.DataFrame:
    """Raw readings in the window (the most recent `limit` of them with a limit)."""
    return store().read_series(series, since_ms=since_ms, until_ms=until_ms, limit=limit)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def trend(series: str, since_ms: int, until_ms: int, points: int = TREND_POINTS) -> tuple[pd.DataFrame, bool]:
    """Readings for a chart: raw when few, else `points` store-side buckets (mean, min, max). Second: aggregated."""
    agg = store().read_aggregates(series, since_ms, until_ms, points)
    if int(agg["count"].sum()) <= TREND_RAW_MAX:
        return store().read_series(series, since_ms=since_ms, until_ms=until_ms), False
    return agg, True


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False, max_entries=128)
def learned(series: str, points: int) -> spcview.Learned | None:
    """The live monitor's limits: learned from the first `points` readings of the series (None until it has them)."""
    chunk = first_readings(series, points)
    if len(chunk) < points:
        return None
    return spcview.learn_limits([r.ts_ms for r in chunk], [r.value for r in chunk])


# ------------------------------------------------------------------------------------------ records


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def states(since_ms: int, until_ms: int) -> list[StateChange]:
    """State changes in the window plus each machine's last change before it (its state at the start)."""
    recent = [c for c in store().read_states(since_ms=since_ms - STATE_LOOKBACK_MS) if c.ts_ms < until_ms]
    machines = {c.machine for c in recent} | {s.series.rsplit("/telemetry/", 1)[0] for s in series_list()}
    known_before = {c.machine for c in recent if c.ts_ms <= since_ms}
    out = [c for c in recent if c.ts_ms > since_ms]
    for machine in sorted(machines):
        pool = recent if machine in known_before else store().read_states(machine=machine)
        before = [c for c in pool if c.machine == machine and c.ts_ms <= since_ms]
        if before:
            out.append(max(before, key=lambda c: c.ts_ms))
    return sorted(out, key=lambda c: (c.machine, c.ts_ms))


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def parts(since_ms: int, until_ms: int, machine: str | None = None) -> list[PartResult]:
    return [p for p in store().read_parts(machine=machine, since_ms=since_ms) if p.ts_ms < until_ms]


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=8)
def alarms(active_only: bool = False, since_ms: int | None = None) -> list[Alarm]:
    return store().read_alarms(active_only=active_only, since_ms=since_ms)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=8)
def events(since_ms: int | None = None) -> list[FaultEvent]:
    return store().read_events(since_ms=since_ms)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=8)
def deadletters(since_ms: int, limit: int = 1000) -> list[DeadLetter]:
    """Rejected messages received since `since_ms` (the first `limit` of them)."""
    return store().read_deadletters(since_ms=since_ms, limit=limit)


def refresh_alarms() -> None:
    """Forget cached alarms (after an acknowledgement) so the next read shows the store's state."""
    alarms.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def machines() -> dict[str, list[str]]:
    """Machine paths grouped by `area/line`, from the stored series and states."""
    found = {s.series.rsplit("/telemetry/", 1)[0] for s in series_list()}
    found |= {c.machine for c in store().read_states(since_ms=(newest_ms() or 0) - STATE_LOOKBACK_MS)}
    grouped: dict[str, list[str]] = {}
    for machine in sorted(found):
        levels = machine.split("/")
        line = "/".join(levels[2:4]) if len(levels) >= 5 else machine
        grouped.setdefault(line, []).append(machine)
    return grouped


def ideal_cycles(window_parts: list[PartResult]) -> tuple[dict[str, float], set[str]]:
    """Ideal cycle time per machine: the plant file's, else estimated from the parts (second: the estimated)."""
    known = plant().ideal_cycle_s
    estimated = oeeview.estimate_ideal_cycle(window_parts)
    return {**estimated, **known}, set(estimated) - set(known)


def overview_tiles(window: timewin.Window) -> list[tiles.LineTiles]:
    """Everything one refresh of the plant overview reads and computes (its cost is benchmarked)."""
    window_parts = parts(window.since_ms, window.until_ms)
    return tiles.build(
        latest(),
        states(window.since_ms, window.until_ms),
        window_parts,
        alarms(active_only=True),
        ideal_cycles(window_parts)[0],
        window.since_ms,
        window.until_ms,
        plant().oee,
    )
