"""Inputs of the OEE engine: state intervals, part events, state changes and settings. Pure data, no I/O.

`StateChange` is the pipeline's one state-change record (`smartfactory.model`), re-exported here: the engine
groups a change under its `line_id` (the `line` given, else the machine path's `area/line`).

Timestamps are integer milliseconds since the Unix epoch (UTC), the same unit the wire format uses.
Intervals are half-open, `[start_ms, end_ms)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from smartfactory.errors import ConfigError
from smartfactory.kpi.codes import State
from smartfactory.model import StateChange

__all__ = ["OeeSettings", "PartEvent", "StateChange", "StateInterval", "check_ideal_cycle"]


def _state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        names = ", ".join(s.value for s in State)
        raise ValueError(f"unknown machine state {value!r}: use one of {names}") from None


@dataclass(frozen=True, slots=True)
class StateInterval:
    """Machine `machine` on line `line` was in `state` (for `reason`) during `[start_ms, end_ms)`.

    `state` must be one of `codes.State` (a plain string is accepted and converted); `reason` is free text,
    the codes in `codes.REASONS` are the ones the built-in simulators publish.
    """

    machine: str
    line: str
    state: str
    reason: str | None
    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", _state(self.state))
        if self.end_ms < self.start_ms:
            raise ValueError(
                f"state interval of {self.machine} ends before it starts ({self.start_ms} > {self.end_ms}): "
                "swap start and end or drop the record"
            )

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


class PartEvent(NamedTuple):
    """Machine `machine` finished one part at `ts_ms`; `good` is False for scrap.

    A named tuple, not a frozen dataclass like the records above: an OEE window of a 500-machine plant holds
    83,500 of them (bench/scale_dashboard.py's store), and building them took 51 ms as a frozen dataclass (its
    `__init__` calls `object.__setattr__` once a field) against 29 ms as a named tuple, of a refresh of ~190 ms."""

    machine: str
    line: str
    ts_ms: int
    good: bool


@dataclass(frozen=True, slots=True)
class OeeSettings:
    """Tuning of the loss classification. Both values are in seconds, as they appear in the plant file.

    - `small_stop_s`: a down episode (other than a breakdown) shorter than this is a small stop
      (default 5 min).
    - `startup_window_s`: scrap made within this long after the machine starts running again after a setup,
      a breakdown-class stop, planned downtime or missing data is a start-up reject (default 10 min).
    """

    small_stop_s: float = 300.0
    startup_window_s: float = 600.0

    def __post_init__(self) -> None:
        for name in ("small_stop_s", "startup_window_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"OEE setting {name} must be a finite number of seconds ≥ 0, got {value!r}")

    @property
    def small_stop_ms(self) -> int:
        return round(self.small_stop_s * 1000)

    @property
    def startup_window_ms(self) -> int:
        return round(self.startup_window_s * 1000)


def check_ideal_cycle(machine: str, ideal_cycle_s: float | None) -> float:
    """The ideal cycle time of `machine` in seconds; ConfigError if it is missing or not > 0."""
    if ideal_cycle_s is None:
        raise ConfigError(f"no ideal cycle time for machine {machine!r}: set ideal_cycle_s for it in the plant file")
    if not math.isfinite(ideal_cycle_s) or ideal_cycle_s <= 0:
        raise ConfigError(
            f"ideal cycle time of machine {machine!r} must be a positive number of seconds, got {ideal_cycle_s!r}"
        )
    return float(ideal_cycle_s)
