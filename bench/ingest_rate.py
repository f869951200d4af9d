"""(a) Sustained ingest rate into SQLite with paho's own packet reader and with the opt-in fast reader, same run.

Every consumer drains the same backlog from the same private mosquitto in the same run: each first parks a
persistent session, then N single-reading messages (~110 bytes, the README's form) are published with QoS 1
(waiting for every acknowledgement), then the consumer reconnects and the clock runs from its connect until the
last message is received (edge and baseline) or the last reading is committed to SQLite and acknowledged
(ingestion). Draining a backlog measures the consumer alone: the publisher is not competing for the two cores.
QoS 0 uses a QoS 0 subscription (the broker downgrades and queues them: `queue_qos0_messages true`).
Zero loss is checked: received == N for the edge and the baseline, stored == N for ingestion.

Per reader (`--reader paho fast`; `paho` is the default path, paho's public API; `fast` is
`SMARTFACTORY_MQTT__FAST_READER=true`, `edge.fastread`): the ingestion rate, and the edge alone doing only
`json.loads` (what decoding, SPC, SQLite and acknowledging cost on top of the network code). The baseline is a bare
paho subscriber doing `json.loads`. Ratios: fast / paho for both, and each figure / the baseline.

    python bench/ingest_rate.py [--count 100000] [--repeat 3] [--qos 0 1] [--reader paho fast] [--no-monitor]
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

READERS = ("paho", "fast")


def edge_rate(address, messages, qos: int, fast: bool) -> float:  # type: ignore[no-untyped-def]
    """smartfactory's own MQTT edge with the chosen reader + json.loads, nothing else."""
    from smartfactory.edge.mqtt import Message, MqttClient

    state = {"count": 0, "last": 0.0}
    done = threading.Event()

    def on_message(message: Message) -> None:
        json.loads(message.payload)
        state["count"] += 1
        state["last"] = time.perf_counter()
        if state["count"] == len(messages):
            done.set()

    client_id = f"edge-{uuid.uuid4().hex[:6]}"
    park = MqttClient(address, client_id=client_id, persistent=True, protocol="5", fast_read=fast)
    park.subscribe("bench/#", qos=qos)
    park.connect()
    park.close()
    publish_all(address, messages)
    client = MqttClient(
        address, client_id=client_id, persistent=True, protocol="5", on_message=on_message, fast_read=fast
    )
    assert client.fast_read is fast
    client.subscribe("bench/#", qos=qos)
    started = time.perf_counter()
    client.connect()
    if not done.wait(300):
        reader = "fast" if fast else "paho"
        raise RuntimeError(f"edge ({reader} reader) lost messages: {state['count']}/{len(messages)}")
    client.close()
    drop_session(address, client_id)
    return len(messages) / (state["last"] - started)


def baseline_rate(address, messages, qos: int) -> float:  # type: ignore[no-untyped-def]
    sub = BareSubscriber(address, f"baseline-{uuid.uuid4().hex[:6]}", "bench/#", qos)
    sub.park()
    publish_all(address, messages)
    started = sub.start()
    if not sub.wait_for(len(messages), 300):
        raise RuntimeError(f"baseline lost messages: {sub.count}/{len(messages)}")
    sub.forget()
    return len(messages) / (sub.last_at - started)


def ingest_rate(address, messages, qos: int, tmp: Path, monitor: bool, fast: bool) -> float:  # type: ignore[no-untyped-def]
    db = tmp / f"ingest-{uuid.uuid4().hex[:6]}.db"
    settings = load_settings(
        mqtt_url=address.url(masked=False),
        store=f"sqlite:///{db}",
        data_dir=tmp,
        mqtt={"qos": qos, "fast_reader": fast},
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:6]}"},
        spc={"rules": "we" if monitor else "none"},
    )
    rate, _snapshot = drain_rate(settings, address, messages, len(messages), timeout=300)
    return rate


def _runs(values: list[float]) -> dict[str, object]:
    return {"msgs_per_s": round(median(values)), "runs": [round(x) for x in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--qos", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--reader", nargs="+", choices=READERS, default=list(READERS), help="packet readers to time")
    parser.add_argument("--no-monitor", action="store_true", help="switch the SPC monitor off (rules none)")
    args = parser.parse_args()
    messages = single_readings(args.count)
    results = []
    with workdir("sf-bench-rate-") as tmp, private_broker(tmp) as broker:
        for qos in args.qos:
            base: list[float] = []
            edge: dict[str, list[float]] = {r: [] for r in args.reader}
            ingest: dict[str, list[float]] = {r: [] for r in args.reader}
            for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits every path alike
                base.append(baseline_rate(broker.address, messages, qos))
                for reader in args.reader:
                    fast = reader == "fast"
                    edge[reader].append(edge_rate(broker.address, messages, qos, fast))
                    ingest[reader].append(ingest_rate(broker.address, messages, qos, tmp, not args.no_monitor, fast))
            baseline = median(base)
            result: dict[str, object] = {
                "benchmark": "ingest_rate",
                "qos": qos,
                "messages": args.count,
                "figure": {
                    reader: {
                        "ingest": _runs(ingest[reader]),
                        "edge_json_only": _runs(edge[reader]),
                        "ingest_vs_baseline": round(median(ingest[reader]) / baseline, 3),
                    }
                    for reader in args.reader
                },
                "baseline": {"bare_paho_json_msgs_per_s": round(baseline), "runs": [round(x) for x in base]},
                "zero_loss": True,
                "monitor": not args.no_monitor,
                **machine_info(),
            }
            if set(READERS) <= set(args.reader):
                result["ratio_fast_over_paho"] = {
                    "ingest": round(median(ingest["fast"]) / median(ingest["paho"]), 3),
                    "edge_json_only": round(median(edge["fast"]) / median(edge["paho"]), 3),
                }
            results.append(result)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
