"""Data access for the dashboard: every read goes through the read side (`smartfactory.query`) and the storage
protocol, cached.

Connections (the store, the MQTT link) are `st.cache_resource`, one per process. Query results are cached for
`TTL_S` seconds, shared by every viewer, so a room full of browsers costs one query per refresh, not one per
viewer. Long ranges are downsampled by the store (`read_aggregates`), never in the browser.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import numbers, oeeview, tiles, timewin
from dashboard.link import BrokerLink, BrokerStatus
from dashboard.spcview import Samples
from smartfactory import query
from smartfactory.model import Alarm, DeadLetter, FaultEvent, LimitsVersion, PartResult, SeriesInfo
from smartfactory.query import limits as stored_limits
from smartfactory.query import oee as oee_query
from smartfactory.query import series as series_query
from smartfactory.settings import Settings, load_settings, parse_mqtt_url
from smartfactory.storage import Storage, open_store
from smartfactory.wire import SignalInfo

TTL_S = 2.0
SLOW_TTL_S = 30.0
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


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def plant() -> query.PlantInfo:
    """Machine facts from the births in the store, calendar and OEE settings from the plant file."""
    config = settings()
    return query.plant_info(store(), config.sim.dir, config.sim.plant)


def signal(series: str) -> SignalInfo | None:
    """What the series' machine announced about it in its birth (kind, unit, spec limits, decimals)."""
    return plant().signal_for_series(series)


def decimals(series: str) -> int | None:
    """The decimals the series' values carry (`numbers.resolution`: declared, else from the spec width)."""
    return numbers.resolution(signal(series))


def part_decimals(machine: str, characteristic: str) -> int | None:
    return numbers.resolution(plant().signal(machine, characteristic))


def decimals_of() -> Callable[[str], int | None]:
    """`decimals` for many series at once: the plant facts read once (each `plant()` call unpickles a copy)."""
    info = plant()
    resolution = {m: {n: numbers.resolution(sig) for n, sig in i.signals.items()} for m, i in info.machines.items()}

    def of(series: str) -> int | None:
        parts = series_query.split_series(series)
        return resolution.get(parts.machine, {}).get(parts.sensor)

    return of


#: The alarm budget when the settings have none (alarms per plant-hour; issue 12's design goal).
DEFAULT_BUDGET_PER_HOUR = 1.0


def alarm_budget() -> float:
    """The plant's alarm budget in alarms per hour: `spc.budget_per_hour` where the settings have it."""
    value = getattr(settings().spc, "budget_per_hour", None)
    return float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_BUDGET_PER_HOUR


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


@st.cache_data(ttl=SLOW_TTL_S, show_spinner=False)
def oldest_ms() -> int | None:
    """The first reading of any series (one indexed lookup per series)."""
    return series_query.oldest_ms(store(), series_list())


def window() -> timewin.Window:
    """The window chosen in the sidebar, ending at the newest stored reading."""
    preset = st.session_state.get(WINDOW_KEY, timewin.DEFAULT_PRESET)
    if preset not in timewin.PRESETS:
        preset = timewin.DEFAULT_PRESET
    oldest = oldest_ms() if timewin.PRESETS[preset] is None else None
    return timewin.resolve(preset, newest_ms(), oldest, int(time.time() * 1000))


# ------------------------------------------------------------------------------------------ readings, limits


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=32)
def readings(series: str, since_ms: int, until_ms: int, limit: int | None = None) -> pd.DataFrame:
    """Raw readings in the window (the most recent `limit` of them with a limit)."""
    return store().read_series(series, since_ms=since_ms, until_ms=until_ms, limit=limit)


def series_samples(series: str, since_ms: int, until_ms: int, limit: int) -> Samples:
    """A series' readings in the window as arrays for a chart (the most recent `limit` of them)."""
    frame = readings(series, since_ms, until_ms, limit)
    ts = frame["ts"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return Samples.of(ts, frame["value"].to_numpy(dtype=np.float64), limit if len(frame) >= limit else None)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=64)
