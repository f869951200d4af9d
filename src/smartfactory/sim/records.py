"""What the simulation engine produces, before it becomes wire messages (pure data).

Times are absolute epoch milliseconds (UTC). `machine` is the index of the machine in `Simulation.machines`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Sample:
    """Readings of one machine at one instant: a sampling tick (`tick`) or the measurements of a part."""

    machine: int
    ts: int
    values: dict[str, float]
    tick: bool = True


@dataclass(frozen=True, slots=True)
class StateRec:
    machine: int
    ts: int
    state: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PartRec:
    machine: int
    ts: int
    part_id: str
    measurements: dict[str, float]
    good: bool


@dataclass(frozen=True, slots=True)
class EventRec:
    """Ground truth: a fault started (`kind` = "fault") or was repaired ("repair") at exactly `ts`; `affects` names
    the signals a fault changes (empty for machine faults and repairs)."""

    machine: int
    ts: int
    kind: str
    fault: str
    sensor: str | None = None
    params: dict[str, float | str] = field(default_factory=dict)
    affects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusRec:
    """The machine's simulator went online or offline (a broken simulator file goes offline)."""

    machine: int
    ts: int
    status: str


Record = Sample | StateRec | PartRec | EventRec | StatusRec
