"""The records that flow through the pipeline after decoding: pure dataclasses, no I/O.

A `series` id is the single-reading telemetry topic of a sensor
(`acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp`); a `machine` id is its machine path
(`acme/plant1/machining/line-1/cnc-01`). Times are integer epoch milliseconds (UTC).

Build records with keywords. Each record has one row form: `to_row()` gives its fields as a tuple in declaration
order and `from_row(row)` builds it back (JSON lists are accepted where a tuple is kept). The spool, the SQLite
backend and the InfluxDB row reader use these instead of spelling the field order out again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from smartfactory.wire import MachineInfo, MachinePath


@dataclass(frozen=True, slots=True)
class Reading:
    """One sensor value at one instant."""

    series: str
    ts_ms: int
    value: float
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message: why, where from, when, and its payload (truncated to `MAX_KEPT_PAYLOAD`)."""

    received_ms: int
    topic: str
    reason: str
    detail: str
    payload: bytes
    payload_size: int

    MAX_KEPT_PAYLOAD = 1024

    def to_row(self) -> tuple[int, str, str, str, bytes, int]:
        return (self.received_ms, self.topic, self.reason, self.detail, self.payload, self.payload_size)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> DeadLetter:
        received_ms, topic, reason, detail, payload, payload_size = row
        return cls(
            received_ms=received_ms,
            topic=topic,
            reason=reason,
            detail=detail,
            payload=bytes(payload),
            payload_size=payload_size,
        )


@dataclass(frozen=True, slots=True)
class StateChange:
    """Machine `machine` entered `state` (for `reason`) at `ts_ms` and stays there until its next change.

    The one state-change record: decoded from the wire, stored, read back, and fed to the OEE engine (`kpi`).
    `line` is the line the OEE engine groups it under; left None it is the machine path's line id (`line_id`).
    """

    machine: str
    ts_ms: int
    state: str
    reason: str | None = None
    line: str | None = None

    @property
    def line_id(self) -> str:
        """`line` when given, else `area/line` of the machine path (`MachinePath.line_id`)."""
        return self.line if self.line is not None else MachinePath.parse(self.machine).line_id

    def to_row(self) -> tuple[str, int, str, str | None, str | None]:
        return (self.machine, self.ts_ms, self.state, self.reason, self.line)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> StateChange:
        machine, ts_ms, state, reason, *rest = row  # rows of the first version have no line
        return cls(machine=machine, ts_ms=ts_ms, state=state, reason=reason, line=rest[0] if rest else None)


@dataclass(frozen=True, slots=True)
class PartResult:
    """One produced part with its quality measurements and verdict."""

    machine: str
    ts_ms: int
    part_id: str
    good: bool
    measurements: dict[str, float] = field(default_factory=dict)

    def to_row(self) -> tuple[str, int, str, bool, dict[str, float]]:
        return (self.machine, self.ts_ms, self.part_id, self.good, self.measurements)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> PartResult:
        machine, ts_ms, part_id, good, measurements = row
        return cls(machine=machine, ts_ms=ts_ms, part_id=part_id, good=bool(good), measurements=measurements)


#: What OEE needs of a part: (machine, ts_ms, good), a light `PartResult`. A plain tuple, not a NamedTuple: building
#: 60,000 NamedTuples took 0.11 s of a 0.32 s overview refresh (bench/scale_dashboard.py's plant).
PartOutcome = tuple[str, int, bool]


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """Ground truth from the simulator: a fault started or was repaired at `ts_ms`; `affects` names the signals the
    fault changes (`wire.EventPayload.affects`; empty when the event does not say)."""

    machine: str
    ts_ms: int
    kind: str  # "fault" | "repair"
    fault: str
    sensor: str | None = None
    params: dict[str, float | str] = field(default_factory=dict)
    affects: tuple[str, ...] = ()

    def to_row(self) -> tuple[str, int, str, str, str | None, dict[str, float | str], list[str]]:
        return (self.machine, self.ts_ms, self.kind, self.fault, self.sensor, self.params, list(self.affects))

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> FaultEvent:
        machine, ts_ms, kind, fault, sensor, params, *rest = row  # rows of the first version have no affects
        return cls(
            machine=machine,
            ts_ms=ts_ms,
            kind=kind,
            fault=fault,
            sensor=sensor,
            params=params,
            affects=tuple(rest[0]) if rest and rest[0] else (),
        )


