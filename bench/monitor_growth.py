"""How long the live monitor takes to take in a plant that is being born: M machines announce S process signals
each, then every series gets readings through its phase I and beyond. Prints JSON: CPU seconds of this run, the
readings per second, and the same workload's figure for the monitor without births (every series undeclared, the
baseline). Run under two source trees to compare versions: `PYTHONPATH=OTHER/src python bench/monitor_growth.py`."""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Reading
from smartfactory.wire import MachineInfo, SignalInfo


def run(machines: int, signals: int, points: int, births: bool) -> float:
    info = MachineInfo(
        machine_type="rack",
        sample_interval_s=1.0,
        signals={f"s{i}": SignalInfo(kind="process") for i in range(signals)},
    )
    mon = MonitorStage()
    rng = np.random.default_rng(1)
    t0 = 1_800_000_000_000
    start = time.process_time()
    for m in range(machines):
        if births:
            mon.birth(f"e/p/a/l/m{m}", info)
        for step in range(points):
            ts = t0 + m * 1000 + step * 1000
            values = rng.normal(0.0, 1.0, signals)
            mon.observe([Reading(f"e/p/a/l/m{m}/telemetry/s{i}", ts, float(v)) for i, v in enumerate(values)])
    return time.process_time() - start


def main() -> None:
    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=40)
    parser.add_argument("--signals", type=int, default=5)
    parser.add_argument("--points", type=int, default=520)
    args = parser.parse_args()
    readings = args.machines * args.signals * args.points
    with_births = run(args.machines, args.signals, args.points, births=True)
    without = run(args.machines, args.signals, args.points, births=False)
    print(json.dumps({
        "readings": readings,
        "figure": {"cpu_s": round(with_births, 3), "readings_per_s": round(readings / with_births)},
        "baseline_undeclared": {"cpu_s": round(without, 3), "readings_per_s": round(readings / without)},
        "ratio": round(without / with_births, 3),
    }))


if __name__ == "__main__":
    main()
