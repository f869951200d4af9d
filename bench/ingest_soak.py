"""(d) Peak RSS of `smartfactory ingest` at full load, and whether it stays flat over a soak (goal ≤ 250 MB, flat).

`smartfactory ingest` (SQLite, SPC on, as shipped) runs as its own process. A closed-loop publisher keeps it
saturated: it sends MachineTelemetry batch messages (100 instants × 10 sensors) and single readings as fast as the
broker takes them while the backlog (published − stored, read from the worker's health messages) is under 200,000
readings, so ingestion always has work and the broker's queue stays bounded. RSS is sampled from /proc every second.
Baseline in the same run: the same process idle after start-up. Flatness: the least-squares slope of RSS over the
second half of the soak (MB per minute) and RSS after the first minute vs at the end.

    python bench/ingest_soak.py [--duration 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import batch_messages, machine_info, private_broker, rss_kib, single_readings, workdir

from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.settings import BrokerAddress

WINDOW = 200_000


class Health:
    def __init__(self, address: BrokerAddress, worker: str) -> None:
        self.latest: dict[str, object] = {}
        self.client = MqttClient(address, on_message=self._take)
        self.client.subscribe(f"_sf/health/{worker}", qos=0)
        self.client.connect()

    def _take(self, message: Message) -> None:
        self.latest = json.loads(message.payload)

    def stored(self) -> int:
        value = self.latest.get("stored", 0)
        return value if isinstance(value, int) else 0


def slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    num = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples) or 1.0
    return num / den * 60 / 1024  # KiB/s → MB/min


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300)
    args = parser.parse_args()
    with workdir("sf-bench-soak-") as tmp, private_broker(tmp, queue_qos0=False) as broker:
        worker = f"soak-{uuid.uuid4().hex[:6]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
        env.update(
            {
                "SMARTFACTORY_DATA_DIR": str(tmp),
                "SMARTFACTORY_LOG_LEVEL": "WARNING",
                "SMARTFACTORY_INGEST__HEALTH_INTERVAL": "0.5",
            }
        )
        ingest = subprocess.Popen(
            [
                *(sys.executable, "-m", "smartfactory", "ingest", "--mqtt-url", broker.address.url()),
                *("--store", f"sqlite:///{tmp / 'soak.db'}", "--client-id", worker),
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        health = Health(broker.address, worker)
        while not health.latest:
            time.sleep(0.1)
        time.sleep(2)
        idle_kib = rss_kib(ingest.pid)[0]

        stop = threading.Event()
        published = [0]

        def publish() -> None:
            client = MqttClient(broker.address, client_id=f"soak-pub-{os.getpid()}", max_outstanding=2000)
            client.connect()
            start_ms = int(time.time() * 1000) - 86_000_000  # a day of history to fill, never in the future
            round_ = 0
            while not stop.is_set():
                batches = batch_messages(20, 100, 10, start_ms=start_ms + round_ * 40_000)
                singles = single_readings(2000, enterprise="single", start_ms=start_ms + round_ * 2000)
                for topic, payload in [*batches, *singles]:
                    while published[0] - health.stored() > WINDOW and not stop.is_set():
                        time.sleep(0.01)
                    client.publish(topic, payload, qos=1, timeout=60)
                    published[0] += 1000 if b"batch" in payload else 1
                round_ += 1
            client.close(flush_timeout=10)

        sender = threading.Thread(target=publish, daemon=True)
        started = time.monotonic()
        sender.start()
        samples: list[tuple[float, int]] = []
        while time.monotonic() - started < args.duration:
            time.sleep(1)
            samples.append((time.monotonic() - started, rss_kib(ingest.pid)[0]))
        stored_at_end = health.stored()
        peak_kib = rss_kib(ingest.pid)[1]
        stop.set()
        sender.join(60)
        ingest.terminate()
        ingest.wait(60)
        health.client.close()
    second_half = [s for s in samples if s[0] >= args.duration / 2]
    after_first_minute = next((r for t, r in samples if t >= min(60, args.duration / 2)), samples[0][1])
    print(
        json.dumps(
            {
                "benchmark": "ingest_soak",
                "duration_s": args.duration,
                "figure": {
                    "peak_rss_mb": round(peak_kib / 1024, 1),
                    "rss_after_first_minute_mb": round(after_first_minute / 1024, 1),
                    "rss_at_end_mb": round(samples[-1][1] / 1024, 1),
                    "rss_slope_second_half_mb_per_min": round(slope_mb_per_min(second_half), 2),
                    "stored_readings": stored_at_end,
                    "readings_per_s": round(stored_at_end / args.duration),
                },
                "baseline": {"idle_rss_mb": round(idle_kib / 1024, 1)},
                "ratio": {
                    "peak_vs_idle": round(peak_kib / idle_kib, 2),
                    "peak_vs_goal_250mb": round(peak_kib / 1024 / 250, 3),
                },
                "goal": "peak RSS <= 250 MB and flat",
                "rss_mb_every_10s": [round(r / 1024, 1) for t, r in samples[9::10]],
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
