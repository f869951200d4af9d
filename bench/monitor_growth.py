"""How long the live monitor takes to take in a plant that is being born: M machines announce S process signals
each, then every series gets readings through its phase I and beyond. Prints JSON: CPU seconds of this run, the
readings per second, the longest single `observe` call (the stall a design solve puts on the thread that feeds the
monitor), with designs solved off that thread (`background_design=True`, as ingestion runs it) and on it (the
baseline), and the same workload's figure for the monitor without births (every series undeclared). Run under two
source trees to compare versions: `PYTHONPATH=OTHER/src python bench/monitor_growth.py`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time

import numpy as np

from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Reading
from smartfactory.wire import MachineInfo, SignalInfo


def run(
    machines: int, signals: int, points: int, births: bool, background: bool = False, pace_s: float = 0.0
) -> dict[str, float]:
    info = MachineInfo(
        machine_type="rack",
        sample_interval_s=1.0,
        signals={f"s{i}": SignalInfo(kind="process") for i in range(signals)},
    )
    try:
        mon = MonitorStage(background_design=background)
    except TypeError:  # a source tree from before background designs
        mon = MonitorStage()
    rng = np.random.default_rng(1)
    t0 = 1_800_000_000_000
    start, wall = time.process_time(), time.perf_counter()
    longest = growing = 0.0
    for m in range(machines):
        if births:
            mon.birth(f"e/p/a/l/m{m}", info)
        for step in range(points):
            ts = t0 + m * 1000 + step * 1000
            values = rng.normal(0.0, 1.0, signals)
            batch = [Reading(f"e/p/a/l/m{m}/telemetry/s{i}", ts, float(v)) for i, v in enumerate(values)]
            if pace_s > 0:
                time.sleep(pace_s)  # wall time between two readings of a machine (a live plant, sped up)
            began = time.perf_counter()
            mon.observe(batch)
            took = time.perf_counter() - began
            longest = max(longest, took)
            if m > 0:  # after the start-up: the first plan and design (scipy's import) come with the first machine
                growing = max(growing, took)
    designer = getattr(mon, "designer", None)
    if designer is not None:
        designer.close()
    return {
        "cpu_s": round(time.process_time() - start, 3),
        "wall_s": round(time.perf_counter() - wall, 3),
        "longest_observe_ms": round(longest * 1000, 1),
        "longest_observe_while_growing_ms": round(growing * 1000, 1),
    }


def main() -> None:
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=40)
    parser.add_argument("--signals", type=int, default=5)
    parser.add_argument("--points", type=int, default=520)
    parser.add_argument("--mode", choices=["background", "foreground", "undeclared"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--pace", type=float, default=0.002,
        help="wall seconds between two readings in the paced run (0.002: a phase I of 500 readings lasts 1 s, "
        "a 1 Hz plant sped up 500 times; the unpaced runs compress it to ~0.02 s, shorter than any solve)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.mode is not None:  # a child: one mode in a fresh process (designs are cached per process)
        row = run(
            args.machines, args.signals, args.points, args.mode != "undeclared", args.mode != "foreground", args.pace
        )
        print(json.dumps(row))
        return
    readings = args.machines * args.signals * args.points
    size = ["--machines", str(args.machines), "--signals", str(args.signals), "--points", str(args.points)]

    def child(mode: str, pace: float = 0.0) -> dict[str, float]:
        command = [sys.executable, __file__, *size, "--mode", mode, "--pace", str(pace)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr)
        return dict(json.loads(done.stdout.splitlines()[-1]))

    background, foreground, without = child("background"), child("foreground"), child("undeclared")
    paced = child("background", args.pace) if args.pace > 0 else None
    for row in (background, foreground, without):
        row["readings_per_s_wall"] = round(readings / row["wall_s"])
    print(
        json.dumps(
            {
                "readings": readings,
                "figure": {"background_design": background, "background_design_paced": paced, "pace_s": args.pace},
                "baseline": {"designs_on_the_feeding_thread": foreground, "undeclared_series": without},
                "ratio": {
                    "longest_observe_while_growing_foreground_vs_background": round(
                        foreground["longest_observe_while_growing_ms"]
                        / max(background["longest_observe_while_growing_ms"], 0.1),
                        1,
                    ),
                    "wall_background_vs_foreground": round(background["wall_s"] / foreground["wall_s"], 3),
                },
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
