"""Dashboard benchmark on 10 million stored readings: SPC chart in a real browser, overview refresh on the server.

    python bench/dashboard_perf.py [--readings 10000000] [--runs 5] [--db /tmp/smartfactory-bench/dash-10M.db]

1. The store: 16 series (4 machines × 4 sensors of the default plant) at 1 Hz, AR(1) noise, plus machine states,
   parts (one every 30 s per machine) and 2,000 alarms; written with `SqliteStorage.write_readings` in batches of
   200,000 and cached under /tmp (built once, ~3 minutes; reused while its sidecar .json matches).
2. SPC, browser: a Streamlit server on the store, Debian chromium through Playwright, the app's JavaScript
   in the browser cache (a returning viewer). Time from the request to the SPC chart drawn (plotly has drawn
   its traces), each run on another series so no query is cached:
   - `new tab`: `page.goto("/spc?window=24 h&series=…")` in a fresh tab;
   - `in-app`: on the Machine page, a click on "SPC" in the sidebar (page switch without reload).
   Baselines measured in the same run: a one-line Streamlit app that draws a 3-point plotly chart, opened in a
   new tab (the floor for any Streamlit page with a plotly chart on this machine), and the SPC page with a
   15-minute window.
3. Overview, server: `data.overview_tiles` (every query and computation of one refresh of the tiles) with the
   query caches cleared, as after each TTL expiry. Baseline: the same call on an empty store.

Prints one JSON object: figures (median ms), baselines, ratios, goals.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from scipy.signal import lfilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the `dashboard` package

from smartfactory.model import Alarm, PartResult, Reading, StateChange  # noqa: E402
from smartfactory.storage.sqlite import SqliteStorage  # noqa: E402

MACHINES: dict[str, dict[str, tuple[str, float, float]]] = {
    "acme/plant1/machining/line-1/cnc-01": {"spindle_temp": ("°C", 62.0, 0.6), "power": ("kW", 7.5, 0.2),
                                            "vibration_rms": ("mm/s", 2.2, 0.15), "spindle_speed": ("rpm", 12000, 25)},
    "acme/plant1/machining/line-1/cnc-02": {"spindle_temp": ("°C", 64.0, 0.6), "power": ("kW", 7.5, 0.2),
                                            "vibration_rms": ("mm/s", 2.2, 0.15), "spindle_speed": ("rpm", 12000, 25)},
    "acme/plant1/packaging/line-2/imm-01": {"melt_temp": ("°C", 230, 1.0), "injection_pressure": ("bar", 850, 5),
                                            "mould_temp": ("°C", 45, 0.5), "cycle_time": ("s", 26, 0.3)},
    "acme/plant1/packaging/line-2/filler-01": {"fill_weight": ("g", 502, 2.0), "conveyor_speed": ("m/min", 18, 0.2),
                                               "motor_current": ("A", 6.5, 0.1), "reject_count": ("1", 0.5, 0.3)},
}  # fmt: skip
END_MS = 1_795_305_600_000  # 2026-11-22T00:00Z: a fixed end, so the cached store never changes
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
DRAWN = """(title) => {
  const h = document.querySelector('h1');
  if (!h || !h.textContent.startsWith(title)) return false;
  const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  return !!(plot && plot.data && plot.data.length > 0 && plot.querySelector('.main-svg .scatterlayer .trace'));
}"""
SPC_TITLE = "Statistical process control"
TRIVIAL_APP = """import plotly.graph_objects as go
import streamlit as st

