"""A batch: the records of the messages collected for one write, and its encoding as a spool record.

The spool record is compact JSON (floats round-trip exactly through `repr`; NaN and Infinity never get this far):
series names are listed once per record and readings refer to them by index, which keeps a spooled reading at
~30 bytes. Dead-letter payloads are bytes and travel as base64.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from smartfactory.ingest.decode import Decoded
from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    LimitsVersion,
    PartResult,
    Reading,
    StateChange,
)
from smartfactory.mqtt import Message

RECORD_VERSION = 1


@dataclass(slots=True)
class Batch:
    readings: list[Reading] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    parts: list[PartResult] = field(default_factory=list)
    events: list[FaultEvent] = field(default_factory=list)
    acks: list[AlarmAck] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    limits: list[LimitsVersion] = field(default_factory=list)  # control limits the monitor set (learned/configured)
    messages: list[Message] = field(default_factory=list)

    def add(self, decoded: Decoded) -> None:
        self.readings.extend(decoded.readings)
        if decoded.states:
            self.states.extend(decoded.states)
        if decoded.parts:
            self.parts.extend(decoded.parts)
        if decoded.events:
            self.events.extend(decoded.events)
        if decoded.acks:
            self.acks.extend(decoded.acks)

    @property
    def has_records(self) -> bool:
        return bool(
            self.readings
            or self.states
            or self.parts
            or self.events
            or self.acks
            or self.alarms
            or self.deadletters
            or self.limits
        )


def encode(batch: Batch) -> bytes:
    """The records of a batch (not its messages: those are acknowledged once the record is on disk)."""
    index: dict[str, int] = {}
    readings = []
    for r in batch.readings:
        i = index.get(r.series)
        if i is None:
            i = index[r.series] = len(index)
        readings.append((i, r.ts_ms, r.value, r.unit))
    body: dict[str, Any] = {"v": RECORD_VERSION, "series": list(index), "r": readings}
    if batch.states:
        body["s"] = [(c.machine, c.ts_ms, c.state, c.reason) for c in batch.states]
    if batch.parts:
        body["p"] = [(p.machine, p.ts_ms, p.part_id, p.good, p.measurements) for p in batch.parts]
    if batch.events:
        body["e"] = [(e.machine, e.ts_ms, e.kind, e.fault, e.sensor, e.params) for e in batch.events]
    if batch.acks:
        body["k"] = [(a.alarm_id, a.series, a.ts_ms, a.by) for a in batch.acks]
    if batch.alarms:
        body["a"] = [
            (a.alarm_id, a.series, a.ts_ms, a.rules, a.value, a.active, a.message, a.cleared_ms, a.acked_ms, a.acked_by)
            for a in batch.alarms
        ]
    if batch.limits:
        body["l"] = [(x.series, x.version, x.ts_ms, x.center, x.sigma, x.nsigmas, x.n, x.source) for x in batch.limits]
    if batch.deadletters:
        body["d"] = [
            (d.received_ms, d.topic, d.reason, d.detail, base64.b64encode(d.payload).decode(), d.payload_size)
            for d in batch.deadletters
        ]
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(record: bytes) -> Batch:
    body = json.loads(record)
    if body.get("v") != RECORD_VERSION:
        raise ValueError(f"spool record version {body.get('v')!r} is not {RECORD_VERSION}")
    series = body["series"]
    batch = Batch(readings=[Reading(series[i], ts, value, unit) for i, ts, value, unit in body["r"]])
    batch.states = [StateChange(*row) for row in body.get("s", ())]
    batch.parts = [PartResult(*row) for row in body.get("p", ())]
    batch.events = [FaultEvent(*row) for row in body.get("e", ())]
    batch.acks = [AlarmAck(*row) for row in body.get("k", ())]
    batch.alarms = [
        Alarm(aid, s, ts, tuple(rules), value, active, msg, cleared, acked, by)
        for aid, s, ts, rules, value, active, msg, cleared, acked, by in body.get("a", ())
    ]
    batch.limits = [LimitsVersion(*row) for row in body.get("l", ())]
    batch.deadletters = [
        DeadLetter(received, topic, reason, detail, base64.b64decode(payload), size)
        for received, topic, reason, detail, payload, size in body.get("d", ())
    ]
    return batch
