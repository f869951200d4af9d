"""(3) Peak RSS of ingestion with 50,000 distinct series, flat over 10 minutes; SPC monitor state per series.

The plant: bench/plant_generator.py `--machines 5000 --sensors 10` (sensor_rack_10 machines from
bench/simulators: 50,000 series), each machine sampled every `--interval` 5 s, so 10,000 readings/s in 1,000
grouped telemetry messages/s (QoS 1). The publisher (a separate process) builds each message with the
simulator's own encoder (`wire.telemetry_json`, units included) from in-control Gaussian values at the racks'
nominal levels; running the full simulator for 6 million readings would cost more CPU than ingestion itself.
Machines come online in `--waves` waves (10,000 series each, one every `--wave-seconds`), then the full plant
runs until `--duration` seconds. SPC is on (default settings). The racks publish no birth, so the monitor does not
know their rate and a series learns from `spc.phase1_points` 500 readings: 2,500 s at one every 5 s (with a birth
declaring 0.2 Hz, `spc.phase1_max_s` 1800 would cut it to 360). Phase I readings are kept exactly
(`ingest.phase_one`: for these 3-decimal readings 2 bytes each since 8efb47a, 4 at 11b57a5, 8 before), so in the default
10-minute run RSS still rises; the last wave ends its phase I about 2,650 s in, which `--duration 2900` covers.

`smartfactory ingest` (SQLite) runs as its own process with the series caps raised above 50,000
(`SMARTFACTORY_INGEST__MAX_SERIES=200000`). Its RSS is sampled from /proc every second; peak = VmHWM.
Baseline in the same run: its RSS idle after start-up, before the first message. Per 10,000 series: the RSS
step at the end of each wave. Flatness: least-squares slope of RSS over the second half of the run (MB/min) and
RSS at the end against RSS when the last wave was in. The SPC monitor's own state per series is measured
separately with tracemalloc: the same monitor (`services.build_monitor`) fed 10,000 series, once in phase I
(10 readings each) and once monitoring (60 readings each), in a child process.

    python bench/scale_cardinality.py [--duration 600] [--interval 5] [--waves 5] [--wave-seconds 30]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import private_broker, rss_kib, workdir
from scale_common import Health, cpu_seconds, ingest_env, load_now, machine_info, start_ingest_process

from smartfactory.settings import BrokerAddress

SENSORS = 10
MACHINES_PER_WAVE = 1000
GOAL_MB = 300


def rack_layout(machines: int) -> tuple[list[str], dict[str, tuple[str, float, float]]]:
    """Telemetry topics of the generated plant and the rack's channels (unit, nominal, sd)."""
    from plant_generator import BENCH_SIMULATORS, plant_toml

    from smartfactory.plant import parse_plant
    from smartfactory.sim.loader import discover
    from smartfactory.wire import MessageClass

    plant = parse_plant(plant_toml(machines, sensors=SENSORS), "<generated>")
    rack = discover(BENCH_SIMULATORS).get(f"sensor_rack_{SENSORS}").cls
    channels = {name: (s.unit, s.nominal, s.sd) for name, s in rack.sensors.items()}
    return [m.path.topic(MessageClass.TELEMETRY) for m in plant.machines], channels