st.title("Trivial chart")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
"""


# ------------------------------------------------------------------------------------------ the store


def build_store(path: Path, readings: int) -> float:
    """Write the benchmark store; return seconds taken."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqliteStorage(f"sqlite:///{path}")
    series = [(m, s, spec) for m, sensors in MACHINES.items() for s, spec in sensors.items()]
    per_series = readings // len(series)
    start_ms = END_MS - per_series * 1000
    rng = np.random.default_rng(2026)
    batch = 200_000
    for machine, sensor, (unit, nominal, sd) in series:
        topic = f"{machine}/telemetry/{sensor}"
        values = nominal + lfilter([1.0], [1.0, -0.5], rng.normal(0, sd, per_series))  # AR(1), φ = 0.5
        for i in range(0, per_series, batch):
            chunk = values[i : i + batch].tolist()
            store.write_readings([Reading(topic, start_ms + (i + k) * 1000, v, unit) for k, v in enumerate(chunk)])
        print(f"  {topic}: {per_series:,} readings", file=sys.stderr)
    states: list[StateChange] = []
    parts: list[PartResult] = []
    for machine in MACHINES:
        t = start_ms
        while t < END_MS:
            states.append(StateChange(machine, t, "running"))
            t += int(rng.integers(30, 90)) * 60_000
            kind = rng.choice(["down", "setup", "idle"])
            reason = {"down": "breakdown", "setup": "changeover", "idle": None}[str(kind)]
            states.append(StateChange(machine, t, str(kind), reason))
            t += int(rng.integers(2, 15)) * 60_000
        parts += [
            PartResult(machine, ts, f"p{ts}", bool(rng.random() > 0.02), {"diameter": float(25 + rng.normal(0, 0.01))})
            for ts in range(start_ms, END_MS, 30_000)
        ]
    store.write_states(states)
    for i in range(0, len(parts), 50_000):
        store.write_parts(parts[i : i + 50_000])
    topics = [f"{m}/telemetry/{s}" for m, s, _ in series]
    alarm_ts = np.sort(rng.integers(start_ms, END_MS, 2_000))
    store.write_alarms(
        [
            Alarm(f"bench-{i}", topics[i % len(topics)], int(ts), ("WE1",), 1.0, i >= 1_980, "WE1: bench")
            for i, ts in enumerate(alarm_ts)
        ]
    )
    store.close()
    return time.perf_counter() - started


def empty_store(beside: Path) -> Path:
    """A new, empty store `dash-empty.db` beside `beside` (the baselines' store)."""
    empty = beside.with_name("dash-empty.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{empty}{suffix}").unlink(missing_ok=True)
    SqliteStorage(f"sqlite:///{empty}").close()
    return empty


def ensure_store(path: Path, readings: int) -> tuple[float | None, int]:
    sidecar = path.with_suffix(".json")
    if path.exists() and sidecar.exists() and json.loads(sidecar.read_text()).get("readings") == readings:
        return None, readings
    print(f"building {path} with {readings:,} readings (cached for later runs)…", file=sys.stderr)
    seconds = build_store(path, readings)
    store = SqliteStorage(f"sqlite:///{path}")
    count = store.count_readings()
    store.close()
    sidecar.write_text(json.dumps({"readings": readings, "count": count, "build_s": seconds}))
    return seconds, count


# ------------------------------------------------------------------------------------------ browser


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, app: Path = ROOT / "dashboard" / "app.py") -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env |= {"SMARTFACTORY_STORE": f"sqlite:///{db}", "SMARTFACTORY_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}"}
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the Streamlit server did not start")


