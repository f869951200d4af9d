"""(5) The dashboard over a 10M-reading store with 2,000 series: bench/dashboard_perf.py at plant scale.

    python bench/scale_dashboard.py [--series 2000] [--readings 10000000] [--runs 3] [--root .]

The same measurements as bench/dashboard_perf.py (its functions are reused unchanged): SPC page to a drawn
chart in a real browser (new tab and in-app), overview refresh on the server with cold query caches, and the
baselines of the same run (a one-line Streamlit app with a 3-point plotly chart opened in a new tab; the SPC
page with a 15-minute window; the overview on an empty store). Only the store differs: `--series` series
(machines of the four kinds dashboard_perf.py uses, four sensors each, `--series` / 4 machines on lines of ten),
`--readings` readings spread evenly over them at 1 Hz, plus states, parts and 2,000 alarms as there. The store
is cached under /tmp/smartfactory-bench (built once). `--root` is the checkout whose `dashboard/` is served
(default: this one), so a commit can be measured while the working tree changes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard_perf as perf

KINDS = list(perf.MACHINES.values())


def plant_machines(series: int) -> dict[str, dict[str, tuple[str, float, float]]]:
    """`series` / 4 machines, the four kinds of dashboard_perf.py in turn, ten to a line."""
    if series % 4:
        raise SystemExit("--series must be a multiple of 4 (four sensors per machine)")
    out: dict[str, dict[str, tuple[str, float, float]]] = {}
    for i in range(series // 4):
        line = i // 10
        out[f"acme/plant1/area-{line // 10 + 1:02d}/line-{line % 10 + 1:02d}/m-{i + 1:04d}"] = KINDS[i % len(KINDS)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--root", type=Path, default=perf.ROOT, help="checkout whose dashboard/ is served")
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path.insert(0, str(root))  # its `dashboard` package for the overview timing
    perf.MACHINES = plant_machines(args.series)  # build_store and the labels read this table
    db = args.db or Path(f"/tmp/smartfactory-bench/dash-{args.readings // 1_000_000}M-{args.series}s.db")
    built_s, count = perf.ensure_store(db, args.readings)
    empty = perf.empty_store(db)
    labels = [
        f"{m.split('/')[2]}/{m.split('/')[3]} · {m.rsplit('/', 1)[1]} · {s}"
        for m, ss in list(perf.MACHINES.items())[:: max(1, len(perf.MACHINES) // 8)]
        for s in ss
    ]
    trivial_dir = db.parent / "trivial-app"
    trivial_dir.mkdir(exist_ok=True)
    (trivial_dir / "app.py").write_text(perf.TRIVIAL_APP)
    load_before = os.getloadavg()[0]
    proc, url = perf.start_server(db, root / "dashboard" / "app.py")
    trivial_proc, trivial_url = perf.start_server(empty, trivial_dir / "app.py")
    try:
        browser = perf.browser_times(url, trivial_url, labels, args.runs)
    finally:
        for server in (proc, trivial_proc):
            server.terminate()
            server.wait(10)
    overview = perf.overview_times(db, args.runs * 4)
    overview_empty = perf.overview_times(empty, args.runs * 4)
    ov_med, ov_base = statistics.median(overview), statistics.median(overview_empty)
    med = {key: statistics.median(values) for key, values in browser.items()}
    points = args.readings // args.series
    result: dict[str, Any] = {
        "benchmark": "scale_dashboard",
        "dashboard_root": str(root),
        "store": {
            "path": str(db),
            "readings": count,
            "series": args.series,
            "built_s": built_s,
            "points_per_series": points,
        },
        "figure": {
            "overview_refresh_server": {**perf.summary(overview), "goal_ms": 200},
            "spc_24h_new_tab": {**perf.summary(browser["spc_24h_new_tab"]), "goal_ms": 2000},
            "spc_24h_in_app": {**perf.summary(browser["spc_24h_in_app"]), "goal_ms": 2000},
        },
        "baseline": {
            "overview_refresh_empty_store": perf.summary(overview_empty),
            "trivial_plotly_app_new_tab": perf.summary(browser["trivial"]),
            "spc_15min_new_tab": perf.summary(browser["spc_15min_new_tab"]),
        },
        "ratio": {
            "overview_vs_empty_store": round(ov_med / ov_base, 2) if ov_base > 0 else None,
            "spc_24h_new_tab_vs_trivial_app": round(med["spc_24h_new_tab"] / med["trivial"], 2),
            "spc_24h_vs_15min": round(med["spc_24h_new_tab"] / med["spc_15min_new_tab"], 2),
        },
        "goal": "overview <= 200 ms, SPC <= 2 s to a drawn chart, new tab <= 1.1 x the trivial app",
        "load_avg_1m_at_start": round(load_before, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
