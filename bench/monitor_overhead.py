"""Cost the live monitor adds to ingestion, per reading (issue 12 goal: ≤ 10 µs).

Decodes grouped telemetry messages (10 machines × 4 sensors at 1 Hz, each machine announced by a birth) once as
the baseline, then feeds the decoded readings to the monitor as the service does: series by series per batch of
100 messages, with a `tick` per batch. The first `--warm` messages take every series through its phase I and
its design (solved once per process, seconds of CPU: reported on its own); the steady state after them is the
figure. Both designs are measured: `budget` (the default) and `we` (the old WE-rules chart).
Prints JSON: µs per reading for decode alone, for the monitor alone, their ratio, and the alarms raised.
Usage: ``python bench/monitor_overhead.py [--messages N] [--sensors K] [--machines M]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

import numpy as np

from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Reading
from smartfactory.wire import MachineInfo, SignalInfo, format_ts

BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--warm", type=int, default=8_000, help="messages before the timed part (phase I)")
    parser.add_argument("--sensors", type=int, default=4)
    parser.add_argument("--machines", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    now = int(time.time() * 1000)
    start = now - args.messages * 1000 // args.machines - 60_000
    machines = [f"acme/plant1/area/line-1/m{j}" for j in range(args.machines)]
    info = MachineInfo(
        machine_type="bench",
        sample_interval_s=1.0,
        signals={f"s{k}": SignalInfo(kind="process", decimals=4) for k in range(args.sensors)},
    )
    messages = []
    for i in range(args.messages):
        machine = machines[i % args.machines]
        values = ",".join(f'"s{k}":{v:.4f}' for k, v in enumerate(rng.normal(50, 1, args.sensors)))
        ts = start + (i // args.machines) * 1000
        messages.append((f"{machine}/telemetry", f'{{"ts":"{format_ts(ts)}","values":{{{values}}}}}'.encode()))

    def decode_all() -> list[Decoded]:
        decoder = Decoder()
        out = []
        for topic, payload in messages:
            decoded = decoder.decode(topic, payload, now)
            assert isinstance(decoded, Decoded)
            out.append(decoded)
        return out

    t0 = time.perf_counter()
    decoded = decode_all()
    decode_s = time.perf_counter() - t0
    timed_readings = sum(len(d.readings) for d in decoded[args.warm :])
    decode_us = decode_s / sum(len(d.readings) for d in decoded) * 1e6

    def feed(monitor: MonitorStage, part: list[Decoded]) -> tuple[float, int]:
        alarms = 0
        t = time.perf_counter()
        for b in range(0, len(part), BATCH):
            groups: dict[str, list[Reading]] = defaultdict(list)
            for item in part[b : b + BATCH]:
                for r in item.readings:
                    groups[r.series].append(r)
            for readings in groups.values():
                alarms += len(monitor.observe(readings))
            alarms += len(monitor.tick(int(time.monotonic() * 1000)))
            monitor.take_limit_changes()
        return time.perf_counter() - t, alarms

    report: dict[str, object] = {
        "benchmark": "monitor_overhead",
        "series": args.machines * args.sensors,
        "timed_readings": timed_readings,
        "decode_us_per_reading": round(decode_us, 3),
        "goal_monitor_us_per_reading": 10.0,
    }
    names = [f"{m}/telemetry/s{k}" for m in machines for k in range(args.sensors)]
    for design in ("budget", "we"):
        monitor = MonitorStage(detector=design, infos=dict.fromkeys(machines, info))
        warm_s, _ = feed(monitor, decoded[: args.warm])
        timed_s, alarms = feed(monitor, decoded[args.warm :])
        us = timed_s / timed_readings * 1e6
        report[design] = {
            "monitor_us_per_reading": round(us, 3),
            "ratio_to_decode": round(us / decode_us, 3),
            "phase1_and_design_s": round(warm_s, 2),
            "alarms_raised": alarms,
            "charting": sum(monitor.status(name).startswith("charting") for name in names),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
