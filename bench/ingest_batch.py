"""(b) Readings/s into SQLite when each message carries many readings (MachineTelemetry `batch`).

Same drain method as ingest_rate.py: N batch messages (S samples × K sensors each) wait at the broker for a parked
persistent session; the clock runs from connect to the last reading committed and acknowledged. Baselines in
the same run: the bare paho subscriber decoding the same messages with `json.loads` (readings/s it gets through),
and the store's own ceiling: `SqliteStorage.write_readings` of the same readings in batches of 1,000. Reported
with the SPC monitor on (the shipped configuration) and off. Goal: ≥ 150,000 readings/s into SQLite.

    python bench/ingest_batch.py [--messages 300] [--samples 100] [--sensors 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import (
    BareSubscriber,
    batch_messages,
    drain_rate,
    machine_info,
    median,
    private_broker,
    publish_all,
    workdir,
)

from smartfactory.ingest.decode import Decoder
from smartfactory.settings import BrokerAddress, load_settings
from smartfactory.storage.sqlite import SqliteStorage

Messages = list[tuple[str, bytes]]


def baseline(address: BrokerAddress, messages: Messages, readings: int) -> float:
    sub = BareSubscriber(address, f"baseline-{uuid.uuid4().hex[:6]}", "bench/#", 1)
    sub.park()
    publish_all(address, messages)
    started = sub.start()
    if not sub.wait_for(len(messages), 300):
        raise RuntimeError(f"baseline lost messages: {sub.count}/{len(messages)}")
    sub.forget()
    return readings / (sub.last_at - started)


def store_ceiling(tmp: Path, messages: Messages) -> float:
    decoder = Decoder(max_future_s=1e9, max_age_s=1e9)
    now = int(time.time() * 1000)
    readings = [r for topic, payload in messages for r in decoder.decode(topic, payload, now).readings]  # type: ignore[union-attr]
    store = SqliteStorage(f"sqlite:///{tmp / f'ceiling-{uuid.uuid4().hex[:6]}.db'}")
    started = time.perf_counter()
    for i in range(0, len(readings), 1000):
        store.write_readings(readings[i : i + 1000])
    elapsed = time.perf_counter() - started
    store.close()
    return len(readings) / elapsed


def ingest(address: BrokerAddress, messages: Messages, readings: int, tmp: Path, monitor: bool) -> float:
    settings = load_settings(
        mqtt_url=address.url(masked=False),
        store=f"sqlite:///{tmp / f'batch-{uuid.uuid4().hex[:6]}.db'}",
        data_dir=tmp,
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:6]}"},
        spc={"rules": "we" if monitor else "none"},
    )
    rate, _ = drain_rate(settings, address, messages, readings)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--sensors", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    messages = batch_messages(args.messages, args.samples, args.sensors)
    readings = args.messages * args.samples * args.sensors
    runs: dict[str, list[float]] = {"monitor_on": [], "monitor_off": [], "bare_paho_json": [], "sqlite_ceiling": []}
    with workdir("sf-bench-batch-") as tmp, private_broker(tmp) as broker:
        for _ in range(args.repeat):
            runs["bare_paho_json"].append(baseline(broker.address, messages, readings))
            runs["monitor_on"].append(ingest(broker.address, messages, readings, tmp, monitor=True))
            runs["monitor_off"].append(ingest(broker.address, messages, readings, tmp, monitor=False))
            runs["sqlite_ceiling"].append(store_ceiling(tmp, messages))
    med = {key: median(values) for key, values in runs.items()}
    print(
        json.dumps(
            {
                "benchmark": "ingest_batch",
                "messages": args.messages,
                "readings_per_message": args.samples * args.sensors,
                "payload_bytes": len(messages[0][1]),
                "figure": {
                    "ingest_readings_per_s_monitor_on": round(med["monitor_on"]),
                    "ingest_readings_per_s_monitor_off": round(med["monitor_off"]),
                },
                "baseline": {
                    "bare_paho_json_readings_per_s": round(med["bare_paho_json"]),
                    "sqlite_write_readings_per_s": round(med["sqlite_ceiling"]),
                },
                "ratio": {
                    "monitor_on_vs_goal_150k": round(med["monitor_on"] / 150_000, 3),
                    "monitor_off_vs_goal_150k": round(med["monitor_off"] / 150_000, 3),
                    "monitor_off_vs_sqlite_ceiling": round(med["monitor_off"] / med["sqlite_ceiling"], 3),
                    "monitor_on_vs_bare_paho_json": round(med["monitor_on"] / med["bare_paho_json"], 3),
                },
                "goal": ">= 150000 readings/s",
                "runs": {key: [round(v) for v in values] for key, values in runs.items()},
                "zero_loss": True,
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
