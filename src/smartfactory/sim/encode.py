"""Records → wire messages (docs/wire.md), built without pydantic on the hot path; tests validate them with
the `wire` models.

Telemetry is grouped: one message per machine carries every sample since its previous message. With
`ticks_per_message` = 1 (live) that is one sampling instant, plus the measurements of a part finished since
the previous tick; with more (as fast as possible, backfill) it is a `batch` of up to `max_samples` instants.
Message boundaries depend only on tick counts, so the same seed gives the same messages in the same mode.
State (retained), quality, event and status messages are one per record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from smartfactory.sim.engine import PlacedMachine
from smartfactory.sim.records import EventRec, PartRec, Record, Sample, StateRec, StatusRec
from smartfactory.wire import MessageClass, format_ts


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool
    cls: MessageClass
    readings: int = 0


#: The classes a simulator publishes (it subscribes to `cmd`).
PUBLISHED = (MessageClass.TELEMETRY, MessageClass.STATE, MessageClass.QUALITY, MessageClass.EVENT, MessageClass.STATUS)


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


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
        if len(samples) == 1:
            ts, values = samples[0]
            body: dict[str, Any] = {"ts": format_ts(ts), "values": values, "units": units}
        else:
            body = {"batch": [{"ts": ts, "values": values} for ts, values in samples], "units": units}
        topic = self._topics[machine][MessageClass.TELEMETRY]
        return Outgoing(topic, _json(body), False, MessageClass.TELEMETRY, readings)

    def _other(self, record: Record) -> Outgoing:
        topics = self._topics[record.machine]
        if isinstance(record, StateRec):
            body: dict[str, Any] = {"state": record.state, "ts": format_ts(record.ts)}
            if record.reason is not None:
                body["reason"] = record.reason
            return Outgoing(topics[MessageClass.STATE], _json(body), True, MessageClass.STATE)
        if isinstance(record, PartRec):
            body = {
                "part_id": record.part_id,
                "ts": format_ts(record.ts),
                "measurements": record.measurements,
                "verdict": "good" if record.good else "scrap",
            }
            return Outgoing(topics[MessageClass.QUALITY], _json(body), False, MessageClass.QUALITY)
        if isinstance(record, EventRec):
            body = {"kind": record.kind, "fault": record.fault, "params": record.params, "ts": format_ts(record.ts)}
            if record.sensor is not None:
                body["sensor"] = record.sensor
            return Outgoing(topics[MessageClass.EVENT], _json(body), False, MessageClass.EVENT)
        if isinstance(record, StatusRec):
            body = {"status": record.status, "ts": format_ts(record.ts)}
            return Outgoing(topics[MessageClass.STATUS], _json(body), True, MessageClass.STATUS)
        raise TypeError(f"cannot encode {record!r}")


def status_payload(status: str, ts_ms: int | None = None) -> bytes:
    """Birth (`online`) or last-will (`offline`) payload; the will carries no time (it is written at connect)."""
    return _json({"status": status} if ts_ms is None else {"status": status, "ts": format_ts(ts_ms)})
