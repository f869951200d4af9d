"""The ingestion service: subscribe → decode → monitor → batch → store, acknowledging only after the write.

Threads: paho's network thread puts each message on a bounded queue (when it is full the network thread waits,
which is TCP back-pressure on the broker); one writer thread decodes, batches by size and time, writes, then
acknowledges the batch's QoS 1 messages in arrival order. A message is acknowledged only once its records (or its
dead letter) are in the store, so a crash at any point means redelivery, never loss, and the store's idempotent
keys turn redelivery into no change.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smartfactory.errors import StoreError, StoreUnavailable
from smartfactory.ingest.decode import PASS_THROUGH, Decoded, Decoder
from smartfactory.model import Alarm, AlarmAck, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.mqtt import Message, MqttClient
from smartfactory.settings import IngestSettings
from smartfactory.storage import Storage
from smartfactory.wire import (
    DEADLETTER_PREFIX,
    HEALTH_PREFIX,
    SYSTEM_ROOT,
    AlarmPayload,
    MessageClass,
    Topic,
    payload_to_json,
    series_path,
)

if TYPE_CHECKING:
    from smartfactory.ingest.monitor import MonitorStage

log = logging.getLogger(__name__)
SUBSCRIPTION = "#"


@dataclass(slots=True)
class Batch:
    readings: list[Reading] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    parts: list[PartResult] = field(default_factory=list)
    events: list[FaultEvent] = field(default_factory=list)
    acks: list[AlarmAck] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    def add(self, decoded: Decoded) -> None:
        self.readings.extend(decoded.readings)
        self.states.extend(decoded.states)
        self.parts.extend(decoded.parts)
        self.events.extend(decoded.events)
        self.acks.extend(decoded.acks)

    @property
    def size(self) -> int:
        return len(self.readings) + len(self.messages)


@dataclass(slots=True)
class Counters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alarms: int = 0
    write_errors: int = 0
    last_lag_ms: int = 0

    def snapshot(self, queue_depth: int) -> dict[str, object]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "alarms": self.alarms,
            "write_errors": self.write_errors,
            "queue_depth": queue_depth,
            "lag_ms": self.last_lag_ms,
        }


class IngestService:
    """Run with `start()`; stop with `stop()` (flushes and acknowledges what was received)."""

    def __init__(
        self,
        client: MqttClient,
        store: Storage,
        settings: IngestSettings,
        *,
        monitor: MonitorStage | None = None,
        qos: int = 1,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.monitor = monitor
        self.qos = qos
        self.decoder = Decoder(
            max_payload_bytes=settings.max_payload_bytes,
            max_future_s=settings.max_future_s,
            max_age_s=settings.max_age_s,
        )
        self.counters = Counters()
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=settings.queue_size)
        self._accepting = threading.Event()
        self._accepting.set()  # from construction: a resumed session delivers queued messages at once
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._last_log: dict[str, float] = {}
        self.worker_name = client.client_id or "ingest"

    # ------------------------------------------------------------------ lifecycle

    def subscription(self) -> str:
        group = self.settings.group
        return f"$share/{group}/{SUBSCRIPTION}" if group else SUBSCRIPTION

    def start(self) -> None:
        self._writer.start()
        self.client.subscribe(self.subscription(), qos=self.qos)

    def on_message(self, message: Message) -> None:
        """paho's network thread: enqueue (blocking when full: back-pressure)."""
        if not self._accepting.is_set():
            return  # shutting down: not acknowledged, so the broker redelivers it to the next run
        self._queue.put(message)

    def stop(self, timeout: float = 10.0) -> None:
        self._accepting.clear()
        self._stop.set()
        self._writer.join(timeout)
        self.client.close(flush_timeout=2.0)

    def health(self) -> dict[str, object]:
        return {
            "worker": self.worker_name,
            "ts": int(time.time() * 1000),
            **self.counters.snapshot(self._queue.qsize()),
        }

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        next_health = time.monotonic() + self.settings.health_interval
        while True:
            batch = self._collect()
            if batch.messages:
                self._write(batch)
            if time.monotonic() >= next_health:
                self._publish_health()
                next_health = time.monotonic() + self.settings.health_interval
            if self._stop.is_set() and self._queue.empty():
                self._publish_health()
                return

    def _collect(self) -> Batch:
        batch = Batch()
        deadline = time.monotonic() + self.settings.flush_interval
        while batch.size < self.settings.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            self._judge(message, batch)
        return batch

    def _judge(self, message: Message, batch: Batch) -> None:
        batch.messages.append(message)
        if message.topic.startswith(SYSTEM_ROOT + "/"):
            return  # our own dead letters and health messages
        self.counters.received += 1
        received_ms = int(message.received_at * 1000)
        decoded = self.decoder.decode(message.topic, message.payload, received_ms)
        if isinstance(decoded, DeadLetter):
            batch.deadletters.append(decoded)
            self._count_rejection(decoded)
            return
        batch.add(decoded)
        if decoded.readings:
            self.counters.last_lag_ms = received_ms - decoded.readings[-1].ts_ms
            if self.monitor is not None:
                batch.alarms.extend(self.monitor.observe(decoded.readings))

    def _count_rejection(self, letter: DeadLetter) -> None:
        self.counters.rejected[letter.reason] += 1
        now = time.monotonic()
        if now - self._last_log.get(letter.reason, 0.0) >= 10.0:  # at most one line per reason per 10 s
            self._last_log[letter.reason] = now
            log.warning(
                "rejected a message on %r (%s: %s); %d rejected for this reason so far",
                letter.topic,
                letter.reason,
                letter.detail,
                self.counters.rejected[letter.reason],
            )

    def _write(self, batch: Batch) -> None:
        delay = 0.1
        while True:
            try:
                self._store(batch)
                break
            except StoreUnavailable as exc:
                self.counters.write_errors += 1
                log.warning("store unavailable (%s); retrying in %.1f s, nothing acknowledged", exc, delay)
            except StoreError as exc:
                self.counters.write_errors += 1
                log.error("store write failed (%s); retrying in %.1f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        for message in batch.messages:
            self.client.ack(message.mid, message.qos)
        self._publish_side_effects(batch)

    def _store(self, batch: Batch) -> None:
        if batch.readings:
            new = self.store.write_readings(batch.readings)
            self.counters.stored += new
            self.counters.duplicates += len(batch.readings) - new
        if batch.states:
            self.store.write_states(batch.states)
        if batch.parts:
            self.store.write_parts(batch.parts)
        if batch.events:
            self.store.write_events(batch.events)
        if batch.alarms:
            self.store.write_alarms(batch.alarms)
        if batch.acks:
            self.store.ack_alarms(batch.acks)
        if batch.deadletters:
            self.store.write_deadletters(batch.deadletters)

    def _publish_side_effects(self, batch: Batch) -> None:
        for letter in batch.deadletters:
            body = {
                "reason": letter.reason,
                "detail": letter.detail,
                "topic": letter.topic,
                "received_ms": letter.received_ms,
                "payload_size": letter.payload_size,
                "payload": letter.payload[:256].decode("utf-8", "replace"),
            }
            self.client.publish(f"{DEADLETTER_PREFIX}/{letter.reason}", json.dumps(body).encode(), qos=0)
        for alarm in batch.alarms:
            self.counters.alarms += int(alarm.active)
            path, sensor = series_path(alarm.series)
            payload = AlarmPayload(
                alarm_id=alarm.alarm_id,
                active=alarm.active,
                rules=list(alarm.rules),
                value=alarm.value,
                ts=alarm.ts_ms if alarm.active else (alarm.cleared_ms or alarm.ts_ms),
                message=alarm.message,
            )
            topic = str(Topic(path, MessageClass.ALARM, sensor))
            self.client.publish(topic, payload_to_json(payload), qos=1, retain=True)

    def _publish_health(self) -> None:
        body = json.dumps(self.health()).encode()
        self.client.publish(f"{HEALTH_PREFIX}/{self.worker_name}", body, qos=0, retain=True)


__all__ = ["PASS_THROUGH", "IngestService"]
