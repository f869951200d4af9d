"""A batch: the records of the messages collected for one write, and its encoding as a spool record.

The spool record is compact JSON (floats round-trip exactly through `repr`; NaN and Infinity never get this far):
series names are listed once per record and readings refer to them by index, which keeps a spooled reading at
~30 bytes. Every other record travels as its `to_row()` and comes back through `from_row` (`smartfactory.model`);
dead-letter payloads are bytes and travel as base64.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from smartfactory.edge.mqtt import Message
from smartfactory.ingest.decode import Decoded
from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    LimitsVersion,
    MachineInfoRecord,
    PartResult,
    Reading,
    StateChange,
)

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
    infos: list[MachineInfoRecord] = field(default_factory=list)  # machine facts from birth messages
    messages: list[Message] = field(default_factory=list)
    charted: list[Reading] = field(default_factory=list)  # the readings SPC may chart (not spooled)

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
        if decoded.infos:
            self.infos.extend(decoded.infos)

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
            or self.infos
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
        body["s"] = [c.to_row() for c in batch.states]
    if batch.parts:
        body["p"] = [p.to_row() for p in batch.parts]
    if batch.events:
        body["e"] = [e.to_row() for e in batch.events]
    if batch.acks:
        body["k"] = [a.to_row() for a in batch.acks]
    if batch.alarms:
        body["a"] = [a.to_row() for a in batch.alarms]
    if batch.limits:
        body["l"] = [x.to_row() for x in batch.limits]
    if batch.infos:
        body["i"] = [x.to_row() for x in batch.infos]
    if batch.deadletters:
        body["d"] = [_letter_row(d) for d in batch.deadletters]
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(record: bytes) -> Batch:
    body = json.loads(record)
    if body.get("v") != RECORD_VERSION:
        raise ValueError(f"spool record version {body.get('v')!r} is not {RECORD_VERSION}")
    series = body["series"]
    batch = Batch(readings=[Reading(series[i], ts, value, unit) for i, ts, value, unit in body["r"]])
    batch.states = [StateChange.from_row(row) for row in body.get("s", ())]
    batch.parts = [PartResult.from_row(row) for row in body.get("p", ())]
    batch.events = [FaultEvent.from_row(row) for row in body.get("e", ())]
    batch.acks = [AlarmAck.from_row(row) for row in body.get("k", ())]
    batch.alarms = [Alarm.from_row(row) for row in body.get("a", ())]
    batch.limits = [LimitsVersion.from_row(row) for row in body.get("l", ())]
    batch.infos = [MachineInfoRecord.from_row(row) for row in body.get("i", ())]
    batch.deadletters = [_letter(row) for row in body.get("d", ())]
    return batch


def _letter_row(letter: DeadLetter) -> tuple[Any, ...]:
    """A dead letter's row with its payload bytes as base64 text (JSON has no bytes)."""
    received_ms, topic, reason, detail, payload, size = letter.to_row()
    return (received_ms, topic, reason, detail, base64.b64encode(payload).decode(), size)


def _letter(row: list[Any]) -> DeadLetter:
    received_ms, topic, reason, detail, payload, size = row
    return DeadLetter.from_row((received_ms, topic, reason, detail, base64.b64decode(payload), size))
