"""Where a new tab's time goes on the SPC page: Streamlit's own floor, drawing the chart, the rest of the page.

    python bench/dashboard_tab_timeline.py [--runs 5] [--series 2000] [--readings 10000000]

The store is bench/scale_dashboard.py's (built and cached by it). Three apps, each opened in a new tab of one
browser (Debian chromium through Playwright, the JavaScript in the browser cache, as in bench/dashboard_perf.py),
in turns, `--runs` times:

1. `trivial`: the one-line app of bench/dashboard_perf.py (a title and a 3-point plotly chart): the floor of any
   Streamlit page with a chart on this machine;
2. `trivial_with_spc_figure`: the same one-line app drawing the SPC page's own figure of the first series (built
   here with the page's code, `spcview.build` and `charts.control_chart`, default settings, 24 h window, saved
   as JSON that the app reads): (2) − (1) is what drawing that chart costs;
3. `spc_page`: the dashboard's SPC page on that series (`/spc?window=24 h&series=…`): (3) − (2) is the rest of
   the page (navigation, sidebar, widgets, its queries and building the figure on the server).

For each: milliseconds from the request to the page's title shown and to the chart drawn (plotly has drawn its
traces; `dashboard_perf.DRAWN`), medians and runs. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard_perf as perf
import scale_dashboard

FIGURE_APP = """import plotly.io as pio
import streamlit as st

st.title("Trivial chart")
st.plotly_chart(pio.from_json(open({path!r}).read()))
"""


def spc_figure_json(db: Path, series: str) -> str:
    """The figure the SPC page draws for `series` in the 24 h window with default settings, as plotly JSON."""
    from dashboard import charts, spcview, timewin
    from smartfactory import spc
    from smartfactory.settings import load_settings
    from smartfactory.storage.sqlite import SqliteStorage

    config = load_settings()
    store = SqliteStorage(f"sqlite:///{db}")
    try:
        frame = store.latest()
        newest = int(frame["ts"].max().value // 1_000_000)
        window = timewin.resolve("24 h", newest, None, int(time.time() * 1000))
        readings = store.read_series(series, since_ms=window.since_ms, until_ms=window.until_ms)
    finally:
        store.close()
    rules = config.spc.rules if config.spc.rules in spcview.RULE_SETS else "we"
    chosen = spcview.ChartSettings("I-MR", spc.parse_rules(rules), config.spc.phase1_points, 5, 0.2, 5.0, 0.5, "5 min")
    ts = readings["ts"].to_numpy(dtype="datetime64[ms]").astype("int64")
    samples = spcview.Samples.of(ts, readings["value"].to_numpy(dtype="float64"), None)
    view, _, _ = spcview.build(chosen, spcview.SOURCE_SERIES, samples, None, None)
    return str(charts.control_chart(view, projector=False, decimals=None).to_json())


def timings(targets: dict[str, tuple[str, str]], runs: int) -> dict[str, dict[str, list[float]]]:
    """Per target (url, title): ms to the title shown and to the chart drawn, in a new tab, `runs` turns."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, list[float]]] = {name: {"title_ms": [], "drawn_ms": []} for name in targets}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=perf.CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1600})
        for url, title in targets.values():  # a returning viewer: the JavaScript is in the browser cache
            warm = context.new_page()
            warm.goto(url)
            warm.wait_for_function(perf.DRAWN, arg=title, timeout=120_000, polling=25)
            warm.close()
        for _ in range(runs):
            for name, (url, title) in targets.items():
                time.sleep(2.5)  # the query caches (2 s) expire, as between two viewers
                page = context.new_page()
                started = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_selector("h1", timeout=120_000)
                out[name]["title_ms"].append((time.perf_counter() - started) * 1000)
                page.wait_for_function(perf.DRAWN, arg=title, timeout=120_000, polling=25)
                out[name]["drawn_ms"].append((time.perf_counter() - started) * 1000)
                page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    perf.MACHINES = scale_dashboard.plant_machines(args.series)
    db = Path(f"/tmp/smartfactory-bench/dash-{args.readings // 1_000_000}M-{args.series}s.db")
    perf.ensure_store(db, args.readings)
    machine, sensors = next(iter(perf.MACHINES.items()))
    sensor = next(iter(sensors))
    series = f"{machine}/telemetry/{sensor}"
    label = f"{machine.split('/')[2]}/{machine.split('/')[3]} · {machine.rsplit('/', 1)[1]} · {sensor}"

    work = db.parent / "tab-timeline"
    work.mkdir(exist_ok=True)
    figure = work / "spc-figure.json"
    figure.write_text(spc_figure_json(db, series))
    (work / "trivial.py").write_text(perf.TRIVIAL_APP)
    (work / "figure.py").write_text(FIGURE_APP.format(path=str(figure)))
    empty = perf.empty_store(db)

    load_before = os.getloadavg()[0]
    servers = {
        "trivial": perf.start_server(empty, work / "trivial.py"),
        "trivial_with_spc_figure": perf.start_server(empty, work / "figure.py"),
        "spc_page": perf.start_server(db, perf.ROOT / "dashboard" / "app.py"),
    }
    spc_path = f"/spc?window={quote('24 h')}&series={quote(label)}"
    targets = {
        "trivial": (servers["trivial"][1], "Trivial chart"),
        "trivial_with_spc_figure": (servers["trivial_with_spc_figure"][1], "Trivial chart"),
        "spc_page": (servers["spc_page"][1] + spc_path, perf.SPC_TITLE),
    }
    try:
        measured = timings(targets, args.runs)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)
    med = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in measured.items()}
    floor, with_figure, page = (med[n]["drawn_ms"] for n in ("trivial", "trivial_with_spc_figure", "spc_page"))
    result: dict[str, Any] = {
        "benchmark": "dashboard_tab_timeline",
        "store": str(db),
        "series": series,
        "figure_json_bytes": figure.stat().st_size,
        "figure": {
            name: {k: {"median_ms": round(med[name][k], 1), "runs_ms": [round(x, 1) for x in v]} for k, v in t.items()}
            for name, t in measured.items()
        },
        "baseline": {"trivial_drawn_ms": round(floor, 1)},
        "ratio": {
            "spc_page_vs_trivial": round(page / floor, 2),
            "trivial_with_spc_figure_vs_trivial": round(with_figure / floor, 2),
        },
        "split_ms": {
            "streamlit_floor": round(floor, 1),
            "drawing_the_spc_figure": round(with_figure - floor, 1),
            "rest_of_the_page": round(page - with_figure, 1),
        },
        "load_avg_1m_at_start": round(load_before, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
