"""How long one big packet takes to arrive through the opt-in fast reader, against paho's own reader in the same run.

Issue 13: the fast reader rebuilt its buffer at every 256 KiB recv(), so a 100 MB payload held ingestion for 25 s.
The brokers smartfactory generates refuse packets over 1 MiB + 64 KiB, and over MQTT 5 ingestion announces that
as its Maximum Packet Size; this measures the reader itself where neither protects it: MQTT 3.1.1 and a private
mosquitto whose `max_packet_size` admits the payload. Time from the start of the publish until the subscriber's
callback holds the whole payload (publish included, the same for both readers); median of `--repeat` runs.

    python bench/fastread_big.py [--mb 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import free_port, median, workdir

from smartfactory.edge.broker import start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.settings import BrokerAddress


def receive_once(address: BrokerAddress, payload: bytes, fast: bool) -> float:
    arrived = threading.Event()
    sizes: list[int] = []

    def take(message: Message) -> None:
        sizes.append(len(message.payload))
        arrived.set()

    subscriber = MqttClient(address, protocol="3.1.1", fast_read=fast, on_message=take)
    subscriber.subscribe("bench/big", qos=0)
    subscriber.connect()
    publisher = MqttClient(address)
    publisher.connect()
    try:
        started = time.perf_counter()
        publisher.publish("bench/big", payload, qos=1, timeout=300)
        if not arrived.wait(600) or sizes != [len(payload)]:
            raise SystemExit(f"the {'fast' if fast else 'paho'} reader did not receive the payload whole: {sizes}")
        return time.perf_counter() - started
    finally:
        publisher.close()
        subscriber.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50, help="payload size in MB (default 50)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each reader, interleaved (default 3)")
    args = parser.parse_args()
    payload = b"x" * (args.mb * 1_000_000)
    with workdir("sf-fastread-") as folder:
        address = BrokerAddress("127.0.0.1", free_port())
        broker = start_mosquitto(address, folder / "broker", max_packet_size=len(payload) + 1_000_000)
        try:
            seconds: dict[str, list[float]] = {"fast": [], "paho": []}
            for _ in range(args.repeat):
                for name in ("paho", "fast"):
                    seconds[name].append(receive_once(address, payload, fast=name == "fast"))
        finally:
            broker.stop()
    fast, paho = median(seconds["fast"]), median(seconds["paho"])
    print(json.dumps({
        "payload_mb": args.mb,
        "fast_reader_s": round(fast, 3),
        "paho_reader_s (baseline)": round(paho, 3),
        "ratio fast/paho": round(fast / paho, 2),
        "runs": {k: [round(v, 3) for v in vs] for k, vs in seconds.items()},
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
