"""Cost the SPC monitor adds to ingestion, per reading (issue 6 goal: ≤ 10 µs).

Runs the ingestion decode stage over grouped telemetry messages twice in the same process: once alone (the
baseline) and once followed by the monitor stage (all WE rules, limits learned from the first 50 readings of each
series), and prints JSON with µs per reading for both, the difference and the ratio.
Usage: ``python bench/monitor_overhead.py [--messages N] [--sensors K]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.wire import format_ts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--sensors", type=int, default=4)
    parser.add_argument("--machines", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    now = int(time.time() * 1000)
    start = now - args.messages * 10
    messages = []
    for i in range(args.messages):
        machine = f"acme/plant1/area/line-1/m{i % args.machines}"
        values = ",".join(f'"s{k}":{v:.4f}' for k, v in enumerate(rng.normal(50, 1, args.sensors)))
        payload = f'{{"ts":"{format_ts(start + i * 10)}","values":{{{values}}}}}'.encode()
        messages.append((f"{machine}/telemetry", payload))
    readings = args.messages * args.sensors

    def decode_only() -> list[Decoded]:
        decoder = Decoder()
        out = []
        for topic, payload in messages:
            decoded = decoder.decode(topic, payload, now)
            assert isinstance(decoded, Decoded)
            out.append(decoded)
        return out

    t0 = time.perf_counter()
    decoded = decode_only()
    baseline_s = time.perf_counter() - t0

    monitor = MonitorStage(phase1_points=50, rules="we")
    t0 = time.perf_counter()
    decode_only()
    alarms = 0
    for item in decoded:
        alarms += len(monitor.observe(item.readings))
    with_monitor_s = time.perf_counter() - t0 + 0.0

    # The monitor alone, on the already decoded readings (what it adds per reading).
    monitor = MonitorStage(phase1_points=50, rules="we")
    t0 = time.perf_counter()
    for item in decoded:
        monitor.observe(item.readings)
    monitor_s = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "benchmark": "monitor_overhead",
                "readings": readings,
                "series": args.machines * args.sensors,
                "decode_us_per_reading": round(baseline_s / readings * 1e6, 3),
                "decode_plus_monitor_us_per_reading": round(with_monitor_s / readings * 1e6, 3),
                "monitor_us_per_reading": round(monitor_s / readings * 1e6, 3),
                "goal_monitor_us_per_reading": 10.0,
                "ratio_with_monitor_to_decode_only": round(with_monitor_s / baseline_s, 3),
                "alarms_raised": alarms,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