def trend(series: str, since_ms: int, until_ms: int, points: int = TREND_POINTS) -> tuple[pd.DataFrame, bool]:
    """Readings for a chart: raw when few, else `points` store-side buckets (mean, min, max). Second: aggregated."""
    agg = store().read_aggregates(series, since_ms, until_ms, points)
    if int(agg["count"].sum()) <= TREND_RAW_MAX:
        return store().read_series(series, since_ms=since_ms, until_ms=until_ms), False
    return agg, True


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=128)
def limits_versions(series: str) -> list[LimitsVersion]:
    """Every set of control limits the live monitor stored for the series, oldest first (empty: none yet)."""
    return stored_limits.limits_history(store(), series)


def monitor_limits(series: str) -> LimitsVersion | None:
    """The limits the live monitor uses now for the series, as it stored them (None while it has none)."""
    versions = limits_versions(series)
    return versions[-1] if versions else None


# ------------------------------------------------------------------------------------------ states, OEE


@st.cache_resource(ttl=TTL_S, show_spinner=False, max_entries=16)
def oee_window(since_ms: int, until_ms: int) -> query.OeeWindow | None:
    """States (whole intervals, with the context OEE needs) and parts of the window; None without states.

    A shared resource, not `st.cache_data`: the window is frozen (tuples of frozen dataclasses), so every viewer
    may read the one object, and `st.cache_data` pickled it on every store and every hit: 1.3 s of a 2.6 s
    overview refresh with 60,000 parts (bench/scale_dashboard.py's plant)."""
    try:
        return query.load_window(store(), since_ms, until_ms, plant().oee)
    except query.NoStatesError:
        return None


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def oee(since_ms: int, until_ms: int, calendar: str = oeeview.PLANT_CALENDAR) -> query.StoredOee | str:
    """OEE of the window through `query.oee`, the read path of `smartfactory oee`, with the plant's ideal cycle
    times and settings; `calendar` picks the shift breakdown (`oeeview.calendar_choices`). A string says why
    there is none."""
    window = oee_window(since_ms, until_ms)
    if window is None:
        return "No machine states in this window."
    info = plant()
    inputs = query.OeeInputs.from_plant_info(info)
    if calendar != oeeview.PLANT_CALENDAR or info.calendar is None:
        inputs = dataclasses.replace(inputs, calendar=oeeview.calendar_of(calendar, info.calendar))
    try:
        return oee_query.compute(window, inputs)
    except query.NoIdealCycleError as exc:
        return str(exc)


def default_calendar() -> str:
    return oeeview.calendar_choices(plant().calendar)[0]


# ------------------------------------------------------------------------------------------ records


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def parts(since_ms: int, until_ms: int, machine: str | None = None) -> list[PartResult]:
    return [p for p in store().read_parts(machine=machine, since_ms=since_ms) if p.ts_ms < until_ms]


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def part_machines(since_ms: int, until_ms: int) -> list[str]:
    """The machines with parts in the window, without reading the parts: `parts()` of a 2,000-series plant's
    window (83,500 parts) took 0.9 s of the SPC page's 1.0 s script, for a chart of a sensor."""
    return store().read_part_machines(since_ms, until_ms)


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


def machines(window: timewin.Window) -> dict[str, list[str]]:
    """Machine paths grouped by line id (`area/line`), from the stored series and the window's states."""
    found = series_query.series_machines(series_list())
    states = oee_window(window.since_ms, window.until_ms)
    if states is not None:
        found |= {iv.machine for iv in states.intervals}
    return series_query.machines_by_line(found)


def overview_tiles(window: timewin.Window) -> list[tiles.LineTiles]:
    """Everything one refresh of the plant overview reads and computes (its cost is benchmarked)."""
    states = oee_window(window.since_ms, window.until_ms)
    result = oee(window.since_ms, window.until_ms, default_calendar())
    report = result.report if isinstance(result, query.StoredOee) else None
    current = states.current() if states is not None else {}
    return tiles.build(latest(), current, tiles.machine_oee(report), alarms(active_only=True), decimals_of())


def alarm_rate(window: timewin.Window) -> tiles.AlarmRate:
    """Alarms raised in the window per hour of it, beside the plant's alarm budget."""
    raised = alarms(since_ms=window.since_ms)
    return tiles.alarm_rate(raised, window.since_ms, window.until_ms, oldest_ms(), alarm_budget())
