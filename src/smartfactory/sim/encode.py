"""Records → wire messages (docs/wire.md). Every payload is written by `smartfactory.wire`: telemetry by its
fast encoder `telemetry_json` (no model per message on the hot path), the rest by the payload models' `to_bytes`.

Telemetry is grouped: one message per machine carries every sample since its previous message. With
`ticks_per_message` = 1 (live) that is one sampling instant, plus the measurements of a part finished since
the previous tick; with more (as fast as possible, backfill) it is a `batch` of up to `max_samples` instants.
Message boundaries depend only on tick counts, so the same seed gives the same messages in the same mode.
State (retained), quality, event and status messages are one per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from smartfactory.sim.engine import PlacedMachine
from smartfactory.sim.records import EventRec, PartRec, Record, Sample, StateRec, StatusRec
from smartfactory.wire import (
    EventPayload,
    MachineInfo,
    MessageClass,
    QualityPayload,
    StatePayload,
    StatusPayload,
    telemetry_json,
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool
    cls: MessageClass
    readings: int = 0


#: The classes a simulator publishes (it subscribes to `cmd`).
PUBLISHED = (MessageClass.TELEMETRY, MessageClass.STATE, MessageClass.QUALITY, MessageClass.EVENT, MessageClass.STATUS)


class _Pending:
    __slots__ = ("samples", "ticks")

    def __init__(self) -> None:
        self.samples: list[tuple[int, dict[str, float]]] = []
        self.ticks = 0


class Encoder:
    def __init__(
        self, machines: Sequence[PlacedMachine], *, ticks_per_message: int = 1, max_samples: int = 1000
    ) -> None:
        self.machines = machines
        self.ticks_per_message = max(1, ticks_per_message)
        self.max_samples = max(1, max_samples)
        self._pending = [_Pending() for _ in machines]
        self._topics = [{cls: m.path.topic(cls) for cls in PUBLISHED} for m in machines]

    def encode(self, records: Iterable[Record]) -> list[Outgoing]:
        out: list[Outgoing] = []
        for record in records:
            if isinstance(record, Sample):
                pending = self._pending[record.machine]
                pending.samples.append((record.ts, record.values))
                if record.tick:
                    pending.ticks += 1
                if pending.ticks >= self.ticks_per_message or len(pending.samples) >= self.max_samples:
                    out.append(self._telemetry(record.machine))
            else:
                out.append(self._other(record))
        return out

    def flush(self) -> list[Outgoing]:
        """Telemetry still held back (batch mode) for every machine."""
        return [self._telemetry(i) for i, p in enumerate(self._pending) if p.samples]

    def _telemetry(self, machine: int) -> Outgoing:
        pending = self._pending[machine]
        samples, pending.samples, pending.ticks = pending.samples, [], 0
        all_units = self.machines[machine].units
        seen: set[str] = set()
        for _, values in samples:
            seen.update(values)
        units = {k: u for k, u in all_units.items() if k in seen}
        readings = sum(len(values) for _, values in samples)
        topic = self._topics[machine][MessageClass.TELEMETRY]
        return Outgoing(topic, telemetry_json(samples, units), False, MessageClass.TELEMETRY, readings)

    def _other(self, record: Record) -> Outgoing:
        topics = self._topics[record.machine]
        if isinstance(record, StateRec):
            state = StatePayload.model_validate({"state": record.state, "ts": record.ts, "reason": record.reason})
            return Outgoing(topics[MessageClass.STATE], state.to_bytes(), True, MessageClass.STATE)
        if isinstance(record, PartRec):
            part = QualityPayload(
                part_id=record.part_id,
                ts=record.ts,
                measurements=record.measurements,
                verdict="good" if record.good else "scrap",
            )
            return Outgoing(topics[MessageClass.QUALITY], part.to_bytes(), False, MessageClass.QUALITY)
        if isinstance(record, EventRec):
            event = EventPayload.model_validate(
                {
                    "kind": record.kind,
                    "fault": record.fault,
                    "sensor": record.sensor,
                    "params": record.params,
                    "ts": record.ts,
                    "affects": list(record.affects) if record.affects else None,
                }
            )
            return Outgoing(topics[MessageClass.EVENT], event.to_bytes(), False, MessageClass.EVENT)
        if isinstance(record, StatusRec):
            return Outgoing(
                topics[MessageClass.STATUS], status_payload(record.status, record.ts), True, MessageClass.STATUS
            )
        raise TypeError(f"cannot encode {record!r}")


def status_payload(status: str, ts_ms: int | None = None, info: MachineInfo | None = None) -> bytes:
    """Birth (`online`, with the machine's `info` when given) or last-will (`offline`) payload.

    The will carries no time (it is written at connect).
    """
    return StatusPayload.model_validate({"status": status, "ts": ts_ms, "info": info}).to_bytes()
