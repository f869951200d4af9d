"""How many value changes per second the OPC UA bridge carries from a local OPC UA server onto MQTT (goal ≥ 5,000/s),
and the server's own limit, measured in the same run.

The server: our `PlantServer` (asyncua) in a child process, `--machines` × `--signals` Double variables, fed by a
thread that writes every variable with a new SourceTimestamp, round after round, as fast as the server takes
it (saturated: the offered load is more than any subscriber gets).

The baseline (the server's own limit): a bare asyncua client in this process with one subscription and one
monitored item per variable (the same publishing interval, queue size and trigger as the bridge), counting the
data-change notifications it receives and doing nothing else with them. The figure: `OpcUaBridge` against the
same server, publishing wire v1 `MachineTelemetry` through its `Outbox` into a private mosquitto (amqtt where
mosquitto is missing); readings published per second. Both run `--seconds` after a `--warmup`, one after the
other against the same server (fed only while one of them is measured). The ratio figure / baseline says how
much of what the server can deliver the bridge carries to MQTT. The load average is printed: the machine is
shared, and both sides compete with everything else on it for the CPU.

    python bench/opcua_bridge.py [--machines 20] [--signals 25] [--seconds 10] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOAL = 5_000.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plant(machines: int, signals: int) -> list[tuple[Any, Any]]:
    from smartfactory.wire import MachineInfo, MachinePath, SignalInfo

    info = MachineInfo(
        machine_type="bench",
        sample_interval_s=1.0,
        signals={f"s{j:03d}": SignalInfo(kind="process", unit="°C") for j in range(signals)},
    )
    return [(MachinePath("bench", "site", "area", "line", f"m{i:03d}"), info) for i in range(machines)]


# ------------------------------------------------------------------------------------------ the server (child)


def serve(endpoint: str, machines: int, signals: int) -> None:
    """Run the server; feed it while told to (`feed` / `pause` lines on stdin, answered `ok` with the writes per
    second of the phase before), until stdin closes."""
    from asyncua import ua

    from smartfactory.opcua.server import PlantServer, source_time

    the_plant = plant(machines, signals)
    server = PlantServer(endpoint, the_plant)
    server.start()
    nodes = [server.node_id(path, name) for path, info in the_plant for name in info.signals]
    feeding = threading.Event()
    written = [0]

    def feed() -> None:
        ts = int(time.time() * 1000) - 3_600_000
        good = ua.StatusCode(0)
        while True:
            feeding.wait()
            ts += 1
            stamp = source_time(ts)
            batch = [
                (node, ua.DataValue(ua.Variant(float(ts % 997 + k), ua.VariantType.Double), good, stamp))
                for k, node in enumerate(nodes)
            ]
            server.write_now(batch)
            written[0] += len(batch)

    threading.Thread(target=feed, daemon=True).start()
    print("ready", flush=True)
    since, count = time.monotonic(), 0
    for line in sys.stdin:
        now = time.monotonic()
        rate = (written[0] - count) / (now - since)
        since, count = now, written[0]
        if line.strip() == "feed":
            feeding.set()
        else:
            feeding.clear()
        print(json.dumps({"written_per_s": rate}), flush=True)
    feeding.clear()
    server.close(offline=False)


# ------------------------------------------------------------------------------------------ the two subscribers


async def count_baseline(
    endpoint: str, control: Control, warmup: float, seconds: float, publishing_ms: float, queue: int
) -> float:
    """Data-change notifications per second a bare asyncua subscription receives."""
    from asyncua import Client, ua

    from smartfactory.opcua.bridge import _QUEUED, EVENT_QUEUE
    from smartfactory.opcua.browse import browse_plant, resolve

    counted = [0]

    class Count:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            counted[0] += 1

    async with Client(endpoint, watchdog_intervall=WATCHDOG_S) as client:
        node_map = await browse_plant(client)
        consumer = None
        if _QUEUED:  # asyncua ≥ 2: the cheapest way to receive (a queue, no task per change), as the bridge does
            subscription = await client.create_subscription(publishing_ms, None, queue_maxsize=EVENT_QUEUE)

            async def consume() -> None:
                async for _ in subscription:
                    counted[0] += 1

            consumer = asyncio.create_task(consume())
        else:
            subscription = await client.create_subscription(publishing_ms, Count())
        requests = []
        for handle, text in enumerate((s.node for m in node_map.machines for s in m.signals.values()), start=1):
            params = ua.MonitoringParameters()
            params.ClientHandle, params.SamplingInterval, params.QueueSize = handle, 0.0, queue
            change = ua.DataChangeFilter()
            change.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
            params.Filter = change
            target = ua.ReadValueId()
            target.NodeId, target.AttributeId = await resolve(client, text), ua.AttributeIds.Value
            request = ua.MonitoredItemCreateRequest()
            request.ItemToMonitor, request.MonitoringMode, request.RequestedParameters = (
                target,
                ua.MonitoringMode.Reporting,
                params,
            )
            requests.append(request)
        await subscription.create_monitored_items(requests)
        control.send("feed")
        await asyncio.sleep(warmup)
        start_count, start = counted[0], time.monotonic()
        control.send("feed")
        await asyncio.sleep(seconds)
        rate = (counted[0] - start_count) / (time.monotonic() - start)
        control.written = control.send("pause")
        if consumer is not None:
            consumer.cancel()
        await subscription.delete()
    return rate


async def count_bridge(
    endpoint: str, control: Control, mqtt_url: str, warmup: float, seconds: float
) -> dict[str, float]:
    """Readings per second the bridge publishes (and MQTT messages per second the outbox sent)."""
    from smartfactory.edge.mqtt import MqttClient
    from smartfactory.opcua.bridge import BridgeOptions, OpcUaBridge
    from smartfactory.opcua.outbox import Outbox
    from smartfactory.settings import parse_mqtt_url

    client = MqttClient(parse_mqtt_url(mqtt_url), client_id="bench-opcua-bridge")
    client.connect()
    outbox = Outbox(client, qos=1)
    bridge = OpcUaBridge(BridgeOptions(endpoint=endpoint), outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    await asyncio.wait_for(bridge.connected.wait(), 60)
    control.send("feed")
    await asyncio.sleep(warmup)
    readings, sent, start = bridge.stats.readings, outbox.sent, time.monotonic()
    control.send("feed")
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - start
    written = control.send("pause")
    result = {
        "readings_per_s": (bridge.stats.readings - readings) / elapsed,
        "mqtt_messages_per_s": (outbox.sent - sent) / elapsed,
        "mqtt_dropped": float(outbox.dropped),
        "outages": float(bridge.stats.outages),
        "server_written_per_s_bridge_phase": written,
        "server_written_per_s_baseline_phase": control.written,
    }
    stop.set()
    await task
    outbox.close()
    return result


#: asyncua's client probes its server this often, failing after as long: a saturated server answers slowly.
WATCHDOG_S = 5.0


class Control:
    """The server child's stdin/stdout: `send("feed" | "pause")` returns the writes/s of the phase just ended."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        assert child.stdin is not None
        assert child.stdout is not None
        self.stdin, self.stdout = child.stdin, child.stdout
        self.written = 0.0

    def send(self, word: str) -> float:
        self.stdin.write(word + "\n")
        self.stdin.flush()
        return float(json.loads(self.stdout.readline())["written_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--signals", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--serve", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.machines, args.signals)
        return

    from smartfactory.edge.broker import mosquitto_binary, start_amqtt, start_mosquitto
    from smartfactory.opcua.bridge import BridgeOptions
    from smartfactory.settings import BrokerAddress

    defaults = BridgeOptions(endpoint="")
    load_at_start = os.getloadavg()[0]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        address = BrokerAddress("127.0.0.1", free_port())
        broker = start_mosquitto(address, Path(tmp)) if mosquitto_binary() else start_amqtt(address)
        try:
            for _ in range(args.repeat):
                endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
                child = subprocess.Popen(
                    [sys.executable, __file__, "--serve", endpoint, "--machines", str(args.machines),
                     "--signals", str(args.signals)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                )  # fmt: skip
                assert child.stdout is not None
                assert child.stdin is not None
                if child.stdout.readline().strip() != "ready":
                    raise SystemExit("the OPC UA server did not start")
                control = Control(child)
                baseline = asyncio.run(
                    count_baseline(
                        endpoint, control, args.warmup, args.seconds, defaults.publishing_ms, defaults.queue_size
                    )
                )
                bridged = asyncio.run(count_bridge(endpoint, control, address.url(), args.warmup, args.seconds))
                child.stdin.close()
                child.wait(30)
                runs.append({"baseline": baseline, **bridged})
        finally:
            broker.stop()
    figure = sorted(r["readings_per_s"] for r in runs)[len(runs) // 2]
    baseline = sorted(r["baseline"] for r in runs)[len(runs) // 2]
    print(
        json.dumps(
            {
                "benchmark": "opcua_bridge",
                "figure": round(figure),
                "unit": "value changes/s carried by the bridge to MQTT (readings published)",
                "baseline": round(baseline),
                "baseline_is": "data-change notifications/s a bare asyncua subscription gets from the same server",
                "ratio": round(figure / baseline, 3) if baseline else None,
                "goal": GOAL,
                "meets_goal": figure >= GOAL,
                "variables": args.machines * args.signals,
                "runs": [{k: round(v, 1) for k, v in r.items()} for r in runs],
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average_1m_at_start": round(load_at_start, 2),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
