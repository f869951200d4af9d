"""Simulator publishing throughput as Sparkplug B (`simulate --format sparkplug`) against wire format v1 (`--format
uns`), in the same run, into the same private mosquitto.

The figure: readings per second of wall time that `SparkplugPublisher` publishes for the default plant simulated
as fast as possible (speed 0, telemetry batches), from the start of the run until the broker acknowledged the last
message (QoS 1). The baseline: `PlantPublisher` (JSON) for the same plant, seed and simulated time. Both run in
turn, `--repeat` times each, alternating; medians are reported with the ratio sparkplug / uns. The Sparkplug run
includes its translation (JSON → alias-only protobuf metrics) and the UNS control plane it keeps for `inject`.

    python bench/sparkplug_simulate.py [--hours 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from smartfactory.edge.broker import start_mosquitto  # noqa: E402
from smartfactory.settings import BrokerAddress  # noqa: E402
from smartfactory.sim.engine import Simulation  # noqa: E402
from smartfactory.sim.loader import discover  # noqa: E402
from smartfactory.sim.plant import load_plant  # noqa: E402
from smartfactory.sim.publisher import PlantPublisher  # noqa: E402
from smartfactory.sim.runner import RunStats, run  # noqa: E402
from smartfactory.sim.sparkplug_publisher import SparkplugPublisher  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_run(address: BrokerAddress, wire_format: str, hours: float, start_ms: int) -> tuple[float, float, RunStats]:
    """Wall seconds from the start until the broker acknowledged everything, CPU seconds of this process (every
    thread: simulation, translation, paho) meanwhile, and the run's counts."""
    sim = Simulation(load_plant(ROOT / "simulators/plants/default.toml"), discover(ROOT / "simulators"), seed=42,
                     start_ms=start_ms)  # fmt: skip
    publisher: PlantPublisher | SparkplugPublisher
    if wire_format == "sparkplug":
        publisher = SparkplugPublisher(address, sim.machines, qos=1, on_command=sim.command)
    else:
        publisher = PlantPublisher(address, sim.machines, qos=1, on_command=sim.command)
    publisher.connect()
    stats = RunStats()
    started, cpu = time.perf_counter(), time.process_time()
    run(sim, publisher, speed=0, duration_s=hours * 3600, stats=stats)
    if not publisher.wait_published(120):
        raise SystemExit(f"{wire_format}: the broker did not acknowledge everything within 120 s")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    publisher.close()
    return elapsed, cpu, stats


def payload_bytes(hours: float, start_ms: int) -> tuple[int, int, int]:
    """Payload bytes of the same run as wire-v1 JSON and as Sparkplug B (data plane: births and DDATA, translated
    without a broker), and its readings."""
    sim = Simulation(load_plant(ROOT / "simulators/plants/default.toml"), discover(ROOT / "simulators"), seed=42,
                     start_ms=start_ms)  # fmt: skip
    sent: list[tuple[str, bytes]] = []
    stats = RunStats()
    run(sim, lambda topic, payload, _: sent.append((topic, payload)), speed=0, duration_s=hours * 3600, stats=stats)
    offline = SparkplugPublisher(BrokerAddress("127.0.0.1", 9), sim.machines, control=False)
    frames = []
    for node in offline.nodes.values():  # "connected" without a broker
        node.session.will()
        frames += node.session.births()
    for topic, payload in sent:
        frames += [frame for frame, _ in offline.translate(topic, payload)]
    return sum(len(p) for _, p in sent), sum(len(f.payload) for f in frames), stats.readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=6.0, help="simulated hours per run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        broker = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), Path(tmp))
        try:
            start_ms = int(time.time() * 1000) - round(args.hours * 3_600_000)
            rates: dict[str, list[float]] = {"uns": [], "sparkplug": []}
            cpus: dict[str, list[float]] = {"uns": [], "sparkplug": []}
            counts: dict[str, RunStats] = {}
            for i in range(args.repeat):
                order = ("uns", "sparkplug") if i % 2 == 0 else ("sparkplug", "uns")
                for wire_format in order:
                    elapsed, cpu, stats = one_run(broker.address, wire_format, args.hours, start_ms)
                    rates[wire_format].append(stats.readings / elapsed)
                    cpus[wire_format].append(cpu / stats.readings * 1e6)
                    counts[wire_format] = stats
                    print(f"  run {i + 1} {wire_format:9s} {stats.readings:>9,} readings in {elapsed:6.2f} s "
                          f"= {stats.readings / elapsed:>9,.0f} readings/s, {cpu:6.2f} CPU s")  # fmt: skip
        finally:
            broker.stop()
    uns, spb = statistics.median(rates["uns"]), statistics.median(rates["sparkplug"])
    assert counts["uns"].readings == counts["sparkplug"].readings  # the same plant, seed and time
    print(f"python {platform.python_version()}, default plant, {args.hours:g} simulated h, QoS 1, mosquitto")
    print(f"figure   sparkplug: {spb:>9,.0f} readings/s (median of {args.repeat})")
    print(f"baseline uns:       {uns:>9,.0f} readings/s (median of {args.repeat})")
    print(f"ratio    sparkplug / uns = {spb / uns:.2f}")
    cpu_uns, cpu_spb = statistics.median(cpus["uns"]), statistics.median(cpus["sparkplug"])
    json_bytes, spb_bytes, readings = payload_bytes(args.hours, start_ms)
    print(f"payload bytes per reading: sparkplug {spb_bytes / readings:.1f}, uns {json_bytes / readings:.1f} "
          f"(ratio {spb_bytes / json_bytes:.2f}; topics and MQTT headers not counted)")  # fmt: skip
    print(f"CPU of the simulator process per reading: sparkplug {cpu_spb:.1f} µs, uns {cpu_uns:.1f} µs, "
          f"ratio {cpu_spb / cpu_uns:.2f} (less sensitive than wall time to other load on the machine)")  # fmt: skip


if __name__ == "__main__":
    main()