def publisher_main(port: int, machines: int, interval: float, waves: int, wave_s: float, duration: float) -> None:
    """Child: wave w (0-based) of MACHINES_PER_WAVE machines starts at w × wave_s; every machine publishes every
    `interval` s (machines spread evenly over the interval) until `duration`."""
    from smartfactory.edge.mqtt import MqttClient
    from smartfactory.wire import telemetry_json

    topics, channels = rack_layout(machines)
    units = {name: unit for name, (unit, _, _) in channels.items()}
    noise = random.Random(3)
    client = MqttClient(BrokerAddress("127.0.0.1", port), client_id=f"card-pub-{os.getpid()}", max_outstanding=5000)
    client.connect()
    began = time.time()
    sent = 0
    tick = 0
    while True:
        now = time.time() - began
        if now >= duration:
            break
        online = min(machines, MACHINES_PER_WAVE * min(waves, int(now // wave_s) + 1))
        # one interval's worth of messages, spread evenly over it
        slot = interval / online
        start = began + tick * interval
        for i in range(online):
            delay = start + i * slot - time.time()
            if delay > 0.0005:
                time.sleep(delay)
            ts = int(time.time() * 1000)
            values = {name: round(nominal + sd * noise.gauss(0, 1), 3) for name, (_, nominal, sd) in channels.items()}
            client.publish(topics[i], telemetry_json([(ts, values)], units), qos=1)
            sent += 1
        tick += 1
    client.wait_published(60)
    client.close()
    print(json.dumps({"messages": sent, "readings": sent * SENSORS}))


def monitor_state_main() -> None:
    """Child: bytes of SPC monitor state per series (tracemalloc), in phase I and monitoring."""
    import tempfile
    import tracemalloc

    from smartfactory.model import Reading
    from smartfactory.services import build_monitor
    from smartfactory.settings import load_settings
    from smartfactory.storage.sqlite import SqliteStorage

    out: dict[str, Any] = {}
    # (label, series, readings each, spc.phase1_points): in phase I after 10 of its 500 readings; monitoring after
    # a phase I of 300 (the shortest that still gives a variance CUSUM, monitor_design.VARIANCE_MIN_PHASE1)
    cases = (("phase1_10_points", 10_000, 10, 500), ("monitoring_after_300_points", 2_000, 320, 300))
    with tempfile.TemporaryDirectory() as tmp:
        for phase, series, points, phase1 in cases:
            store = SqliteStorage(f"sqlite:///{tmp}/{phase}.db")
            config = load_settings(store=f"sqlite:///{tmp}/{phase}.db", data_dir=tmp, spc={"phase1_points": phase1})
            monitor = build_monitor(config, store)
            assert monitor is not None
            noise = random.Random(1)
            names = [f"scale/plant1/area-01/line-01/rack-{i:05d}/telemetry/bearing_temp_01" for i in range(series)]
            # five series through a whole phase I first: every import, first-use cache and design the measured
            # series will use is loaded before the measurement (lazy scipy imports alone were ~2.5 kB a series
            # of 10,000 when the warm-up ended inside phase I)
            warm = [Reading(f"warm/plant1/a/l/m{i}/telemetry/bearing_temp_01", 1000 + j * 1000,
                            48.0 + 0.3 * noise.gauss(0, 1)) for i in range(5) for j in range(phase1 + 20)]  # fmt: skip
            monitor.observe(warm)  # imports and first-use caches before the measurement
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            start_ms = 1_700_000_000_000
            for j in range(points):
                batch = [Reading(name, start_ms + j * 1000, 48.0 + 0.3 * noise.gauss(0, 1)) for name in names]
                monitor.observe(batch)
            monitor.take_limit_changes()
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            learning = sum(monitor.status(name).startswith("learning") for name in names)
            if (learning == series) != (points < phase1):
                raise RuntimeError(f"{phase}: {learning} of {series} series still learning")
            out[phase] = round((after - before) / series)
            store.close()
    print(json.dumps(out))


def slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    n = len(samples)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    num = sum((t - mt) * (r - mr) for t, r in samples)
    den = sum((t - mt) ** 2 for t, _ in samples) or 1.0
    return num / den * 60 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between two samples of a machine")
    parser.add_argument("--waves", type=int, default=5, help="waves of 1,000 machines (10,000 series)")
    parser.add_argument("--wave-seconds", type=float, default=30)
    parser.add_argument("--role", choices=["bench", "publisher", "monitor-state"], default="bench")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    machines = MACHINES_PER_WAVE * args.waves
    if args.role == "publisher":
        publisher_main(args.port, machines, args.interval, args.waves, args.wave_seconds, args.duration)
        return
    if args.role == "monitor-state":
        monitor_state_main()
        return
    load_start = load_now()
    samples: list[tuple[float, int, int, int]] = []  # (t, rss KiB, series, stored)
    with workdir("sf-scale-card-") as tmp, private_broker(tmp, queue_qos0=False) as broker:
        health = Health(broker.address)
        worker = f"card-{uuid.uuid4().hex[:6]}"
        ingest = start_ingest_process(broker.address, tmp / "card.db", worker, ingest_env(tmp))
        health.wait_ok(worker)
        time.sleep(2)
        idle_rss, _ = rss_kib(ingest.process.pid)
        cpu0 = cpu_seconds(ingest.process.pid)
        command = [sys.executable, __file__, "--role", "publisher", "--port", str(broker.address.port)]
        command += ["--duration", str(args.duration), "--interval", str(args.interval)]
        command += ["--waves", str(args.waves), "--wave-seconds", str(args.wave_seconds)]
        pub = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        began = time.monotonic()
        loads = []
        while pub.poll() is None:
            time.sleep(1.0)
            rss, _ = rss_kib(ingest.process.pid)
            latest = health.latest.get(worker, {})
            samples.append((time.monotonic() - began, rss, int(latest.get("series", 0)), int(latest.get("stored", 0))))
            if len(samples) % 60 == 0:
                loads.append(load_now())
                t, _, series, stored = samples[-1]
                row = {"t": round(t), "rss_mb": round(rss / 1024, 1), "series": series, "stored": stored}
                print(json.dumps({**row, "lag_ms": latest.get("lag_ms")}), file=sys.stderr)
        published = json.loads(pub.communicate()[0])
        deadline = time.monotonic() + 120
        while health.stored(worker) < published["readings"] and time.monotonic() < deadline:
            time.sleep(0.5)
        wall = time.monotonic() - began
        ingest_cpu = cpu_seconds(ingest.process.pid) - cpu0
        _, peak = rss_kib(ingest.process.pid)
        final = ingest.stop()
        health.close()
    state = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--role", "monitor-state"], capture_output=True, text=True, check=True
        ).stdout
    )
    per_wave = []
    for w in range(1, args.waves + 1):
        at = [s for s in samples if s[0] < w * args.wave_seconds]
        per_wave.append({"series": at[-1][2] if at else 0, "rss_mb": round(at[-1][1] / 1024, 1) if at else None})
    last_wave_in = args.waves * args.wave_seconds
    after_ramp = [s for s in samples if s[0] >= last_wave_in + 10]
    second_half = [(t, r) for t, r, _, _ in samples if t >= args.duration / 2]
    deltas = [b["rss_mb"] - a["rss_mb"] for a, b in itertools.pairwise(per_wave) if a["rss_mb"] and b["rss_mb"]]
    peak_mb = peak / 1024
    print(
        json.dumps(
            {
                "benchmark": "scale_cardinality",
                "series": final.get("series"),
                "duration_s": args.duration,
                "readings_per_s": round(published["readings"] / args.duration),
                "figure": {
                    "peak_rss_mb": round(peak_mb, 1),
                    "rss_after_last_wave_mb": round(after_ramp[0][1] / 1024, 1) if after_ramp else None,
                    "rss_at_end_mb": round(samples[-1][1] / 1024, 1),
                    "slope_second_half_mb_per_min": round(slope_mb_per_min(second_half), 3),
                    "rss_mb_per_10k_series_by_wave": [round(d, 1) for d in deltas],
                    "spc_monitor_bytes_per_series_tracemalloc": state,
                },
                "baseline": {"idle_rss_after_start_mb": round(idle_rss / 1024, 1)},
                "ratio": {"peak_vs_idle": round(peak / idle_rss, 3), "peak_vs_goal_300mb": round(peak_mb / GOAL_MB, 3)},
                "goal": f"peak RSS <= {GOAL_MB} MB with 50,000 series, flat",
                "stored": final.get("stored"),
                "published_readings": published["readings"],
                "lossless": final.get("stored") == published["readings"],
                "rejected": final.get("rejected"),
                "ingest_cpu_cores_mean": round(ingest_cpu / wall, 3),
                "waves": per_wave,
                "load_avg_1m_at_start": load_start,
                "load_avg_1m_each_minute": loads,
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
