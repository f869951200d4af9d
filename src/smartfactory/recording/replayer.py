"""Replaying a recording: the same messages, in the same order, with the same QoS and retain flags.

    recording = open_recording(Path("session.sfrec"))
    client = MqttClient(address); client.connect()
    stats = replay(recording, client, speed=1.0)

Message `i` is published `t_ms[i] / speed` milliseconds after the replay began (`speed` 2 runs twice as fast,
0 publishes as fast as the broker takes them). Payloads are the recorded bytes, so the timestamps inside them are
the original ones: a replay of last year's session stores last year's data. All messages go out on one
connection in recorded order, which MQTT keeps per topic (MQTT 5 §4.6, "Message ordering"); mosquitto keeps the
order of one connection across topics as well. The replay returns once the broker has acknowledged every QoS 1
and 2 message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from smartfactory.edge.mqtt import MqttClient
from smartfactory.errors import BrokerError
from smartfactory.recording.reader import Recording


@dataclass
class ReplayStats:
    """What a replay published, how long it took and how far behind schedule it fell at worst."""

    published: int = 0
    retained: int = 0
    elapsed_s: float = 0.0
    max_behind_s: float = 0.0
    stopped: bool = False


def replay(
    recording: Recording,
    client: MqttClient,
    *,
    speed: float = 1.0,
    stop: threading.Event | None = None,
    progress: Callable[[ReplayStats], None] | None = None,
    progress_every: int = 10_000,
    flush_timeout: float = 60.0,
) -> ReplayStats:
    """Publish the intact messages of `recording` through `client` (connected); see the module docstring."""
    if speed < 0:
        raise ValueError("speed must be 0 (as fast as possible) or positive")
    stop = stop or threading.Event()
    stats = ReplayStats()
    started = time.monotonic()
    for message in recording.messages():
        if stop.is_set():
            stats.stopped = True
            break
        if speed > 0:
            due = started + message.t_ms / 1000.0 / speed
            wait = due - time.monotonic()
            if wait > 0 and stop.wait(wait):
                stats.stopped = True
                break
            stats.max_behind_s = max(stats.max_behind_s, -wait)
        client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
        stats.published += 1
        stats.retained += message.retain
        if progress is not None and stats.published % progress_every == 0:
            progress(stats)
    if not client.wait_published(flush_timeout):
        raise BrokerError(
            f"the broker at {client.address.url()} did not acknowledge {client.outstanding} replayed messages "
            f"within {flush_timeout:g} s"
        )
    stats.elapsed_s = time.monotonic() - started
    return stats
