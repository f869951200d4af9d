"""Recording and replay figures: file size per message, replay rate at --speed 0, each against a baseline.

Records a simulated plant (scenario sudden-shift, speed 0, `--minutes` of plant time) off a private mosquitto with
`recording.Recorder`, then prints one JSON document:

- `bytes_per_message`: the recording's size / messages; baseline: the raw topic + payload bytes per message
  (ratio < 1: the file is smaller than the traffic it holds);
- `replay_msgs_per_s`: `replay(..., speed=0)` into a second mosquitto, reading and checking the file as it goes;
  baseline: the same messages published from a list in memory through the same client class (ratio: the
  reader's cost).

Usage::

    python bench/recording.py [--minutes 15]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from smartfactory.edge.broker import start_mosquitto
from smartfactory.edge.mqtt import MqttClient
from smartfactory.recording import RecordedMessage, open_recording
from smartfactory.recording.recorder import Recorder
from smartfactory.recording.replayer import replay
from smartfactory.services import start_simulator
from smartfactory.settings import BrokerAddress, load_settings


def free_address() -> BrokerAddress:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return BrokerAddress("127.0.0.1", int(sock.getsockname()[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="simulated plant time to record")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    source = start_mosquitto(free_address(), folder / "a")
    target = start_mosquitto(free_address(), folder / "b")
    try:
        settings = load_settings(mqtt_url=source.address.url(masked=False), data_dir=folder)
        path = folder / "session.sfrec"
        recorder = Recorder(source.address, path)
        recorder.start()
        stop = threading.Event()
        loop = threading.Thread(target=recorder.run, args=(stop,))
        loop.start()
        started = time.monotonic()
        sim = start_simulator(settings, scenario="sudden-shift", speed=0, duration_s=args.minutes * 60, backfill_s=0)
        assert sim.thread is not None
        sim.thread.join()
        sim.stop()
        marker = f"_sf/bench/{uuid.uuid4().hex}"
        client = MqttClient(source.address)
        client.connect()
        client.publish(marker, b"", qos=1)
        client.close()
        while not any(m.topic == marker for m in _tail(path)):
            time.sleep(0.2)
        stop.set()
        loop.join()
        recorded_s = time.monotonic() - started
        stats = recorder.stop()

        recording = open_recording(path)
        messages = list(recording.messages())
        raw = sum(len(m.topic.encode()) + len(m.payload) for m in messages)
        size = path.stat().st_size

        publisher = MqttClient(target.address, max_outstanding=20_000)
        publisher.connect()
        t0 = time.perf_counter()
        result = replay(recording, publisher, speed=0)
        replay_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for m in messages:
            publisher.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
        publisher.wait_published(120)
        baseline_s = time.perf_counter() - t0
        publisher.close()
    finally:
        source.stop()
        target.stop()
    print(
        json.dumps(
            {
                "plant_minutes": args.minutes,
                "messages": stats.messages,
                "recorded_in_s": round(recorded_s, 2),
                "file_bytes": size,
                "bytes_per_message": round(size / len(messages), 1),
                "baseline_raw_bytes_per_message": round(raw / len(messages), 1),
                "size_ratio": round(size / raw, 3),
                "replay_msgs_per_s": round(result.published / replay_s),
                "baseline_publish_from_memory_msgs_per_s": round(len(messages) / baseline_s),
                "replay_ratio": round((result.published / replay_s) / (len(messages) / baseline_s), 3),
            },
            indent=2,
        )
    )


def _tail(path: Path) -> list[RecordedMessage]:
    """The benchmark's markers among the messages flushed so far (read back from the file)."""
    return [m for m in open_recording(path).messages() if m.topic.startswith("_sf/bench/")]


if __name__ == "__main__":
    main()
