"""The ingestion service: subscribe → decode → monitor → batch → store (or spool), then acknowledge.

Threads: paho's network thread parses messages and puts them in a bounded `Inbox` (when it is full the network
thread waits: TCP back-pressure on the broker). One writer thread takes what is there (group commit: a batch is
written as soon as the writer is free, at most `batch_size` readings and `flush_interval` of collecting), decodes,
runs the SPC monitor, writes, and then acknowledges the batch's QoS 1 messages in arrival order with one socket
write. A message is acknowledged only once its records (or its dead letter) are in the store or fsync'd in the
spool, so a crash at any point means redelivery, never loss; the store's keys turn redelivery into no change.

When the store is unavailable (`StoreUnavailable`: InfluxDB down, disk full, a SQLite file another process keeps
locked past the store's lock wait of 1 s) batches go to the local spool and are acknowledged once on disk; while
the spool holds anything every new batch is appended behind it, so the store receives everything in arrival
order. The writer probes the store with back-off (`STORE_RETRY`: 0.1 s doubling to 5 s) and replays the spool in
slices of `_REPLAY_SLICE_S` between batches. A spool left by a previous run is replayed at start. A health thread
publishes the counters every `health_interval` seconds on `_sf/health/{worker}`.

Stopping: `stop(timeout)` refuses new messages and lets the writer write and acknowledge what it took. A writer still
busy when the time is up (a slow or locked store) is abandoned, not interrupted: it finishes the write it is in,
acknowledges nothing more and exits; what it did not acknowledge stays in the broker's persistent session and is
delivered again at the next start (the store's keys make a repeat a no-op). Resources the writer uses (spool, and
through `when_writer_done` the store) are closed only once it is out, never under it.

Containment: no single message may stop the writer. The decoder's own failures become `internal_error` dead
letters; the SPC monitor runs series by series, and a series whose monitor raises is switched off (SPC only:
its readings are still stored) until a restart, logged once and counted (`contained.spc_error`,
`spc_disabled`); a failed dead-letter or alarm publish is counted, never raised. Readings stamped more than
`chart_future_s` ahead of the receive clock are stored (up to `max_future_s`) but not charted, so one
future-stamped reading cannot make every later reading "older than charted"; the receive clock for this is the
larger of the wall clock and the wall clock at start carried forward by the monotonic clock, so a backward step
of this host's clock does not stop charting either. A series that runs ahead (a simulator faster than real
time, a publisher whose clock was stepped forward) is charted from its second reading on: each reading beyond
the window must follow the one before within 60 s of reading time, and a reading within the window ends the run.

Bounds: the decoder admits at most `max_series` series (`max_series_per_machine` per machine); readings of new
series past a cap are dead-lettered (`too_many_series`), which bounds the monitor's state and every cache. Dead
letters are remembered by natural key (`_DEADLETTER_MEMORY` of them): a message already dead-lettered (a retained
one at a resubscribe, a redelivery, the same garbage again) is counted in `rejected` and `rejected_again` but
neither stored nor published again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import StoreError, StoreUnavailable
from smartfactory.ingest import batch as records
from smartfactory.ingest.batch import Batch
from smartfactory.ingest.decode import PASS_THROUGH, Decoder, SeriesCaps
from smartfactory.ingest.health import Counters, RejectLog, Throttle
from smartfactory.ingest.inbox import Inbox
from smartfactory.ingest.sparkplug import PREFIX as SPARKPLUG_PREFIX
from smartfactory.ingest.sparkplug import SESSION_FILTERS, SparkplugStage
from smartfactory.ingest.sparkplug import STATE_PREFIX as SPARKPLUG_STATE
from smartfactory.ingest.spool import Spool, SpoolError
from smartfactory.model import DeadLetter, Reading
from smartfactory.retry import RetryPolicy
from smartfactory.settings import IngestSettings
from smartfactory.sparkplug.mapping import SparkplugMapping
from smartfactory.storage import Storage
from smartfactory.storage.base import deadletter_key
from smartfactory.wire import (
    DEADLETTER_PREFIX,
    HEALTH_PREFIX,
    SYSTEM_ROOT,
    AlarmPayload,
    DeadLetterPayload,
    HealthPayload,
    MachineInfo,
    MessageClass,
    parse_series,
)

if TYPE_CHECKING:
    from smartfactory.ingest.monitor import MonitorStage

log = logging.getLogger(__name__)
SUBSCRIPTION = "#"
_SYSTEM = SYSTEM_ROOT + "/"
_REPLAY_SLICE_S = 0.25
#: Pauses between retries of a failed store write, and between probes of an unavailable store (never gives up).
STORE_RETRY = RetryPolicy(initial=0.1, factor=2.0, max=5.0, retries=None)
#: Natural keys of the most recent dead letters remembered (to skip a message dead-lettered before).
_DEADLETTER_MEMORY = 10_000
#: Alarm topics remembered (series → topic); the cache starts again when full.
_ALARM_TOPIC_CACHE = 10_000
#: Readings ahead of the charting window are charted only within a run: each at most this far (reading time)
#: after the one before (see `_ahead_ok`).
_AHEAD_GAP_MS = 60_000


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
        sparkplug_mapping: SparkplugMapping | None = None,
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
            caps=SeriesCaps(settings.max_series, settings.max_series_per_machine, _known_series(store)),
        )
        self.counters = Counters()
        #: The Sparkplug B host application (ingest.sparkplug; docs/wire.md, "Sparkplug B"); None: spBv1.0/ ignored.
        self.sparkplug = (
            SparkplugStage(
                self.decoder, settings, self._send_command, mapping=sparkplug_mapping, counters=self.counters.contained
            )
            if settings.sparkplug
            else None
        )
        self.inbox = Inbox(settings.queue_size, settings.queue_bytes)
        self.worker_name = client.client_id or "ingest"
        self.state = "spooling" if spool else "ok"  # a spool left by an earlier run: new batches queue behind it
        self.started_at = time.time()
        self._stop = threading.Event()
        self._stop_deadline = float("inf")
        #: set by a stop that ran out of time: the writer acknowledges nothing more and exits after its write
        self._abandoned = threading.Event()
        self._ack_lock = threading.Lock()  # an acknowledgement and the abandoning never interleave
        self._exit_lock = threading.Lock()
        self._writer_exited = False
        self._on_writer_exit: list[Callable[[], None]] = []
        #: what a stop that ran out of time said (None: the last stop finished, or none ran yet)
        self.stop_note: str | None = None
        self._health_stop = threading.Event()
        self._writer = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._health = threading.Thread(target=self._health_loop, name="ingest-health", daemon=True)
        self._reject_log = RejectLog(log, settings.reject_log_interval)
        self._throttle = Throttle(settings.reject_log_interval)
        self._alarm_topics: dict[str, str] = {}  # series → its alarm topic (bounded: _ALARM_TOPIC_CACHE)
        self._next_probe = 0.0
        self._probe = STORE_RETRY.backoff()
        self._letters_seen = _recent_letters(store)  # natural keys of recent dead letters (stored ones first)
        self._spc_off: set[str] = set()  # series whose monitor failed: SPC switched off until a restart
        self._chart_ahead_ms = int(settings.chart_future_s * 1000)
        self._chart_now_ms = 0  # the receive clock of the batch being collected (see _chart_clock)
        self._wall0, self._mono0 = time.time(), time.monotonic()
        self._ahead: dict[str, int] = {}  # series → newest ts seen beyond the window (see _ahead_ok)

    # ------------------------------------------------------------------ lifecycle

    def subscription(self) -> str:
        group = self.settings.group
        return f"$share/{group}/{SUBSCRIPTION}" if group else SUBSCRIPTION

    def start(self) -> None:
        """Start writing, subscribe (confirmed by the broker), then start publishing health.

        A resumed session (`session_present`) is not confirmed: the broker still holds its subscriptions and sends
        the SUBACK only behind the queued backlog (50,000 queued messages took over the 5 s timeout, so a restarted
        worker could not start at all; issue 13)."""
        self._writer.start()
        confirm = not self.client.session_present
        self.client.subscribe(self.subscription(), qos=self.qos, confirm=confirm)
        if self.sparkplug is not None and self.settings.group:  # every worker sees every Sparkplug birth and death
            for topic_filter in SESSION_FILTERS:
                self.client.subscribe(topic_filter, qos=self.qos, confirm=confirm)
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
        """Stop taking messages, write and acknowledge everything taken, disconnect; False if that timed out.

        On a timeout the writer is abandoned (see the module docstring): it acknowledges nothing more, and the
        spool is closed when the writer is out of it. `stop_note` then says what happens to the messages."""
        self.state = "stopping"
        self._stop_deadline = time.monotonic() + max(0.0, timeout - 1.0)
        self.inbox.close()
        self._stop.set()
        if self._writer.is_alive():
            self._writer.join(timeout)
        flushed = not self._writer.is_alive()
        if not flushed:
            with self._ack_lock:  # from here on the writer acknowledges nothing
                self._abandoned.set()
            self.stop_note = unfinished_note(timeout, len(self.inbox))
            log.error("%s", self.stop_note)
        self._health_stop.set()
        if self._health.is_alive():
            self._health.join(2.0)
        self.state = "stopped"
        self._publish_health()
        self.client.close(flush_timeout=2.0)
        if self.spool is not None:
            self.when_writer_done(self.spool.close)
        return flushed

    def when_writer_done(self, action: Callable[[], None]) -> None:
        """Run `action` (closing something the writer uses) now if the writer is not running, else as soon as it
        has exited: after a stop that timed out, from the writer thread itself on its way out."""
        with self._exit_lock:
            if not self._writer_exited and self._writer.is_alive():
                self._on_writer_exit.append(action)
                return
        action()

    def _writer_exit(self) -> None:
        with self._exit_lock:
            self._writer_exited = True
            actions, self._on_writer_exit = self._on_writer_exit, []
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("closing after the ingestion writer failed")
        if actions:
            log.info("the abandoned ingestion writer finished its last write and exited")

    def health_payload(self) -> HealthPayload:
        """The health report published on `_sf/health/{worker}` (keys: `ingest/health.py`)."""
        oldest = self.inbox.oldest_received_at()
        now = time.time()
        return HealthPayload.model_validate(
            {
                "worker": self.worker_name,
                "ts": int(now * 1000),
                "state": self.state,
                "uptime_s": round(now - self.started_at, 1),
                "interval_s": self.settings.health_interval,
                "subscription": self.subscription(),
                **self.counters.snapshot(len(self.inbox)),
                "duplicates_known": bool(getattr(self.store, "reports_duplicates", True)),
                "series": len(self.decoder.caps),
                "spc_disabled": len(self._spc_off),
                "spc_cannot_learn": self.monitor.cannot_learn if self.monitor is not None else 0,
                "queue_bytes": self.inbox.bytes,
                "lag_ms": max(0, int((now - oldest) * 1000)) if oldest is not None else 0,
                "spool_pending": self.spool.pending if self.spool is not None else 0,
                "spool_bytes": self.spool.pending_bytes if self.spool is not None else 0,
            }
        )

    def health(self) -> dict[str, Any]:
        """`health_payload()` as plain data."""
        return self.health_payload().model_dump(exclude_none=True)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            while not self._abandoned.is_set():
                first = self.inbox.get(0.2)
                if first is not None and not self._abandoned.is_set():
                    self._write(self._collect(first))
                elif self._stop.is_set():
                    return
                if not self._stop.is_set():
                    self._replay_due()
        except BaseException:
            self.state = "failed"
            log.exception("the ingestion writer failed; unacknowledged messages will be redelivered after a restart")
        finally:
            self._writer_exit()

    def _chart_clock(self) -> int:
        """Now, for the charting window: the later of the wall clock and the start's wall clock carried forward
        monotonically (a backward step of the wall clock must not push honest readings "into the future")."""
        now = time.time()
        carried = self._wall0 + (time.monotonic() - self._mono0)
        return int(max(now, carried) * 1000)

    def _collect(self, first: Message) -> Batch:
        batch = Batch()
        self._chart_now_ms = self._chart_clock()
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
        if self.monitor is not None and (batch.readings or batch.states or batch.infos):
            self._observe(batch)
        return batch

    def _judge(self, message: Message, batch: Batch) -> None:
        batch.messages.append(message)
        topic = message.topic
        if topic.startswith(_SYSTEM):
            return  # dead letters and health messages, ours or other workers'
        decode = self.decoder.decode
        if topic.startswith(SPARKPLUG_PREFIX):
            if self.sparkplug is None or topic.startswith(SPARKPLUG_STATE):
                return  # ingest.sparkplug off; or a host's STATE (ours among them): like _sf/health, not data
            decode = self.sparkplug.decode
        counters = self.counters
        counters.received += 1
        if message.dup:
            counters.redelivered += 1
        received_ms = int(message.received_at * 1000)
        try:
            decoded = decode(topic, message.payload, received_ms)
        except Exception as exc:  # a bug in the decoder: this message is dead-lettered, the rest goes on
            log.exception("the decoder failed on a message on %r", topic[:200])
            decoded = DeadLetter(
                received_ms,
                topic[:1024],
                "internal_error",
                f"decoder failed: {type(exc).__name__}: {exc}"[:500],
                message.payload[: DeadLetter.MAX_KEPT_PAYLOAD],
                len(message.payload),
            )
        if isinstance(decoded, DeadLetter):
            self._dead_letter(decoded, batch)
            return
        batch.add(decoded)
        for letter in decoded.deadletters:
            self._dead_letter(letter, batch)
        readings = decoded.readings
        if readings:
            counters.readings += len(readings)
            counters.data_age_ms = received_ms - readings[-1].ts_ms
            if self.monitor is not None:
                self._chartable(readings, max(received_ms, self._chart_now_ms), batch.charted)

    def _dead_letter(self, letter: DeadLetter, batch: Batch) -> None:
        """Count a rejection; store and publish it unless the same message was dead-lettered recently."""
        self.counters.rejected[letter.reason] += 1
        key = deadletter_key(letter)
        seen = self._letters_seen
        if key in seen:
            seen.move_to_end(key)
            self.counters.rejected_again += 1
            return
        seen[key] = None
        if len(seen) > _DEADLETTER_MEMORY:
            seen.popitem(last=False)
        batch.deadletters.append(letter)
        self._reject_log(letter, self.counters.rejected[letter.reason])

    def _chartable(self, readings: list[Reading], now_ms: int, charted: list[Reading]) -> None:
        """Add the readings SPC may chart: not further ahead of the receive clock than `chart_future_s`, or the
        continuation of a run ahead (`_ahead_ok`). A reading within the window ends its series' run ahead."""
        limit = now_ms + self._chart_ahead_ms
        ahead = self._ahead
        if len(readings) == 1 and readings[0].ts_ms <= limit:
            charted.append(readings[0])
            if ahead:
                ahead.pop(readings[0].series, None)
            return
        future = 0
        for reading in readings:
            if reading.ts_ms <= limit:
                charted.append(reading)
                if ahead:
                    ahead.pop(reading.series, None)
            elif self._ahead_ok(reading, now_ms):
                charted.append(reading)
            else:
                future += 1
        if not future:
            return
        self.counters.contained["future_not_charted"] += future
        self._warn(
            "future", f"{future} reading(s) stamped more than {self._chart_ahead_ms} ms ahead: stored, not charted"
        )

    def _ahead_ok(self, reading: Reading, now_ms: int) -> bool:
        """May a reading beyond the window be charted? Only when it continues its series' run ahead: at most
        `_AHEAD_GAP_MS` (reading time) after the newest reading of that series seen beyond the window. The first
        reading of a run is held back (stored, not charted); the next one confirms it. So a simulator running
        faster than real time, or a publisher whose clock was stepped forward, loses one reading per series to
        the chart, while a stray future reading is never confirmed by the honest readings after it (which are
        within the window and end the run, see `_chartable`) and so cannot make them "older than charted"."""
        ahead = self._ahead
        newest = ahead.get(reading.series)
        step = reading.ts_ms - newest if newest is not None else None
        if step is not None and -_AHEAD_GAP_MS <= step <= 0:
            return False  # a little out of order, or repeated: neither continues nor breaks the run
        if newest is None and len(ahead) >= self.settings.max_series:
            ahead.clear()  # bounded like every per-series structure
        ahead[reading.series] = reading.ts_ms
        return step is not None and 0 < step <= _AHEAD_GAP_MS

    def _observe(self, batch: Batch) -> None:
        """The monitor on the batch: births and states first, then the chartable readings series by series (each
        one contained), then its periodic checks (`MonitorStage.tick`) and new limits versions.

        The monitor skips redelivered or late readings (they are stored, not charted). A series whose monitor
        raises (numbers no chart can hold, a bug) is switched off for SPC until a restart: its readings are still
        stored, the failure is logged once and counted; every other series goes on.
        """
        assert self.monitor is not None
        monitor = self.monitor
        try:  # births (signal kinds, rates) and machine states (gating, stop alarms) first: they shape the charts
            for record in batch.infos:
                monitor.birth(record.machine, self._within_caps(record.machine, record.info), record.ts_ms)
            if batch.states:
                batch.alarms.extend(monitor.states(batch.states))
        except Exception as exc:
            self.counters.contained["spc_error"] += 1
            log.error("the monitor failed on births or states (%s: %s)", type(exc).__name__, exc)
        if batch.charted:
            self._observe_readings(batch)
        try:  # periodic checks (silent sensors, quiet episodes), at most once a second of the receive clock
            batch.alarms.extend(monitor.tick(self._chart_now_ms))
            batch.limits.extend(monitor.take_limit_changes())
        except Exception as exc:
            self.counters.contained["spc_error"] += 1
            log.error("the monitor's periodic checks failed (%s: %s)", type(exc).__name__, exc)

    def _within_caps(self, machine: str, info: MachineInfo) -> MachineInfo:
        """The birth's signals the series caps admit: the monitor keeps state for every declared signal (a silent
        sensor must be noticed), so a birth counts against `max_series` and `max_series_per_machine` as readings
        do; signals past a cap are left out of the monitor and counted (`contained.signals_over_cap`). The birth
        itself is stored whole."""
        admit = self.decoder.caps.admit
        refused = {name for name in info.signals if admit(f"{machine}/telemetry/{name}", machine) is not None}
        if not refused:
            return info
        self.counters.contained["signals_over_cap"] += len(refused)
        log.warning("%s declares %d signals past the series caps: not monitored", machine, len(refused))
        kept = {name: signal for name, signal in info.signals.items() if name not in refused}
        return info.model_copy(update={"signals": kept})

    def _observe_readings(self, batch: Batch) -> None:
        assert self.monitor is not None
        groups: dict[str, list[Reading]] = {}
        for reading in batch.charted:
            group = groups.get(reading.series)
            if group is None:
                groups[reading.series] = [reading]
            else:
                group.append(reading)
        observe = self.monitor.observe
        off = self._spc_off
        for series, readings in groups.items():
            if series in off:
                continue
            try:
                batch.alarms.extend(observe(readings))
            except Exception as exc:
                off.add(series)
                self.counters.contained["spc_error"] += 1
                log.error(
                    "SPC failed on %s (%s: %s); its readings are still stored, SPC for it is off until a restart",
                    series[:200],
                    type(exc).__name__,
                    exc,
                )

    def _write(self, batch: Batch) -> None:
        """Store the batch (or spool it), then acknowledge its messages and publish dead letters and alarms."""
        backoff = STORE_RETRY.backoff()
        while batch.has_records:
            if not self.spool:
                try:
                    self._store(batch)
                    if self.state == "spooling":  # the spool is empty and the store took the batch: healthy again
                        self.state = "ok"
                    break
                except StoreUnavailable as exc:
                    self.counters.write_errors += 1
                    if self.spool is None:
                        self._warn("store", f"store unavailable ({exc}); retrying, nothing acknowledged")
                    else:
                        self._warn("store", f"store unavailable ({exc}); spooling to {self.spool.directory}")
                        self.state = "spooling"
                        self._next_probe = time.monotonic() + self._probe.next()
                except StoreError as exc:  # a backend's bug (any other exception) stops the writer: see _run
                    self.counters.write_errors += 1
                    self._warn("store-error", f"store write failed ({exc}); retrying, nothing acknowledged")
                    if not self._pause(backoff.next()):
                        return
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
            if not self._pause(backoff.next()):
                return
        with self._ack_lock:
            if self._abandoned.is_set():  # stop gave up on us and closed the connection: the broker redelivers
                return
            self.client.ack_messages(batch.messages)
        if batch.deadletters or batch.alarms:
            try:
                self._publish_side_effects(batch)
            except Exception as exc:  # stored already: only the live notification is missed
                self.counters.contained["publish_error"] += 1
                self._warn("side-effects", f"could not publish dead letters or alarms: {exc!r}")

    def _pause(self, seconds: float) -> bool:
        """Sleep before a retry; False when stop() has run out of time (give up: the broker redelivers)."""
        if self._abandoned.is_set() or (self._stop.is_set() and time.monotonic() >= self._stop_deadline):
            return False
        time.sleep(seconds)
        return True

    def _warn(self, key: str, text: str) -> None:
        if self._throttle(key):
            log.warning(text)

    def _store(self, batch: Batch) -> None:
        store = self.store
        if batch.readings:
            before = getattr(store, "conflicts", 0)
            new = store.write_readings(batch.readings)
            conflicts = getattr(store, "conflicts", 0) - before  # same key, other value: replaced (last wins)
            self.counters.stored += new
            self.counters.conflicts += conflicts
            self.counters.duplicates += len(batch.readings) - new - conflicts
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
        for record in batch.infos:
            store.write_machine_info(record.machine, record.ts_ms, record.info)

    # ------------------------------------------------------------------ spool replay

    def _replay_due(self) -> None:
        if not self.spool or time.monotonic() < self._next_probe:
            return
        try:
            self.spool.replay(self._replay_record, _REPLAY_SLICE_S)
        except (StoreError, OSError) as exc:
            self._next_probe = time.monotonic() + self._probe.next()
            self._warn("replay", f"store still unavailable ({exc}); {self.spool.pending} spooled batches wait")
            return
        self._probe.reset()
        if not self.spool:
            self.state = "ok"
            log.info("the store is back: the spool is replayed (%d readings so far)", self.counters.replayed)

    def _replay_record(self, body: bytes) -> None:
        try:
            batch = records.decode(body)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.error("skipping an unreadable spool record (%s): %r…", exc, body[:200])
            return
        self._store(batch)
        self.counters.replayed += len(batch.readings)

    # ------------------------------------------------------------------ publishing

    def _publish_side_effects(self, batch: Batch) -> None:
        for letter in batch.deadletters:
            try:
                body = DeadLetterPayload(
                    reason=letter.reason,
                    detail=letter.detail,
                    topic=letter.topic,
                    received_ms=letter.received_ms,
                    payload_size=letter.payload_size,
                    payload=letter.payload[: DeadLetterPayload.MAX_PAYLOAD_CHARS].decode("utf-8", "replace"),
                ).to_bytes()
            except Exception as exc:  # the letter is stored; only its live message is missed (not the others')
                self.counters.contained["publish_error"] += 1
                self._warn("deadletter", f"could not build the dead-letter message of {letter.topic[:200]!r}: {exc!r}")
                continue
            self._publish(f"{DEADLETTER_PREFIX}/{letter.reason}", body, qos=0, retain=False)
        for alarm in batch.alarms:
            self.counters.alarms += int(alarm.active)
            try:
                topic = self._alarm_topics.get(alarm.series)
                if topic is None:
                    sid = parse_series(alarm.series)
                    if len(self._alarm_topics) >= _ALARM_TOPIC_CACHE:
                        self._alarm_topics.clear()
                    topic = self._alarm_topics[alarm.series] = sid.path.topic(MessageClass.ALARM, sid.sensor)
                payload = AlarmPayload(
                    alarm_id=alarm.alarm_id,
                    active=alarm.active,
                    rules=list(alarm.rules),
                    value=alarm.value,
                    ts=alarm.ts_ms if alarm.active else (alarm.cleared_ms or alarm.ts_ms),
                    message=alarm.message,
                ).to_bytes()
            except Exception as exc:  # the alarm is stored; only its live message is missed
                self.counters.contained["publish_error"] += 1
                self._warn("alarm", f"could not build the alarm message of {alarm.series[:200]!r}: {exc!r}")
                continue
            self._publish(topic, payload, qos=1, retain=True)

    def _send_command(self, topic: str, payload: bytes) -> None:
        """A Sparkplug command (a rebirth request NCMD), QoS 0 as the specification has it."""
        self._publish(topic, payload, qos=0, retain=False)

    def _publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        try:
            self.client.publish(topic, payload, qos=qos, retain=retain, timeout=5.0)
        except Exception as exc:  # BrokerError or worse: the record is stored; only the live notification is missed
            self.counters.contained["publish_error"] += 1
            self._warn("publish", f"could not publish on {topic[:200]!r}: {exc}")

    def _health_loop(self) -> None:
        self._publish_health()
        while not self._health_stop.wait(self.settings.health_interval):
            self._publish_health()

    def _publish_health(self) -> None:
        try:
            body = self.health_payload().to_bytes()
            self.client.publish(f"{HEALTH_PREFIX}/{self.worker_name}", body, qos=0, retain=True, timeout=1.0)
        except Exception as exc:  # health must never take ingestion down
            log.debug("could not publish health: %s", exc)


