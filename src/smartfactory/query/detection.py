"""Detection report: which injected faults did SPC catch, how fast, and how many alarms had no fault behind them.

Pure pairing (`detection_report`): it takes the ground-truth `FaultEvent`s the simulator published and the `Alarm`s
the monitor raised and pairs them; `detection_from_store` reads both from a store for a window. Used by the
dashboard's Alarms page and `smartfactory report detection`.

Pairing rules:

- A *fault episode* starts at a `fault` event and ends at the first later `repair` event of the same machine
  whose `fault` is the same name or `all` (what `smartfactory inject --clear` publishes); without one it is
  still open at the end of the data.
- An alarm *can detect* an episode when its series belongs to the episode's machine (and to its sensor, when the
  event names one) and it was raised in `[start, end + grace)`. The first such alarm detects the episode; the
  delay is `alarm.ts_ms - start`.
- Every alarm that can detect no episode is a *false alarm* (an alarm raised while the process was, by the
  ground truth, in control: what the run rules' false-alarm rate predicts).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from smartfactory.model import Alarm, FaultEvent
from smartfactory.query.series import split_series
from smartfactory.storage import Storage

ALL_FAULTS = "all"


@dataclass(frozen=True, slots=True)
class FaultEpisode:
    """One injected fault from its start to its repair (`end_ms` is None while it is still active)."""

    machine: str
    fault: str
    sensor: str | None
    start_ms: int
    end_ms: int | None
    params: dict[str, float | str]


@dataclass(frozen=True, slots=True)
class Detection:
    """One fault episode and the alarm that detected it (all alarm fields None when it was missed)."""

    episode: FaultEpisode
    alarm_id: str | None
    alarm_series: str | None
    alarm_ms: int | None
    rules: tuple[str, ...]
    alarms_during: int  # every alarm that could detect it, the first one included

    @property
    def detected(self) -> bool:
        return self.alarm_ms is not None

    @property
    def delay_ms(self) -> int | None:
        return None if self.alarm_ms is None else self.alarm_ms - self.episode.start_ms

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self.episode)
        row.update(
            detected=self.detected,
            alarm_id=self.alarm_id,
            alarm_series=self.alarm_series,
            alarm_ms=self.alarm_ms,
            delay_ms=self.delay_ms,
            rules=list(self.rules),
            alarms_during=self.alarms_during,
        )
        return row


@dataclass(frozen=True, slots=True)
class DetectionReport:
    """All episodes with their detections, and the alarms that belong to no episode."""

    detections: tuple[Detection, ...]
    false_alarms: tuple[Alarm, ...]
    grace_ms: int

    @property
    def detected(self) -> int:
        return sum(d.detected for d in self.detections)

    @property
    def missed(self) -> int:
        return len(self.detections) - self.detected

    @property
    def detection_rate(self) -> float | None:
        """Detected / episodes; None without episodes."""
        return self.detected / len(self.detections) if self.detections else None

    @property
    def median_delay_ms(self) -> float | None:
        delays = [d.delay_ms for d in self.detections if d.delay_ms is not None]
        return float(statistics.median(delays)) if delays else None

    def summary(self) -> dict[str, Any]:
        return {
            "episodes": len(self.detections),
            "detected": self.detected,
            "missed": self.missed,
            "detection_rate": self.detection_rate,
            "median_delay_ms": self.median_delay_ms,
            "false_alarms": len(self.false_alarms),
            "grace_ms": self.grace_ms,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary, one row per episode, and the false alarms' ids."""
        return {
            "summary": self.summary(),
            "episodes": [d.to_dict() for d in self.detections],
            "false_alarms": [a.alarm_id for a in self.false_alarms],
        }


def fault_episodes(events: Iterable[FaultEvent]) -> list[FaultEpisode]:
    """Turn fault/repair events into episodes, in start order (see the module docstring for the pairing)."""
    ordered = sorted(events, key=lambda e: (e.ts_ms, e.kind != "fault"))  # a fault and its repair at one ms
    open_: list[FaultEvent] = []
    closed: list[FaultEpisode] = []
    for event in ordered:
        if event.kind == "fault":
            open_.append(event)
            continue
        if event.kind != "repair":
            continue
        still: list[FaultEvent] = []
        for start in open_:
            if start.machine == event.machine and event.fault in (start.fault, ALL_FAULTS):
                closed.append(_episode(start, event.ts_ms))
            else:
                still.append(start)
        open_ = still
    closed.extend(_episode(start, None) for start in open_)
    return sorted(closed, key=lambda ep: (ep.start_ms, ep.machine, ep.fault))


def _episode(start: FaultEvent, end_ms: int | None) -> FaultEpisode:
    return FaultEpisode(start.machine, start.fault, start.sensor, start.ts_ms, end_ms, dict(start.params))


def _matches(episode: FaultEpisode, alarm: Alarm, grace_ms: int) -> bool:
    parts = split_series(alarm.series)
    if parts.machine != episode.machine:
        return False
    if episode.sensor is not None and parts.sensor != episode.sensor:
        return False
    if alarm.ts_ms < episode.start_ms:
        return False
    return episode.end_ms is None or alarm.ts_ms < episode.end_ms + grace_ms


def detection_report(events: Iterable[FaultEvent], alarms: Sequence[Alarm], *, grace_ms: int = 0) -> DetectionReport:
    """Pair ground-truth fault episodes with the alarms raised for them.

    `grace_ms` extends each episode past its repair, for alarms the monitor raises a little late.
    """
    if grace_ms < 0:
        raise ValueError(f"grace_ms must be ≥ 0, got {grace_ms}")
    episodes = fault_episodes(events)
    by_time = sorted(alarms, key=lambda a: (a.ts_ms, a.alarm_id))
    explained: set[str] = set()
    detections: list[Detection] = []
    for episode in episodes:
        hits = [a for a in by_time if _matches(episode, a, grace_ms)]
        explained.update(a.alarm_id for a in hits)
        first = hits[0] if hits else None
        detections.append(
            Detection(
                episode=episode,
                alarm_id=None if first is None else first.alarm_id,
                alarm_series=None if first is None else first.series,
                alarm_ms=None if first is None else first.ts_ms,
                rules=() if first is None else first.rules,
                alarms_during=len(hits),
            )
        )
    false_alarms = tuple(a for a in by_time if a.alarm_id not in explained)
    return DetectionReport(tuple(detections), false_alarms, grace_ms)


@dataclass(frozen=True, slots=True)
class StoredDetection:
    """The detection report of a window and what it was computed from."""

    report: DetectionReport
    events: tuple[FaultEvent, ...]
    alarms: tuple[Alarm, ...]


def detection_from_store(store: Storage, since_ms: int | None, until_ms: int, *, grace_ms: int = 0) -> StoredDetection:
    """Ground-truth events and alarms of `[since_ms, until_ms)` (from the start with `since_ms=None`), paired."""
    events = tuple(e for e in store.read_events(since_ms=since_ms) if e.ts_ms < until_ms)
    alarms = tuple(a for a in store.read_alarms(since_ms=since_ms) if a.ts_ms < until_ms)
    return StoredDetection(detection_report(events, alarms, grace_ms=grace_ms), events, alarms)
