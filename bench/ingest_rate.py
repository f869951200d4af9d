"""(a) Sustained ingest rate into SQLite vs a bare paho subscriber that only decodes JSON.

Both consumers drain the same backlog from the same private mosquitto in the same run: each first parks a
persistent session, then N single-reading messages (~110 bytes, the README's form) are published with QoS 1
(waiting for every acknowledgement), then the consumer reconnects and the clock runs from its connect until the
last message is received (baseline) or the last reading is committed to SQLite and acknowledged (ingestion).
Draining a backlog measures the consumer alone: the publisher is not competing for the two cores while it runs.
QoS 0 uses a QoS 0 subscription (the broker downgrades and queues them: `queue_qos0_messages true`).
Zero loss is checked: received == N for the baseline, stored == N for ingestion. A second baseline is
smartfactory's own MQTT edge (the batched read path ingestion uses) with only `json.loads`: the ratio against it
is what decoding, SPC, SQLite and acknowledgement cost on top of the network code.

    python bench/ingest_rate.py [--count 100000] [--repeat 3] [--qos 0 1] [--no-monitor]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import (
    BareSubscriber,
    drain_rate,
    drop_session,
    machine_info,
    median,
    private_broker,
    publish_all,
    single_readings,
    workdir,
)

from smartfactory.settings import load_settings


def fast_edge_rate(address, messages, qos: int) -> float:  # type: ignore[no-untyped-def]
    """Second baseline: smartfactory's own MQTT edge (batched read path) + json.loads, nothing else."""
    from smartfactory.mqtt import Message, MqttClient

    state = {"count": 0, "last": 0.0}
    done = threading.Event()

    def on_message(message: Message) -> None:
        json.loads(message.payload)
        state["count"] += 1
        state["last"] = time.perf_counter()
        if state["count"] == len(messages):
            done.set()

    client_id = f"edge-{uuid.uuid4().hex[:6]}"
    park = MqttClient(address, client_id=client_id, persistent=True, protocol="5")
    park.subscribe("bench/#", qos=qos)
    park.connect()
    park.close()
    publish_all(address, messages)
    client = MqttClient(address, client_id=client_id, persistent=True, protocol="5", on_message=on_message)
    client.subscribe("bench/#", qos=qos)
    started = time.perf_counter()
    client.connect()
    if not done.wait(300):
        raise RuntimeError(f"fast-edge baseline lost messages: {state['count']}/{len(messages)}")
    client.close()
    drop_session(address, client_id)
    return len(messages) / (state["last"] - started)


def baseline_rate(broker_url_host: str, address, messages, qos: int) -> float:  # type: ignore[no-untyped-def]
    sub = BareSubscriber(address, f"baseline-{uuid.uuid4().hex[:6]}", "bench/#", qos)
    sub.park()
    publish_all(address, messages)
    started = sub.start()
    if not sub.wait_for(len(messages), 300):
        raise RuntimeError(f"baseline lost messages: {sub.count}/{len(messages)}")
    sub.forget()
    return len(messages) / (sub.last_at - started)


def ingest_rate(address, messages, qos: int, tmp: Path, monitor: bool) -> tuple[float, dict[str, object]]:  # type: ignore[no-untyped-def]
    db = tmp / f"ingest-{uuid.uuid4().hex[:6]}.db"
    settings = load_settings(
        mqtt_url=address.url(masked=False),
        store=f"sqlite:///{db}",
        data_dir=tmp,
        mqtt={"qos": qos},
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:6]}"},
        spc={"rules": "we" if monitor else "none"},
    )
    return drain_rate(settings, address, messages, len(messages), timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qos", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--no-monitor", action="store_true", help="switch the SPC monitor off (rules none)")
    args = parser.parse_args()
    messages = single_readings(args.count)
    results = []
    with workdir("sf-bench-rate-") as tmp, private_broker(tmp) as broker:
        for qos in args.qos:
            base, ours, edge = [], [], []
            for _ in range(args.repeat):
                base.append(baseline_rate("", broker.address, messages, qos))
                edge.append(fast_edge_rate(broker.address, messages, qos))
                rate, _snapshot = ingest_rate(broker.address, messages, qos, tmp, not args.no_monitor)
                ours.append(rate)
            figure, baseline = median(ours), median(base)
            results.append(
                {
                    "benchmark": "ingest_rate",
                    "qos": qos,
                    "messages": args.count,
                    "figure": {"ingest_msgs_per_s": round(figure), "runs": [round(x) for x in ours]},
                    "baseline": {"bare_paho_json_msgs_per_s": round(baseline), "runs": [round(x) for x in base]},
                    "ratio": round(figure / baseline, 3),
                    "second_baseline": {
                        "own_mqtt_edge_json_msgs_per_s": round(median(edge)),
                        "runs": [round(x) for x in edge],
                        "ratio": round(figure / median(edge), 3),
                    },
                    "goal": ">= 0.8",
                    "zero_loss": True,
                    "monitor": not args.no_monitor,
                    **machine_info(),
                }
            )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
