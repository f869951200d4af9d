"""The records that flow through the pipeline after decoding: pure dataclasses, no I/O.

A `series` id is the single-reading telemetry topic of a sensor
(`acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp`); a `machine` id is its machine path
(`acme/plant1/machining/line-1/cnc-01`). Times are integer epoch milliseconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True, slots=True)
class StateChange:
    """A machine entered `state` at `ts_ms` (it lasts until the next change)."""

    machine: str
    ts_ms: int
    state: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PartResult:
    """One produced part with its quality measurements and verdict."""

    machine: str
    ts_ms: int
    part_id: str
    good: bool
    measurements: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """Ground truth from the simulator: a fault started or was repaired at `ts_ms`."""

    machine: str
    ts_ms: int
    kind: str  # "fault" | "repair"
    fault: str
    sensor: str | None = None
    params: dict[str, float | str] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class AlarmAck:
    """Someone acknowledged alarm `alarm_id` (of `series`) at `ts_ms`."""

    alarm_id: str
    series: str
    ts_ms: int
    by: str


@dataclass(frozen=True, slots=True)
class LimitsVersion:
    """Control limits the live monitor used for a series from `ts_ms` on; `version` counts up per series."""

    series: str
    version: int
    ts_ms: int
    center: float
    sigma: float
    nsigmas: float
    n: int  # phase I readings they were learned from (0 when configured)
    source: str  # "learned" | "configured"

    @property
    def lcl(self) -> float:
        return self.center - self.nsigmas * self.sigma

    @property
    def ucl(self) -> float:
        return self.center + self.nsigmas * self.sigma


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