def unfinished_note(timeout: float, waiting: int) -> str:
    """What a stop that ran out of time tells the user (instead of whatever the abandoned writer might run into)."""
    return (
        f"ingestion did not finish writing within {timeout:g} s (a slow or locked store); it stops after the write in "
        f"progress and acknowledges nothing more: what it did not acknowledge ({waiting} message(s) still waiting, "
        "and the batch being written) stays in the broker's persistent session and is delivered again at the next "
        "start"
    )


def _recent_letters(store: Storage) -> OrderedDict[bytes, None]:
    """Natural keys of the dead letters stored in the last day (at most `_DEADLETTER_MEMORY`), so that a restarted
    worker does not publish again what its subscription brings back (retained garbage)."""
    seen: OrderedDict[bytes, None] = OrderedDict()
    try:
        letters = store.read_deadletters(since_ms=int(time.time() * 1000) - 86_400_000, limit=_DEADLETTER_MEMORY)
    except Exception as exc:
        log.debug("could not read the recent dead letters (%s)", exc)
        return seen
    for letter in letters[-_DEADLETTER_MEMORY:]:
        seen[deadletter_key(letter)] = None
    return seen


def _known_series(store: Storage) -> list[str]:
    """The series already in the store: they count against the caps (an unreachable store: none known yet)."""
    try:
        return [info.series for info in store.list_series()]
    except Exception as exc:
        log.warning("could not list the stored series (%s); the series caps count from zero", exc)
        return []


__all__ = ["PASS_THROUGH", "IngestService", "unfinished_note"]
