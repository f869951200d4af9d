"""What every detector returns: a :class:`Detection`, with its detector id, statistic, threshold and severity."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

SPC = "spc"
DATA_QUALITY = "data_quality"


class Severity(IntEnum):
    """Ordered, so that an alarm episode can escalate: a higher severity on an active series is news."""

    WARNING = 1  # sustained small change (a CUSUM) or degraded data (heavy dropout)
    ALARM = 2  # beyond a Shewhart limit (shock, X̄, S, Poisson limit), stuck or silent sensor
    CRITICAL = 3  # a shock beyond twice its limit


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector signalling on one reading (or, for ``silent``, at one tick)."""

    series: str
    ts_ms: int
    detector: str  # shock, cusum_mean, cusum_var, xbar, s, poisson, stuck, silent, dropout
    statistic: float  # the detector's statistic (z, CUSUM value, s/σ, count, seconds, fraction …)
    threshold: float  # the limit it crossed
    severity: Severity
    direction: str  # "up", "down" (location) or "up" for spread / counts; "none" for data quality
    message: str
    alarm_class: str = SPC  # "spc" or "data_quality"
    value: float | None = None  # the reading (None for a tick)
    also: tuple[str, ...] = ()  # other detectors that signalled on the same reading


class Detector(Protocol):
    """The common face of the detectors: one reading at a time, O(1) state."""

    series: str

    def update(self, ts_ms: int, value: float) -> Detection | None: ...

    def reset(self) -> None: ...


def strongest(found: list[Detection]) -> Detection:
    """The most severe detection (first among equals), naming the others in ``also``."""
    top = max(found, key=lambda d: d.severity)  # max keeps the first of equal severities
    others = tuple(d.detector for d in found if d is not top)
    if not others:
        return top
    return Detection(
        top.series, top.ts_ms, top.detector, top.statistic, top.threshold, top.severity, top.direction,
        f"{top.message} (also: {', '.join(others)})", top.alarm_class, top.value, others,
    )  # fmt: skip
