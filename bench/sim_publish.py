"""How many readings per second one simulator process publishes, at QoS 0 and QoS 1, and its peak memory.

The figure: the default plant simulated as fast as possible (`smartfactory simulate --speed 0`: telemetry in
`batch` messages, one MQTT connection per machine) into a private mosquitto, from the start of the run until
the broker has acknowledged (QoS 1) or taken (QoS 0) the last message; readings = sensor values in telemetry.

The baseline, measured in the same run: the *same* messages (topics, payloads, retain flags and QoS as the
simulator sent them), built beforehand, published by one bare `MqttClient` (paho) connection. The ratio
figure / baseline says how much of the transport's speed the simulator keeps while it also simulates and
encodes. Every mode runs in its own child process, so that each peak RSS belongs to that mode alone.

    python bench/sim_publish.py [--hours 6] [--repeat 3] [--inline]

`--inline` adds the live message shape (one message per machine and sampling instant) at full speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL_QOS0 = 20_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def make_simulation(hours: float) -> Any:
    from smartfactory.sim.engine import Simulation
    from smartfactory.sim.loader import discover
    from smartfactory.sim.plant import load_plant

    plant = load_plant(ROOT / "simulators" / "plants" / "default.toml")
    start = int(time.time() * 1000) - round(hours * 3_600_000)
    return Simulation(plant, discover(ROOT / "simulators"), seed=42, start_ms=start)


def child_simulate(url: str, qos: int, hours: float, inline: bool) -> dict[str, Any]:
    from smartfactory.settings import parse_mqtt_url
    from smartfactory.sim.publisher import PlantPublisher
    from smartfactory.sim.runner import RunStats, run

    sim = make_simulation(hours)
    publisher = PlantPublisher(parse_mqtt_url(url), sim.machines, qos=qos)
    publisher.connect()
    stats = RunStats()
    sent_bytes = 0

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        nonlocal sent_bytes
        sent_bytes += len(payload)
        publisher(topic, payload, retain)

    started = time.perf_counter()
    run(sim, publish, speed=0, duration_s=hours * 3600, stats=stats, batch_ticks=1 if inline else 300)
    if not publisher.wait_published(120):
        raise RuntimeError("the broker did not take every message within 120 s")
    seconds = time.perf_counter() - started
    publisher.close()
    return {
        "seconds": seconds,
        "readings": stats.readings,
        "messages": stats.messages,
        "bytes": sent_bytes,
        "peak_rss_mb": peak_rss_mb(),
    }


def child_baseline(url: str, qos: int, hours: float, inline: bool) -> dict[str, Any]:
    from smartfactory.edge.mqtt import MqttClient
    from smartfactory.settings import parse_mqtt_url
    from smartfactory.sim.runner import RunStats, run
    from smartfactory.wire import MessageClass, Topic

    sim = make_simulation(hours)
    messages: list[tuple[str, bytes, bool, int]] = []

    def keep(topic: str, payload: bytes, retain: bool) -> None:
        cls = Topic.parse(topic).cls
        messages.append((topic, payload, retain, qos if cls is MessageClass.TELEMETRY else 1))

    stats = RunStats()
    run(sim, keep, speed=0, duration_s=hours * 3600, stats=stats, batch_ticks=1 if inline else 300)
    client = MqttClient(parse_mqtt_url(url), client_id=f"bench-baseline-{os.getpid()}", max_outstanding=4000)
    client.connect()
    started = time.perf_counter()
    for topic, payload, retain, message_qos in messages:
        client.publish(topic, payload, qos=message_qos, retain=retain)
    if not client.wait_published(120):
        raise RuntimeError("the broker did not take every baseline message within 120 s")
    seconds = time.perf_counter() - started
    client.close()
    return {
        "seconds": seconds,
        "readings": stats.readings,
        "messages": len(messages),
        "bytes": sum(len(m[1]) for m in messages),
        "peak_rss_mb": peak_rss_mb(),
    }


def in_child(kind: str, url: str, qos: int, hours: float, inline: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", kind, "--url", url, "--qos", str(qos), "--hours", str(hours)]
    if inline:
        command.append("--inline")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(url: str, qos: int, hours: float, repeat: int, inline: bool) -> dict[str, Any]:
    sims = [in_child("simulate", url, qos, hours, inline) for _ in range(repeat)]
    bases = [in_child("baseline", url, qos, hours, inline) for _ in range(repeat)]
    sim_rate = statistics.median(r["readings"] / r["seconds"] for r in sims)
    base_rate = statistics.median(r["readings"] / r["seconds"] for r in bases)
    first = sims[0]
    return {
        "readings_per_s": round(sim_rate),
        "messages_per_s": round(statistics.median(r["messages"] / r["seconds"] for r in sims)),
        "seconds": [round(r["seconds"], 3) for r in sims],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in sims), 1),
        "baseline_readings_per_s": round(base_rate),
        "baseline_seconds": [round(r["seconds"], 3) for r in bases],
        "baseline_peak_rss_mb": round(max(r["peak_rss_mb"] for r in bases), 1),
        "ratio": round(sim_rate / base_rate, 3),
        "readings": first["readings"],
        "messages": first["messages"],
        "bytes": first["bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=6.0, help="simulated hours of the default plant")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the median is reported")
    parser.add_argument("--inline", action="store_true", help="also measure live-shaped messages at full speed")
    parser.add_argument("--child", choices=["simulate", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--qos", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        work = child_simulate if args.child == "simulate" else child_baseline
        print(json.dumps(work(args.url, args.qos, args.hours, args.inline)))
        return

    from smartfactory.edge.broker import start_mosquitto
    from smartfactory.settings import BrokerAddress

    if shutil.which("mosquitto") is None:
        sys.exit("this benchmark needs mosquitto: sudo apt-get install mosquitto")
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), Path(tmp) / "mosquitto")
        url = broker.address.url(masked=False)
        try:
            results: dict[str, Any] = {
                f"qos{qos}": measure(url, qos, args.hours, args.repeat, inline=False) for qos in (0, 1)
            }
            if args.inline:
                results["qos0_inline"] = measure(url, 0, args.hours, args.repeat, inline=True)
        finally:
            broker.stop()
    print(
        json.dumps(
            {
                "figure": "readings/s one simulator process publishes (default plant, as fast as possible)",
                "baseline": "the same pre-built messages published by one bare MqttClient (paho) connection",
                "simulated_hours": args.hours,
                "repeat": args.repeat,
                **results,
                "goal_qos0_readings_per_s": GOAL_QOS0,
                "meets_goal": results["qos0"]["readings_per_s"] >= GOAL_QOS0,
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