def browser_times(url: str, trivial_url: str, labels: list[str], runs: int) -> dict[str, list[float]]:
    """Milliseconds from request to chart drawn: SPC 24 h (new tab, in-app), SPC 15 min, the trivial app."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"spc_24h_new_tab": [], "spc_24h_in_app": [], "spc_15min_new_tab": [], "trivial": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1600})
        for target, ready in ((url, "text=Plant overview"), (trivial_url, '[data-testid="stPlotlyChart"]')):
            warm = context.new_page()  # a returning viewer: the JavaScript is in the browser cache
            warm.goto(target)
            warm.wait_for_selector(ready, timeout=60_000)
            warm.close()

        def timed(title: str, opening: str, click: str | None = None) -> float:
            """Open `opening` in a new tab; with `click`, time the click on that link, else the opening."""
            page = context.new_page()
            if click is not None:
                page.goto(opening)
                page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
                time.sleep(2.5)  # let the query caches (2 s) expire, as between two viewers' clicks
            started = time.perf_counter()
            if click is None:
                page.goto(opening, wait_until="commit")
            else:
                page.get_by_role("link", name=click).click()
            page.wait_for_function(DRAWN, arg=title, timeout=120_000, polling=25)
            elapsed = (time.perf_counter() - started) * 1000
            page.close()
            return elapsed

        for i in range(runs):
            out["trivial"].append(timed("Trivial chart", trivial_url))
            for window, key in (("24 h", "spc_24h_new_tab"), ("15 min", "spc_15min_new_tab")):
                label = labels[(2 * i + (key != "spc_24h_new_tab")) % len(labels)]
                out[key].append(timed(SPC_TITLE, f"{url}/spc?window={quote(window)}&series={quote(label)}"))
            out["spc_24h_in_app"].append(timed(SPC_TITLE, f"{url}/machine?window={quote('24 h')}", click="SPC"))
        browser.close()
    return out


# ------------------------------------------------------------------------------------------ overview


def overview_times(db: Path, runs: int) -> list[float]:
    """Milliseconds of one overview refresh (`data.overview_tiles`) with cold query caches."""
    os.environ["SMARTFACTORY_STORE"] = f"sqlite:///{db}"
    os.environ["SMARTFACTORY_MQTT_URL"] = f"mqtt://127.0.0.1:{free_port()}"
    import streamlit as st

    from dashboard import data, heap

    st.cache_resource.clear()
    st.cache_data.clear()
    window = data.window()
    data.overview_tiles(window)  # open the store, load the plant once (cached resources, as in the server)
    heap.freeze_startup_heap()  # as dashboard/app.py does once per process
    times = []
    for _ in range(runs):
        st.cache_data.clear()
        data.oee_window.clear()  # a cached resource (shared, frozen), expired with the query caches
        started = time.perf_counter()
        data.overview_tiles(data.window())
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(values: list[float]) -> dict[str, Any]:
    return {"median_ms": round(statistics.median(values), 1), "runs_ms": [round(v, 1) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", type=Path, default=Path("/tmp/smartfactory-bench/dash-10M.db"))
    args = parser.parse_args()
    built_s, count = ensure_store(args.db, args.readings)
    empty = empty_store(args.db)

    labels = [
        f"{m.split('/')[2]}/{m.split('/')[3]} · {m.rsplit('/', 1)[1]} · {s}" for m, ss in MACHINES.items() for s in ss
    ]
    trivial_dir = args.db.parent / "trivial-app"
    trivial_dir.mkdir(exist_ok=True)
    (trivial_dir / "app.py").write_text(TRIVIAL_APP)
    proc, url = start_server(args.db)
    trivial_proc, trivial_url = start_server(empty, trivial_dir / "app.py")
    try:
        browser = browser_times(url, trivial_url, labels, args.runs)
    finally:
        for server in (proc, trivial_proc):
            server.terminate()
            server.wait(10)
    overview = overview_times(args.db, args.runs * 4)
    overview_empty = overview_times(empty, args.runs * 4)
    ov_med, ov_base = statistics.median(overview), statistics.median(overview_empty)
    med = {key: statistics.median(values) for key, values in browser.items()}
    print(
        json.dumps(
            {
                "benchmark": "dashboard",
                "store": {"path": str(args.db), "readings": count, "series": 16, "built_s": built_s},
                "spc_24h_new_tab": {**summary(browser["spc_24h_new_tab"]), "points": 86_400, "goal_ms": 2000},
                "spc_24h_in_app": {**summary(browser["spc_24h_in_app"]), "points": 86_400, "goal_ms": 2000},
                "baseline_trivial_plotly_app_new_tab": summary(browser["trivial"]),
                "baseline_spc_15min_new_tab": summary(browser["spc_15min_new_tab"]),
                "ratio_spc_24h_new_tab_to_trivial": round(med["spc_24h_new_tab"] / med["trivial"], 2),
                "ratio_spc_24h_to_15min": round(med["spc_24h_new_tab"] / med["spc_15min_new_tab"], 2),
                "overview_refresh_server": {**summary(overview), "goal_ms": 200},
                "baseline_overview_refresh_empty_store": summary(overview_empty),
                "ratio_overview": round(ov_med / ov_base, 2) if ov_base > 0 else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
