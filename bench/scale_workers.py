"""(4) Scale out: 1, 2 and 4 ingestion workers in one shared-subscription group on one mosquitto.

The backlog: the scale plant's live grouped telemetry (bench/scale_common.py: the simulator's messages for the
generated plant, shipped machine types at 10 Hz, 2.7 readings per message). For each worker count n, in the same
run: n `smartfactory ingest --group scale --client-id wK` processes (SQLite, one shared file as on one
machine, SPC on) start and subscribe, are held still with SIGSTOP while the backlog is published at QoS 1
(mosquitto splits a shared subscription's messages round-robin over the members and buffers them), then are
released together with SIGCONT and drain it, so the publisher never competes for the cores. Rate = readings
stored between 10 % and 90 % of the backlog (from the newest stored timestamp of probe series, the backlog being
in time order) / the time between. CPU per process (each worker, the broker: used, and runnable but waiting for
a core) and of the whole machine (/proc/stat, every process of every user)
over the same window show where the two cores run out. Zero loss: the workers' final `stored` counters add up
to the backlog's readings. Baseline in the same run: the single worker.

    python bench/scale_workers.py [--workers 1 2 4] [--messages 120000] [--fast]

Prints JSON: figure (readings/s per worker count), baseline (1 worker), ratio (speed-up), CPU per process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import drop_session, private_broker, publish_all, workdir
from scale_common import (
    CpuWatch,
    Health,
    Msg,
    ingest_env,
    load_now,
    machine_info,
    plant_stream,
    reading_keys,
    start_ingest_process,
)

from smartfactory.settings import BrokerAddress

GROUP = "scale"


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat (busy = total − idle − iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


class Progress:
    """How far through the backlog the workers are: the newest stored timestamp of a few probe series (one
    indexed look-up each) between that series' first and last timestamp in the backlog. The backlog is published
    in time order, so this tracks the stored fraction without counting rows (a `count(*)` would cost the cores
    being measured); 1.0 = every probe series holds its last reading."""

    def __init__(self, db: Path, spans: dict[str, tuple[int, int]]) -> None:
        self.db, self.spans = db, spans
        self._reader: sqlite3.Connection | None = None
        self._ids: dict[int, str] = {}

    def fraction(self) -> float:
        try:
            if self._reader is None:
                if not self.db.exists():
                    return 0.0
                self._reader = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
            if len(self._ids) < len(self.spans):
                marks = ",".join("?" * len(self.spans))
                rows = self._reader.execute(f"SELECT id, topic FROM series WHERE topic IN ({marks})", list(self.spans))
                self._ids = {row[0]: row[1] for row in rows}
                if len(self._ids) < len(self.spans):
                    return 0.0
            newest = {
                topic: self._reader.execute("SELECT max(ts) FROM readings WHERE series_id = ?", (i,)).fetchone()[0]
                for i, topic in self._ids.items()
            }
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0.0

        def part(topic: str, ts: int | None) -> float:
            first, last = self.spans[topic]
            if ts is None:
                return 0.0
            return 1.0 if ts >= last else (ts - first) / max(1, last - first)

        return min(part(topic, ts) for topic, ts in newest.items())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def probe_spans(chosen: list[Msg], every: int = 7) -> dict[str, tuple[int, int]]:
    """One sensor (the first of its first message) of every `every`-th machine (7: coprime with the worker counts,
    so the probes sit on every worker of a round-robin group): its first and last timestamp in the backlog."""
    sensor: dict[int, str] = {}
    spans: dict[str, tuple[int, int]] = {}
    for m in chosen:
        if m.machine % every:
            continue
        keys = reading_keys(m)
        series = sensor.setdefault(m.machine, keys[0][0])
        for name, ts in keys:
            if name == series:
                first, last = spans.get(series, (ts, ts))
                spans[series] = (min(first, ts), max(last, ts))
    return spans


def run_workers(address: BrokerAddress, tmp: Path, n: int, messages: list[tuple[str, bytes]], readings: int,
                spans: dict[str, tuple[int, int]], broker_pid: int, fast: bool,
                health: Health) -> dict[str, Any]:  # fmt: skip
    db = tmp / f"workers-{n}.db"
    env = ingest_env(tmp, mqtt__fast_reader="true" if fast else "false", ingest__health_interval="0.2")
    names = [f"w{n}-{k}" for k in range(n)]
    workers = [start_ingest_process(address, db, name, env, group=GROUP) for name in names]
    for w in workers:
        health.wait_ok(w.worker, timeout=60)
    # Hold the connected, subscribed workers still (SIGSTOP) while the backlog is published: the broker splits it
    # round-robin over them and buffers it; SIGCONT releases them together. A parked offline session would do
    # the same, but a worker restarting on a large backlog waits for its SUBACK behind the queued messages.
    for w in workers:
        os.kill(w.process.pid, signal.SIGSTOP)
    try:
        publish_all(address, messages)
        load = load_now()
    finally:
        for w in workers:
            os.kill(w.process.pid, signal.SIGCONT)

    def stored() -> int:
        return sum(health.stored(name) for name in names)

    progress = Progress(db, spans)
    deadline = time.monotonic() + 600
    marks: dict[str, float] = {}
    watch = CpuWatch({name: w.process.pid for name, w in zip(names, workers, strict=True)} | {"broker": broker_pid})
    busy_at: dict[str, tuple[float, float]] = {}
    for label, fraction in (("p10", 0.1), ("p90", 0.9)):
        while (done := progress.fraction()) < fraction:
            if os.environ.get("BENCH_DEBUG"):
                print(f"progress {done:.3f} stored {stored()}", file=sys.stderr)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} workers did not get through the backlog in 600 s")
            time.sleep(0.02)
        marks[label] = time.perf_counter()
        busy_at[label] = machine_busy()
        if label == "p10":
            watch.start()
        else:
            cpu = watch.stop()
    progress.close()
    while stored() < readings and time.monotonic() < deadline:
        time.sleep(0.05)
    finals = [w.stop() for w in workers]
    for name in names:  # leave the group: an offline member would get its share of the next backlog
        drop_session(address, name)
    wall = marks["p90"] - marks["p10"]
    if wall < 2.0:
        raise SystemExit(f"the backlog drained in {wall:.2f} s between 10 % and 90 %: give more --messages")
    rate = 0.8 * readings / wall  # the backlog is in time order and its readings are spread evenly over time
    busy = (busy_at["p90"][0] - busy_at["p10"][0]) / (busy_at["p90"][1] - busy_at["p10"][1])
    total_stored = sum(int(f.get("stored", 0)) for f in finals)
    return {
        "workers": n,
        "readings_per_s": round(rate),
        "window_s": round(wall, 2),
        "cpu_cores": cpu,
        "cpu_cores_workers_total": round(sum(cpu[k]["cpu"] for k in names), 3),
        "waiting_for_cpu_workers_total": round(sum(cpu[k]["waiting_for_cpu"] for k in names), 3),
        "machine_cpu_busy_fraction_all_processes": round(busy, 3),
        "series_seen_per_worker": [f.get("series") for f in finals],
        "received_per_worker": [f.get("received") for f in finals],
        "stored_total": total_stored,
        "duplicates_total": sum(int(f.get("duplicates", 0)) for f in finals),
        "lossless": total_stored == readings,
        "load_avg_1m": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--messages", type=int, default=120_000)
    parser.add_argument("--fast", action="store_true", help="workers use the fast reader")
    args = parser.parse_args()
    machines = 400
    stream = plant_stream(machines, None, 10.0, args.messages / (machines * 10.0) + 1)
    chosen = stream.messages[: args.messages]
    messages = [(m.topic, m.payload) for m in chosen]
    readings = sum(m.readings for m in chosen)
    spans = probe_spans(chosen)
    results = []
    with workdir("sf-scale-workers-") as tmp, private_broker(tmp) as broker:
        broker_pid = broker._process.pid if broker._process else 0
        health = Health(broker.address)
        for n in args.workers:
            result = run_workers(broker.address, tmp, n, messages, readings, spans, broker_pid, args.fast,
                                 health)  # fmt: skip
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
        health.close()
    base = next((r for r in results if r["workers"] == 1), results[0])
    print(
        json.dumps(
            {
                "benchmark": "scale_workers",
                "messages": len(messages),
                "readings": readings,
                "reader": "fast" if args.fast else "paho",
                "store": "one SQLite file shared by the workers",
                "figure": {f"{r['workers']}_workers_readings_per_s": r["readings_per_s"] for r in results},
                "baseline": {"1_worker_readings_per_s": base["readings_per_s"]},
                "ratio": {
                    f"{r['workers']}_vs_1": round(r["readings_per_s"] / base["readings_per_s"], 3) for r in results
                },
                "runs": results,
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
