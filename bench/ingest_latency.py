"""(c) Publish → queryable latency at 5,000 readings/s, p50 and p99.

Processes: a private mosquitto; `smartfactory ingest` (SQLite, SPC on, as shipped); a publisher process sending
single-reading QoS 1 messages at a fixed rate (one series; the reading's timestamp is start + sequence number, so
every reading has its own key); and this process, which polls the SQLite file read-only every 2 ms and notes when
each reading becomes visible. Latency = first seen in a query − handed to the publisher's client (both on this
machine's clock). Baseline in the same run: a bare paho subscriber receiving the same stream (publish → received:
what the MQTT transport alone costs). Goal: p99 ≤ 250 ms.

    python bench/ingest_latency.py [--rate 5000] [--duration 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import machine_info, percentile, private_broker, workdir

from smartfactory.settings import BrokerAddress

SERIES = "bench/plant1/area/line-1/latency/telemetry/x"


def publisher(port: int, rate: float, duration: float, start_ms: int, out: Path) -> None:
    """Child process: publish at `rate` messages/s, write {seq: send time} to `out`."""
    from smartfactory.edge.mqtt import MqttClient

    client = MqttClient(BrokerAddress("127.0.0.1", port), client_id=f"lat-pub-{os.getpid()}", max_outstanding=5000)
    client.connect()
    sent: list[float] = []
    count = int(rate * duration)
    began = time.perf_counter()
    for seq in range(count):
        due = began + seq / rate
        delay = due - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
        payload = b'{"value":%d,"ts":%d}' % (seq, start_ms + seq)
        sent.append(time.time())
        client.publish(SERIES, payload, qos=1)
    client.wait_published(60)
    client.close()
    out.write_text(json.dumps({"sent": sent, "elapsed": time.perf_counter() - began}))


def run_publisher(port: int, rate: float, duration: float, start_ms: int, out: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--role", "publisher", "--port", str(port), "--rate", str(rate)]
    args += ["--duration", str(duration), "--start-ms", str(start_ms), "--out", str(out)]
    return subprocess.Popen(args)


def wait_for_health(address: BrokerAddress, worker: str, timeout: float = 30) -> None:
    from smartfactory.edge.mqtt import Message, MqttClient

    seen = threading.Event()

    def on_message(message: Message) -> None:
        if b'"state": "ok"' in message.payload:
            seen.set()

    client = MqttClient(address, on_message=on_message)
    client.subscribe(f"_sf/health/{worker}", qos=0)
    client.connect()
    ok = seen.wait(timeout)
    client.close()
    if not ok:
        raise RuntimeError("ingestion did not start")


def measure_ingest(address: BrokerAddress, tmp: Path, rate: float, duration: float) -> dict[str, float]:
    db = tmp / "latency.db"
    worker = f"lat-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env.update({"SMARTFACTORY_DATA_DIR": str(tmp), "SMARTFACTORY_LOG_LEVEL": "WARNING"})
    command = [sys.executable, "-m", "smartfactory", "ingest", "--mqtt-url", address.url()]
    command += ["--store", f"sqlite:///{db}", "--client-id", worker]
    ingest = subprocess.Popen(
        command,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_health(address, worker)
        start_ms = int(time.time() * 1000) - 3_600_000
        out = tmp / "sent-ingest.json"
        pub = run_publisher(address.port, rate, duration, start_ms, out)
        seen: dict[int, float] = {}
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        last = start_ms - 1
        series_id = None
        total = int(rate * duration)
        deadline = time.monotonic() + duration + 60
        while len(seen) < total and time.monotonic() < deadline:
            if series_id is None:
                row = reader.execute("SELECT id FROM series WHERE topic = ?", (SERIES,)).fetchone()
                series_id = row[0] if row else None
            if series_id is not None:
                rows = reader.execute(
                    "SELECT ts FROM readings WHERE series_id = ? AND ts > ? ORDER BY ts", (series_id, last)
                ).fetchall()
                now = time.time()
                for (ts,) in rows:
                    seen.setdefault(ts - start_ms, now)
                if rows:
                    last = rows[-1][0]
            time.sleep(0.002)
        pub.wait(120)
        sent = json.loads(out.read_text())["sent"]
        reader.close()
    finally:
        ingest.terminate()
        ingest.wait(30)
    if len(seen) != len(sent):
        raise RuntimeError(f"lost readings: {len(seen)}/{len(sent)} became queryable")
    latencies = [(seen[i] - sent[i]) * 1000 for i in range(len(sent))]
    if os.environ.get("BENCH_DEBUG"):
        step = int(rate)
        for i in range(0, len(latencies), step):
            window = latencies[i : i + step]
            p50, p99 = percentile(window, 50), percentile(window, 99)
            print(f"second {i // step}: p50 {p50:.1f} p99 {p99:.1f} max {max(window):.1f}", file=sys.stderr)
    return summary(latencies)


def measure_baseline(address: BrokerAddress, tmp: Path, rate: float, duration: float) -> dict[str, float]:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received: dict[int, float] = {}

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        received[json.loads(msg.payload)["value"]] = time.time()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"lat-base-{uuid.uuid4().hex[:6]}")
    client.on_message = on_message
    client.connect(address.host, address.port)
    client.subscribe(SERIES, qos=1)
    client.loop_start()
    time.sleep(0.5)
    out = tmp / "sent-baseline.json"
    pub = run_publisher(address.port, rate, duration, 0, out)
    pub.wait(duration + 120)
    total = int(rate * duration)
    deadline = time.monotonic() + 30
    while len(received) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    sent = json.loads(out.read_text())["sent"]
    if len(received) != len(sent):
        raise RuntimeError(f"baseline lost messages: {len(received)}/{len(sent)}")
    return summary([(received[i] - sent[i]) * 1000 for i in range(len(sent))])


def summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(latencies_ms, 50), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "max_ms": round(max(latencies_ms), 2),
        "n": len(latencies_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--role", default="bench", choices=["bench", "publisher"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--start-ms", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.role == "publisher":
        publisher(args.port, args.rate, args.duration, args.start_ms, args.out)
        return
    with workdir("sf-bench-latency-") as tmp, private_broker(tmp, queue_qos0=False) as broker:
        baseline = measure_baseline(broker.address, tmp, args.rate, args.duration)
        figure = measure_ingest(broker.address, tmp, args.rate, args.duration)
    print(
        json.dumps(
            {
                "benchmark": "ingest_latency",
                "rate_readings_per_s": args.rate,
                "duration_s": args.duration,
                "figure": {"publish_to_queryable": figure},
                "baseline": {"publish_to_received_bare_paho": baseline},
                "ratio": {"p99": round(figure["p99_ms"] / baseline["p99_ms"], 2)},
                "goal": "p99 <= 250 ms",
                "poll_interval_ms": 2,
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