@dataclass(frozen=True, slots=True)
class Alarm:
    """An SPC alarm on one series; `active` until cleared, acknowledged independently."""

    alarm_id: str
    series: str
    ts_ms: int
    rules: tuple[str, ...]
    value: float | None
    active: bool = True
    message: str = ""
    cleared_ms: int | None = None
    acked_ms: int | None = None
    acked_by: str | None = None

    def to_row(self) -> tuple[Any, ...]:
        return (
            self.alarm_id,
            self.series,
            self.ts_ms,
            self.rules,
            self.value,
            self.active,
            self.message,
            self.cleared_ms,
            self.acked_ms,
            self.acked_by,
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Alarm:
        alarm_id, series, ts_ms, rules, value, active, message, cleared_ms, acked_ms, acked_by = row
        return cls(
            alarm_id=alarm_id,
            series=series,
            ts_ms=ts_ms,
            rules=tuple(rules),
            value=value,
            active=bool(active),
            message=message,
            cleared_ms=cleared_ms,
            acked_ms=acked_ms,
            acked_by=acked_by,
        )


@dataclass(frozen=True, slots=True)
class AlarmAck:
    """Someone acknowledged alarm `alarm_id` (of `series`) at `ts_ms`."""

    alarm_id: str
    series: str
    ts_ms: int
    by: str

    def to_row(self) -> tuple[str, str, int, str]:
        return (self.alarm_id, self.series, self.ts_ms, self.by)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> AlarmAck:
        alarm_id, series, ts_ms, by = row
        return cls(alarm_id=alarm_id, series=series, ts_ms=ts_ms, by=by)


@dataclass(frozen=True, slots=True)
class LimitsVersion:
    """Control limits the live monitor used for a series from `ts_ms` on; `version` counts up per series.

    `detector` names what charts the series: `imr` (an individuals chart with run rules, limits centre ± nsigmas·σ),
    `individuals` (shock, mean and variance CUSUMs; `nsigmas` is the shock limit), `subgroups` (X̄-S),
    `poisson` (a c chart: `center` is the mean count, `ucl` the count limit). `params` holds its thresholds and
    model (`h`, `k`, `shock`, `phi`, `sigma_e`, …; docs/spc.md, "The live monitor").
    """

    series: str
    version: int
    ts_ms: int
    center: float
    sigma: float
    nsigmas: float
    n: int  # phase I readings they were learned from (0 when configured)
    source: str  # "learned" | "configured"
    detector: str = "imr"
    params: dict[str, float] = field(default_factory=dict)

    @property
    def lcl(self) -> float:
        return self.center - self.nsigmas * self.sigma

    @property
    def ucl(self) -> float:
        return self.center + self.nsigmas * self.sigma

    def to_row(self) -> tuple[str, int, int, float, float, float, int, str, str, dict[str, float]]:
        return (
            self.series, self.version, self.ts_ms, self.center, self.sigma, self.nsigmas, self.n, self.source,
            self.detector, self.params,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LimitsVersion:
        series, version, ts_ms, center, sigma, nsigmas, n, source, *rest = row  # first-version rows end here
        return cls(
            series=series,
            version=version,
            ts_ms=ts_ms,
            center=center,
            sigma=sigma,
            nsigmas=nsigmas,
            n=n,
            source=source,
            detector=rest[0] if rest and rest[0] else "imr",
            params=dict(rest[1]) if len(rest) > 1 and rest[1] else {},
        )


@dataclass(frozen=True, slots=True)
class MachineInfoRecord:
    """A machine announced its facts (`wire.MachineInfo`, from its birth message) at `ts_ms`."""

    machine: str
    ts_ms: int
    info: MachineInfo

    def to_row(self) -> tuple[str, int, str]:
        """The info travels as its wire JSON text."""
        return (self.machine, self.ts_ms, self.info.to_bytes().decode())

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MachineInfoRecord:
        machine, ts_ms, info = row
        return cls(machine=machine, ts_ms=ts_ms, info=MachineInfo.from_bytes(info))


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """A stored series and where it sits in the plant."""

    series: str
    enterprise: str
    site: str
    area: str
    line: str
    machine: str
    sensor: str
    unit: str | None
    count: int | None = None
