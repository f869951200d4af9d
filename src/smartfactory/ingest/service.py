"""The ingestion service: subscribe → decode → monitor → batch → store (or spool), then acknowledge.

Threads: paho's network thread parses messages and puts them in a bounded `Inbox` (when it is full the network
thread waits: TCP back-pressure on the broker). One writer thread takes what is there (group commit: a batch is
written as soon as the writer is free, at most `batch_size` readings and `flush_interval` of collecting), decodes,
runs the SPC monitor, writes, and then acknowledges the batch's QoS 1 messages in arrival order with one socket
write. A message is acknowledged only once its records (or its dead letter) are in the store or fsync'd in the
spool, so a crash at any point means redelivery, never loss; the store's keys turn redelivery into no change.

When the store is unavailable (`StoreUnavailable`: InfluxDB down, disk full) batches go to the local spool and are
acknowledged once on disk; while the spool holds anything every new batch is appended behind it, so the store
receives everything in arrival order. The writer probes the store with backoff (0.1 s doubling to 5 s) and
replays the spool in slices of `_REPLAY_SLICE_S` between batches. A spool left by a previous run is replayed at
start. A health thread publishes the counters every `health_interval` seconds on `_sf/health/{worker}`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from smartfactory.errors import BrokerError, StoreError, StoreUnavailable
from smartfactory.ingest import batch as records
from smartfactory.ingest.batch import Batch
from smartfactory.ingest.decode import PASS_THROUGH, Decoder
from smartfactory.ingest.health import Counters, RejectLog, Throttle
from smartfactory.ingest.inbox import Inbox
from smartfactory.ingest.spool import Spool, SpoolError
from smartfactory.model import DeadLetter
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
_SYSTEM = SYSTEM_ROOT + "/"
_REPLAY_SLICE_S = 0.25
_MAX_BACKOFF_S = 5.0


class IngestService:
    """Run with `start()`; stop with `stop()` (writes and acknowledges everything already received)."""

    def __init__(
        self,
        client: MqttClient,
        store: Storage,
        settings: IngestSettings,
        *,
        monitor: MonitorStage | None = None,
        qos: int = 1,
        spool: Spool | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.monitor = monitor
        self.qos = qos
        self.spool = spool
        self.decoder = Decoder(
            max_payload_bytes=settings.max_payload_bytes,
            max_future_s=settings.max_future_s,
            max_age_s=settings.max_age_s,
        )
        self.counters = Counters()
        self.inbox = Inbox(settings.queue_size, settings.queue_bytes)
        self.worker_name = client.client_id or "ingest"
        self.state = "spooling" if spool else "ok"  # a spool left by an earlier run: new batches queue behind it
        self.started_at = time.time()
        self._stop = threading.Event()
        self._stop_deadline = float("inf")
        self._health_stop = threading.Event()
        self._writer = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._health = threading.Thread(target=self._health_loop, name="ingest-health", daemon=True)
        self._reject_log = RejectLog(log, settings.reject_log_interval)
        self._throttle = Throttle(settings.reject_log_interval)
        self._alarm_topics: dict[str, str] = {}  # series → its alarm topic
        self._next_probe = 0.0
        self._probe_delay = 0.1

    # ------------------------------------------------------------------ lifecycle

    def subscription(self) -> str:
        group = self.settings.group
        return f"$share/{group}/{SUBSCRIPTION}" if group else SUBSCRIPTION

    def start(self) -> None:
        """Start writing, subscribe (confirmed by the broker), then start publishing health."""
        self._writer.start()
        self.client.subscribe(self.subscription(), qos=self.qos)
        self._health.start()

    def on_message(self, message: Message) -> None:
        """paho's network thread: hand over (waiting while the inbox is full: back-pressure).

        After `stop()` began, messages are not taken and not acknowledged: the broker keeps them for the next run.
        """
        self.inbox.put(message)

    @property
    def running(self) -> bool:
        return self._writer.is_alive()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop taking messages, write and acknowledge everything taken, disconnect; False if that timed out."""
        self.state = "stopping"
        self._stop_deadline = time.monotonic() + max(0.0, timeout - 1.0)
        self.inbox.close()
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join(timeout)
        flushed = not self._writer.is_alive()
        if not flushed:
            log.error(
                "could not write everything within %.0f s; the broker redelivers what was not acknowledged", timeout
            )
        self._health_stop.set()
        if self._health.is_alive():
            self._health.join(2.0)
        self.state = "stopped"
        self._publish_health()
        self.client.close(flush_timeout=2.0)
        if self.spool is not None:
            self.spool.close()
        return flushed

    def health(self) -> dict[str, Any]:
        oldest = self.inbox.oldest_received_at()
        now = time.time()
        return {
            "worker": self.worker_name,
            "ts": int(now * 1000),
            "state": self.state,
            "uptime_s": round(now - self.started_at, 1),
            "interval_s": self.settings.health_interval,
            "subscription": self.subscription(),
            **self.counters.snapshot(len(self.inbox)),
            "duplicates_known": bool(getattr(self.store, "reports_duplicates", True)),
            "queue_bytes": self.inbox.bytes,
            "lag_ms": max(0, int((now - oldest) * 1000)) if oldest is not None else 0,
            "spool_pending": self.spool.pending if self.spool is not None else 0,
            "spool_bytes": self.spool.pending_bytes if self.spool is not None else 0,
        }

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            while True:
                first = self.inbox.get(0.2)
                if first is not None:
                    self._write(self._collect(first))
                elif self._stop.is_set():
                    return
                if not self._stop.is_set():
                    self._replay_due()
        except Exception:
            self.state = "failed"
            log.exception("the ingestion writer failed; unacknowledged messages will be redelivered after a restart")

    def _collect(self, first: Message) -> Batch:
        batch = Batch()
        deadline = time.monotonic() + self.settings.flush_interval
        limit = self.settings.batch_size
        judge = self._judge
        get = self.inbox.get_nowait
        judge(first, batch)
        taken = 1
        while len(batch.readings) < limit:
            message = get()
            if message is None:
                break  # nothing waiting: write now
            judge(message, batch)
            taken += 1
            if not taken & 63 and time.monotonic() >= deadline:
                break
        if self.monitor is not None and batch.readings:
            self._observe(batch)
        return batch

    def _judge(self, message: Message, batch: Batch) -> None:
        batch.messages.append(message)
        topic = message.topic
        if topic.startswith(_SYSTEM):
            return  # dead letters and health messages, ours or other workers'
        counters = self.counters
        counters.received += 1
        if message.dup:
            counters.redelivered += 1
        received_ms = int(message.received_at * 1000)
        decoded = self.decoder.decode(topic, message.payload, received_ms)
        if isinstance(decoded, DeadLetter):
            batch.deadletters.append(decoded)
            counters.rejected[decoded.reason] += 1
            self._reject_log(decoded, counters.rejected[decoded.reason])
            return
        batch.add(decoded)
        readings = decoded.readings
        if readings:
            counters.readings += len(readings)
            counters.data_age_ms = received_ms - readings[-1].ts_ms

    def _observe(self, batch: Batch) -> None:
        """SPC on the batch's readings (the monitor skips redelivered or late ones: they are stored, not charted)."""
        assert self.monitor is not None
        batch.alarms.extend(self.monitor.observe(batch.readings))
        batch.limits.extend(self.monitor.take_limit_changes())

    def _write(self, batch: Batch) -> None:
        """Store the batch (or spool it), then acknowledge its messages and publish dead letters and alarms."""
        delay = 0.1
        while batch.has_records:
            if not self.spool:
                try:
                    self._store(batch)
                    break
                except StoreUnavailable as exc:
                    self.counters.write_errors += 1
                    if self.spool is None:
                        self._warn("store", f"store unavailable ({exc}); retrying, nothing acknowledged")
                    else:
                        self._warn("store", f"store unavailable ({exc}); spooling to {self.spool.directory}")
                        self.state = "spooling"
                        self._next_probe = time.monotonic() + self._probe_delay
                except StoreError as exc:
                    self.counters.write_errors += 1
                    self._warn("store-error", f"store write failed ({exc}); retrying, nothing acknowledged")
                    if not self._pause(delay):
                        return
                    delay = min(delay * 2, _MAX_BACKOFF_S)
                    continue
            if self.spool is not None:
                try:
                    self.spool.append(records.encode(batch))
                    self.counters.spooled += len(batch.readings)
                    break
                except SpoolError as exc:
                    self.counters.write_errors += 1
                    self._warn("spool", f"{exc}; holding the messages at the broker (not acknowledged)")
                    self._next_probe = 0.0
                    self._replay_due()  # the store may be back
            if not self._pause(delay):
                return
            delay = min(delay * 2, _MAX_BACKOFF_S)
        self.client.ack_messages(batch.messages)
        if batch.deadletters or batch.alarms:
            self._publish_side_effects(batch)

    def _pause(self, seconds: float) -> bool:
        """Sleep before a retry; False when stop() has run out of time (give up: the broker redelivers)."""
        if self._stop.is_set() and time.monotonic() >= self._stop_deadline:
            return False
        time.sleep(seconds)
        return True

    def _warn(self, key: str, text: str) -> None:
        if self._throttle(key):
            log.warning(text)

    def _store(self, batch: Batch) -> None:
        store = self.store
        if batch.readings:
            new = store.write_readings(batch.readings)
            self.counters.stored += new
            self.counters.duplicates += len(batch.readings) - new
        if batch.states:
            store.write_states(batch.states)
        if batch.parts:
            store.write_parts(batch.parts)
        if batch.events:
            store.write_events(batch.events)
        if batch.alarms:
            store.write_alarms(batch.alarms)
        if batch.acks:
            store.ack_alarms(batch.acks)
        if batch.deadletters:
            store.write_deadletters(batch.deadletters)
        if batch.limits:
            store.write_limits(batch.limits)

    # ------------------------------------------------------------------ spool replay

    def _replay_due(self) -> None:
        if not self.spool or time.monotonic() < self._next_probe:
            return
        try:
            self.spool.replay(self._replay_record, _REPLAY_SLICE_S)
        except (StoreError, OSError) as exc:
            self._next_probe = time.monotonic() + self._probe_delay
            self._probe_delay = min(self._probe_delay * 2, _MAX_BACKOFF_S)
            self._warn("replay", f"store still unavailable ({exc}); {self.spool.pending} spooled batches wait")
            return
        self._probe_delay = 0.1
        if not self.spool:
            self.state = "ok"
            log.info("the store is back: the spool is replayed (%d readings so far)", self.counters.replayed)

    def _replay_record(self, body: bytes) -> None:
        try:
            batch = records.decode(body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("skipping an unreadable spool record (%s): %r…", exc, body[:200])
            return
        self._store(batch)
        self.counters.replayed += len(batch.readings)

    # ------------------------------------------------------------------ publishing

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
            self._publish(f"{DEADLETTER_PREFIX}/{letter.reason}", json.dumps(body).encode(), qos=0, retain=False)
        for alarm in batch.alarms:
            self.counters.alarms += int(alarm.active)
            topic = self._alarm_topics.get(alarm.series)
            if topic is None:
                path, sensor = series_path(alarm.series)
                topic = self._alarm_topics[alarm.series] = str(Topic(path, MessageClass.ALARM, sensor))
            payload = AlarmPayload(
                alarm_id=alarm.alarm_id,
                active=alarm.active,
                rules=list(alarm.rules),
                value=alarm.value,
                ts=alarm.ts_ms if alarm.active else (alarm.cleared_ms or alarm.ts_ms),
                message=alarm.message,
            )
            self._publish(topic, payload_to_json(payload), qos=1, retain=True)

    def _publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        try:
            self.client.publish(topic, payload, qos=qos, retain=retain, timeout=5.0)
        except BrokerError as exc:  # the record is stored; only the live notification is missed
            self._warn("publish", f"could not publish on {topic!r}: {exc}")

    def _health_loop(self) -> None:
        self._publish_health()
        while not self._health_stop.wait(self.settings.health_interval):
            self._publish_health()

    def _publish_health(self) -> None:
        try:
            body = json.dumps(self.health()).encode()
            self.client.publish(f"{HEALTH_PREFIX}/{self.worker_name}", body, qos=0, retain=True, timeout=1.0)
        except Exception as exc:  # health must never take ingestion down
            log.debug("could not publish health: %s", exc)


__all__ = ["PASS_THROUGH", "IngestService"]
