"""The sidebar every page shares: time window, projector mode, and the connection status (live)."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import data, theme, timewin
from dashboard.link import BrokerStatus

PROJECTOR_KEY = "projector"


def projector() -> bool:
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _broker_lines(status: BrokerStatus, now_ms: int) -> list[str]:
    if not status.connected:
        return [f":red[●] **Broker** {status.url} not reachable: {status.error or 'no answer'}"]
    lines = [f":green[●] **Broker** {status.url}"]
    if not status.workers:
        lines.append(":gray[●] **Ingestion**: no health messages yet; is `smartfactory ingest` (or `demo`) running?")
    stale_after = 3 * data.settings().ingest.health_interval
    for worker in status.workers:
        age = worker.age_s(now_ms)
        c = worker.counters
        figures = f"{c.get('stored', 0):,} stored, {c.get('rejected_total', 0):,} rejected, lag {c.get('lag_ms', 0)} ms"
        mark = ":green[●]" if age <= stale_after else ":orange[●]"
        note = "" if age <= stale_after else " (stopped?)"
        lines.append(f"{mark} **Ingestion** `{worker.worker}`: {figures}; {_ago(age)}{note}")
    return lines


def _store_lines(now_ms: int) -> list[str]:
    try:
        count = len(data.series_list())
        newest = data.newest_ms()
    except Exception as exc:  # the sidebar must never break a page
        return [f":red[●] **Store** not readable: {exc}"]
    url = data.settings().store
    if newest is None:
        return [f":orange[●] **Store** `{url}`: empty"]
    return [f":green[●] **Store** `{url}`: {count} series, newest reading {_ago(max(0.0, (now_ms - newest) / 1000))}"]


@st.fragment(run_every=5)
def status() -> None:
    now_ms = int(time.time() * 1000)
    lines = _store_lines(now_ms)
    try:
        lines += _broker_lines(data.broker_status(), now_ms)
    except Exception as exc:
        lines.append(f":red[●] **Broker** status unavailable: {exc}")
    st.caption("  \n".join(lines))


def render() -> None:
    with st.sidebar:
        st.selectbox(
            "Time window",
            list(timewin.PRESETS),
            index=list(timewin.PRESETS).index(timewin.DEFAULT_PRESET),
            key=data.WINDOW_KEY,
            bind="query-params",
            help="Every page shows this much time, ending at the newest stored reading.",
        )
        try:
            st.caption(data.window().describe())
        except Exception as exc:
            st.caption(f"window unavailable: {exc}")
        st.toggle(
            "Projector mode (large fonts)",
            key=PROJECTOR_KEY,
            bind="query-params",
            help="Larger text and charts for a lecture hall; dark/light is in the ⋮ menu → Settings.",
        )
        st.divider()
        status()
    st.html(theme.page_css(projector()))
