"""Benchmark the SPC rules: all WE and Nelson rules on 1,000,000 individual points, and the streaming monitor.

Prints JSON: the figures, baselines measured in the same run, and their ratios. Goals (issue 6): batch rules
≤ 0.3 s for 10⁶ points; streaming ≤ 10 µs per reading. Usage: ``python bench/spc_rules.py [--n N]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import numpy as np

from smartfactory import spc
from smartfactory.spc.streaming import Limits, SeriesMonitor


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="points for the batch rules")
    parser.add_argument("--stream", type=int, default=200_000, help="readings for the streaming monitor")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(2024)
    x = rng.normal(10.0, 1.0, args.n)
    x[args.n // 2 :] += 0.5  # a shift so that rules fire and the flag paths are exercised
    pair = spc.imr(x, args.n // 2)
    zones = pair.main.zones

    rules_s = best_of(lambda: spc.evaluate(x, zones, spc.ALL_RULES), args.repeat)
    chart_s = best_of(lambda: spc.imr(x, args.n // 2), args.repeat)
    baseline_s = best_of(lambda: np.abs(np.diff(x)).mean(), args.repeat)  # one plain numpy pass: MR̄

    stream_x = x[: args.stream].tolist()

    def stream() -> None:
        mon = SeriesMonitor("bench", Limits(float(pair.main.center), float(pair.main.sigma)))
        for i, v in enumerate(stream_x):
            mon.update(i, v)

    def loop_baseline() -> None:  # the cheapest per-reading Python work: a call and a comparison
        ucl = float(pair.main.ucl)
        hits = 0
        for v in stream_x:
            hits += float(v) > ucl
        _ = hits

    stream_s = best_of(stream, max(1, args.repeat // 2))
    loop_s = best_of(loop_baseline, max(1, args.repeat // 2))
    flags = spc.evaluate(x, zones)
    result = {
        "benchmark": "spc_rules",
        "points": args.n,
        "rules": list(spc.ALL_RULES),
        "flagged_points": int(flags.any().sum()),
        "rules_seconds": round(rules_s, 4),
        "imr_chart_seconds": round(chart_s, 4),
        "goal_seconds": 0.3,
        "baseline_moving_range_seconds": round(baseline_s, 5),
        "ratio_rules_to_baseline": round(rules_s / baseline_s, 1),
        "streaming_readings": args.stream,
        "streaming_us_per_reading": round(stream_s / args.stream * 1e6, 3),
        "streaming_goal_us": 10.0,
        "baseline_python_loop_us_per_reading": round(loop_s / args.stream * 1e6, 3),
        "ratio_streaming_to_loop": round(stream_s / loop_s, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
