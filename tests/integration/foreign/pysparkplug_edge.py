"""A Sparkplug B edge node built on pysparkplug 0.6.1 (a library that is not ours), run by the python of its own venv.

Not a test module: tests/integration/test_sparkplug_foreign.py runs it as a foreign process. It publishes with
pysparkplug's own client and payload classes (its protobuf, its paho 1.x), births with names and aliases, then
alias-only DDATA (no names, no datatypes), and answers a `Node Control/Rebirth` NCMD with new births.

    python pysparkplug_edge.py HOST PORT GROUP EDGE DEVICE --count N [--data-first] [--timeout S]

`--data-first`: send alias-only DDATA without any birth (an edge node whose host was away) until a rebirth request
arrives, then births and `count` DDATA. Prints one JSON line at the end: {"sent": [[metric, ts, value], ...],
"rebirths": number of rebirth requests received}.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import pysparkplug as psp

#: name, alias, datatype, value of sample i
METRICS = (
    ("temperature", 1, psp.DataType.DOUBLE, lambda i: 20.0 + 0.5 * i),
    ("parts", 2, psp.DataType.INT32, lambda i: i),
    ("level", 3, psp.DataType.FLOAT, lambda i: 0.25 * i),
    ("running", 4, psp.DataType.BOOLEAN, lambda i: i % 2 == 0),
    ("offset", 5, psp.DataType.INT16, lambda i: -i),
)


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("host", "port", "group", "edge", "device"):
        parser.add_argument(name)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--data-first", action="store_true")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    group, edge, device = args.group, args.edge, args.device
    seq = iter(range(10**9))
    sent: list[list[object]] = []
    rebirth = threading.Event()
    rebirths = 0

    def topic(kind: psp.MessageType, dev: str | None = None) -> psp.Topic:
        return psp.Topic(message_type=kind, group_id=group, edge_node_id=edge, device_id=dev)

    def next_seq() -> int:
        return next(seq) % 256

    bd_seq = psp.Metric(timestamp=psp.get_current_timestamp(), name="bdSeq", datatype=psp.DataType.INT64, value=0)
    client = psp.Client(client_id=f"pysparkplug-{edge}")
    death = psp.NDeath(timestamp=psp.get_current_timestamp(), bd_seq_metric=bd_seq)
    client.set_will(
        psp.Message(topic=topic(psp.MessageType.NDEATH), payload=death, qos=psp.QoS.AT_LEAST_ONCE, retain=False)
    )

    def on_command(_client: psp.Client, message: psp.Message) -> None:
        nonlocal rebirths
        for metric in message.payload.metrics:
            if metric.name == "Node Control/Rebirth" and metric.value is True:
                rebirths += 1
                rebirth.set()

    client.subscribe(topic(psp.MessageType.NCMD), psp.QoS.AT_LEAST_ONCE, on_command)
    connected = threading.Event()
    client.connect(args.host, port=int(args.port), callback=lambda _c: connected.set())
    if not connected.wait(10):
        print(json.dumps({"error": "no connection"}))
        return 2

    def publish(kind: psp.MessageType, dev: str | None, payload: object) -> None:
        client.publish(psp.Message(topic=topic(kind, dev), payload=payload, qos=psp.QoS.AT_LEAST_ONCE, retain=False))

    def births(now: int) -> None:
        nonlocal seq
        seq = iter(range(10**9))  # NBIRTH starts at 0
        node_metrics = (
            bd_seq,
            psp.Metric(timestamp=now, name="Node Control/Rebirth", datatype=psp.DataType.BOOLEAN, value=False),
        )
        publish(psp.MessageType.NBIRTH, None, psp.NBirth(timestamp=now, seq=next_seq(), metrics=node_metrics))
        metrics = tuple(
            psp.Metric(timestamp=now, name=name, alias=alias, datatype=dtype, value=value(0))
            for name, alias, dtype, value in METRICS
        )
        publish(psp.MessageType.DBIRTH, device, psp.DBirth(timestamp=now, seq=next_seq(), metrics=metrics))
        sent.extend([name, now, float(value(0))] for name, _alias, _dtype, value in METRICS)

    def alias_only(i: int, ts: int, record: bool) -> None:
        metrics = tuple(
            psp.Metric(timestamp=ts, name=None, alias=alias, datatype=dtype, value=value(i))
            for _name, alias, dtype, value in METRICS
        )
        publish(psp.MessageType.DDATA, device, psp.DData(timestamp=ts, seq=next_seq(), metrics=metrics))
        if record:
            sent.extend([name, ts, float(value(i))] for name, _alias, _dtype, value in METRICS)

    start = psp.get_current_timestamp()
    if args.data_first:
        deadline = time.monotonic() + args.timeout
        i = 0
        while not rebirth.is_set():
            if time.monotonic() > deadline:
                print(json.dumps({"error": "no rebirth request", "sent": sent, "rebirths": rebirths}))
                return 3
            i += 1
            alias_only(1000 + i, start - 100_000 + i, record=False)  # before any birth: the host cannot place it
            rebirth.wait(0.2)
    births(start)
    for i in range(1, args.count + 1):
        alias_only(i, start + i, record=True)
    time.sleep(0.5)  # QoS 1 in flight
    client.disconnect()
    print(json.dumps({"sent": sent, "rebirths": rebirths}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
