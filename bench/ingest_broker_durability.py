"""What mosquitto's `autosave_on_changes true` + `autosave_interval 1` ("every_change") costs, against the default
time-based autosave once a second ("interval"), on a private broker in the same run.

Two cases, N single-reading QoS 1 messages each (publisher waits for every acknowledgement):
- online: ingestion is connected and keeps up; the figure is publish → stored throughput.
- backlog: ingestion is offline (its persistent session queues everything); the figure is the publisher's rate,
  which is where every-change saving hurts: each save rewrites the whole queue.

    python bench/ingest_broker_durability.py [--count 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import machine_info, private_broker, publish_all, single_readings, workdir

from smartfactory.edge.broker import Durability
from smartfactory.services import start_ingest
from smartfactory.settings import load_settings


def run(durability: Durability, count: int) -> dict[str, float]:
    messages = single_readings(count)
    with workdir("sf-bench-durability-") as tmp, private_broker(tmp, durability=durability, queue_qos0=False) as broker:
        settings = load_settings(
            mqtt_url=broker.address.url(masked=False),
            store=f"sqlite:///{tmp / 'd.db'}",
            data_dir=tmp,
            ingest={"client_id": f"ingest-{uuid.uuid4().hex[:6]}"},
        )
        running = start_ingest(settings)
        started = time.perf_counter()
        publish_all(broker.address, messages)
        while running.service.counters.stored < count:
            time.sleep(0.002)
        online = count / (time.perf_counter() - started)
        running.stop()  # offline now: the session queues what follows
        backlog_messages = single_readings(count, enterprise="bench2")
        backlog = count / publish_all(broker.address, backlog_messages)
        return {"online_msgs_per_s": round(online), "backlog_publish_msgs_per_s": round(backlog)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    baseline = run("interval", args.count)
    figure = run("every_change", args.count)
    print(
        json.dumps(
            {
                "benchmark": "ingest_broker_durability",
                "messages": args.count,
                "figure": {"every_change": figure},
                "baseline": {"interval": baseline},
                "ratio": {key: round(figure[key] / baseline[key], 3) for key in figure},
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
