"""Detection report: which injected faults did SPC catch, how fast, and which alarms had no fault behind them.

Pure pairing (`detection_report`): it takes the ground-truth `FaultEvent`s the simulator published and the `Alarm`s
the monitor raised and pairs them; `detection_from_store` reads both from a store for a window. Used by the
dashboard's Alarms page, `smartfactory report detection` and the alarm scorecard (bench/alarm_scorecard.py).

Pairing rules:

- A *fault episode* starts at a `fault` event and ends at the first later `repair` event of the same machine
  whose `fault` is the same name or `all` (what `smartfactory inject --clear` publishes); without one it is
  still open at the end of the data.
- A fault changes only the signals it *affects* (the event's `affects`, declared by the machine type's fault
  recipe); an event without `affects` falls back to its `sensor`, and one with neither to every series of its
  machine (older stores). Only alarms on those series, raised in `[start, end + grace)`, can detect it.
- With a *counterfactual* (the alarms of the same-seed run without the faults, which the scorecard replays) an
  alarm is credited to a fault only when the counterfactual raised no alarm on the same series within
  `match_ms` of it: an alarm that happens anyway is a coincidence, not a detection. Without one (a store on its
  own) every paired alarm is credited, and the report says that it could not check (`counterfactual: false`).
- The first credited alarm detects the episode; the delay is `alarm.ts_ms - start`. Every alarm is one signal
  of the monitor: a raise, or an escalation of an active episode on that series (a new detector, a larger
  deviation, a higher severity), which is why an escalation detects a fault on an already-active series.
- Every other alarm is a *false alarm*, except (with a counterfactual) a *knock-on* alarm: absent without the
  faults but on a signal no fault declares (rejects per minute when the fill weight shifts), and a *stop*: a
  `state` alarm (`wire.alarm_class`) is raised from the machine's own state record, so a jam or a wait without
  a ground-truth fault is a stop that happened, not a false alarm.

False-alarm rates are per hour of the window's data span (`Span`): per chart (series), per plant
(`enterprise/site`) and in all. A window without data has no rate (None), never a division by zero hours.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from smartfactory.model import Alarm, FaultEvent
from smartfactory.query.series import oldest_ms, split_series
from smartfactory.storage import Storage
from smartfactory.wire import MachinePath, alarm_class, format_ts

ALL_FAULTS = "all"
#: An alarm of the counterfactual run this close (ms) to one of the faulty run, on the same series, is the same
#: alarm: the runs are identical up to the fault, so a coincidence recurs at the very reading; the margin only
#: absorbs a fault nudging a statistic that was about to cross anyway by a reading or two.
MATCH_MS = 2_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class FaultEpisode:
    """One injected fault from its start to its repair (`end_ms` is None while it is still active)."""

    machine: str
    fault: str
    sensor: str | None
    start_ms: int
    end_ms: int | None
    params: dict[str, float | str]
    affects: tuple[str, ...] = ()

    @property
    def signals(self) -> tuple[str, ...]:
        """The signals paired with this fault: `affects`, else the sensor, else () for the whole machine."""
        if self.affects:
            return self.affects
        return (self.sensor,) if self.sensor is not None else ()

    @property
    def pairing(self) -> str:
        """What the pairing came from: "affects", "sensor" or "machine"."""
        return "affects" if self.affects else "sensor" if self.sensor is not None else "machine"

    def covers(self, series: str) -> bool:
        """Whether an alarm on `series` can be about this fault (its machine and one of its signals)."""
        parts = split_series(series)
        if parts.machine != self.machine:
            return False
        signals = self.signals
        return not signals or parts.sensor in signals

    def during(self, ts_ms: int, grace_ms: int) -> bool:
        return ts_ms >= self.start_ms and (self.end_ms is None or ts_ms < self.end_ms + grace_ms)


@dataclass(frozen=True, slots=True)
class Detection:
    """One fault episode and the alarm that detected it (all alarm fields None when it was missed)."""

    episode: FaultEpisode
    alarm_id: str | None
    alarm_series: str | None
    alarm_ms: int | None
    rules: tuple[str, ...]
    alarms_during: int  # credited alarms on the fault's signals, the first one included
    coincident: int = 0  # alarms on its signals in the episode that the counterfactual raised too (not credited)

    @property
    def detected(self) -> bool:
        return self.alarm_ms is not None

    @property
    def delay_ms(self) -> int | None:
        return None if self.alarm_ms is None else self.alarm_ms - self.episode.start_ms

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self.episode)
        row.update(
            affects=list(self.episode.affects),
            pairing=self.episode.pairing,
            detected=self.detected,
            alarm_id=self.alarm_id,
            alarm_series=self.alarm_series,
            alarm_ms=self.alarm_ms,
            delay_ms=self.delay_ms,
            rules=list(self.rules),
            alarms_during=self.alarms_during,
            coincident=self.coincident,
        )
        return row


@dataclass(frozen=True, slots=True)
class Span:
    """The stretch of time the rates are counted over; `hours` is None when it holds no data."""

    since_ms: int
    until_ms: int
    source: str = "given"  # "store" when it is the data span of the store, "given" when a window was asked for

    @property
    def hours(self) -> float | None:
        return (self.until_ms - self.since_ms) / HOUR_MS if self.until_ms > self.since_ms else None

    def clip(self, since_ms: int | None, until_ms: int | None) -> Span:
        """This span cut to a window (either end None: open); the result's source is "given" when cut."""
        since = self.since_ms if since_ms is None else max(self.since_ms, since_ms)
        until = self.until_ms if until_ms is None else min(self.until_ms, until_ms)
        cut = (since, until) != (self.since_ms, self.until_ms)
        return Span(since, max(since, until), "given" if cut else self.source)

    def describe(self) -> str:
        if self.hours is None:
            return f"{format_ts(self.since_ms)} … {format_ts(self.until_ms)} (no data)"
        return f"{format_ts(self.since_ms)} … {format_ts(self.until_ms)} ({self.hours:.2f} h of simulated time)"

    def to_dict(self) -> dict[str, Any]:
        hours = self.hours
        return {
            "since": format_ts(self.since_ms),
            "until": format_ts(self.until_ms),
            "hours": None if hours is None else round(hours, 4),
            "source": self.source,
        }


def per_hour(count: int, span: Span | None) -> float | None:
    """`count` per hour of `span`; None without a span or without data in it."""
    hours = None if span is None else span.hours
    return None if hours is None else count / hours


def plant_of(series: str) -> str:
    """`enterprise/site` of a series id (the id itself when it does not parse)."""
    machine = split_series(series).machine
    if not machine:
        return series
    path = MachinePath.parse(machine)
    return f"{path.enterprise}/{path.site}"


@dataclass(frozen=True, slots=True)
class DetectionReport:
    """All episodes with their detections, the alarms no fault explains, and (with a span) their rates."""

    detections: tuple[Detection, ...]
    false_alarms: tuple[Alarm, ...]
    grace_ms: int
    counterfactual: bool = False  # whether alarms were checked against a run without the faults
    knock_on: tuple[Alarm, ...] = ()  # absent without the faults, on no fault's declared signals
    coincidences: tuple[Alarm, ...] = ()  # on a fault's signals in its episode, but raised without it too
    span: Span | None = None
    stops: tuple[Alarm, ...] = ()  # state alarms of stops no fault event explains (a jam, a wait)

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

    @property
    def false_alarms_per_hour(self) -> float | None:
        return per_hour(len(self.false_alarms), self.span)

    def false_alarms_by_series(self) -> dict[str, int]:
        return dict(sorted(Counter(a.series for a in self.false_alarms).items()))

    def false_alarms_by_plant(self) -> dict[str, int]:
        return dict(sorted(Counter(plant_of(a.series) for a in self.false_alarms).items()))

    def false_alarms_by_class(self) -> dict[str, int]:
        """`spc` or `data_quality` (`wire.alarm_class`)."""
        return dict(sorted(Counter(alarm_class(a.rules) for a in self.false_alarms).items()))

    def summary(self) -> dict[str, Any]:
        rate = self.false_alarms_per_hour
        return {
            "episodes": len(self.detections),
            "detected": self.detected,
            "missed": self.missed,
            "detection_rate": self.detection_rate,
            "median_delay_ms": self.median_delay_ms,
            "false_alarms": len(self.false_alarms),
            "false_alarms_per_hour": None if rate is None else round(rate, 3),
            "knock_on_alarms": len(self.knock_on),
            "coincidences": len(self.coincidences),
            "stops": len(self.stops),
            "counterfactual": self.counterfactual,
            "grace_ms": self.grace_ms,
            "window": None if self.span is None else self.span.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary, one row per episode, false alarms per chart and plant, and their ids."""

        def rates(counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for key, n in counts.items():
                rate = per_hour(n, self.span)
                out[key] = {"false_alarms": n, "per_hour": None if rate is None else round(rate, 3)}
            return out

        return {
            "summary": self.summary(),
            "episodes": [d.to_dict() for d in self.detections],
            "false_alarms_by_series": rates(self.false_alarms_by_series()),
            "false_alarms_by_plant": rates(self.false_alarms_by_plant()),
            "false_alarms_by_class": self.false_alarms_by_class(),
            "false_alarms": [a.alarm_id for a in self.false_alarms],
            "knock_on_alarms": [a.alarm_id for a in self.knock_on],
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
    return FaultEpisode(
        start.machine, start.fault, start.sensor, start.ts_ms, end_ms, dict(start.params), tuple(start.affects)
    )


class _Recurs:
    """Whether the counterfactual raised an alarm on a series within `match_ms` of a time."""

    def __init__(self, alarms: Iterable[Alarm], match_ms: int) -> None:
        self._times: dict[str, list[int]] = {}
        for alarm in alarms:
            self._times.setdefault(alarm.series, []).append(alarm.ts_ms)
        for times in self._times.values():
            times.sort()
        self._match = match_ms

    def __call__(self, alarm: Alarm) -> bool:
        times = self._times.get(alarm.series)
        if not times:
            return False
        i = bisect.bisect_left(times, alarm.ts_ms - self._match)
        return i < len(times) and times[i] <= alarm.ts_ms + self._match


@dataclass(slots=True)
class _Tally:
    credited: list[Alarm] = field(default_factory=list)
    coincident: int = 0


def detection_report(
    events: Iterable[FaultEvent],
    alarms: Sequence[Alarm],
    *,
    grace_ms: int = 0,
    counterfactual: Sequence[Alarm] | None = None,
    match_ms: int = MATCH_MS,
    span: Span | None = None,
) -> DetectionReport:
    """Pair ground-truth fault episodes with the alarms raised for them (rules in the module docstring).

    `grace_ms` extends each episode past its repair, for alarms the monitor raises a little late.
    `counterfactual`: the alarms of the same-seed run without the faults (None: not available).
    `span`: the stretch of time false alarms are counted over (for the per-hour rates).
    """
    if grace_ms < 0 or match_ms < 0:
        raise ValueError(f"grace_ms and match_ms must be ≥ 0, got {grace_ms} and {match_ms}")
    episodes = fault_episodes(events)
    by_time = sorted(alarms, key=lambda a: (a.ts_ms, a.alarm_id))
    recurs = _Recurs(counterfactual, match_ms) if counterfactual is not None else None
    tallies = [_Tally() for _ in episodes]
    false_alarms: list[Alarm] = []
    knock_on: list[Alarm] = []
    coincidences: list[Alarm] = []
    stops: list[Alarm] = []
    for alarm in by_time:
        happens_anyway = recurs is not None and recurs(alarm)
        paired = [
            tally for ep, tally in zip(episodes, tallies, strict=True)
            if ep.covers(alarm.series) and ep.during(alarm.ts_ms, grace_ms)
        ]  # fmt: skip
        if paired and not happens_anyway:
            for tally in paired:
                tally.credited.append(alarm)
        elif paired:
            for tally in paired:
                tally.coincident += 1
            coincidences.append(alarm)
            false_alarms.append(alarm)
        elif recurs is not None and not happens_anyway:
            knock_on.append(alarm)
        elif alarm_class(alarm.rules) == "state":
            stops.append(alarm)
        else:
            false_alarms.append(alarm)
    detections: list[Detection] = []
    for episode, tally in zip(episodes, tallies, strict=True):
        first = tally.credited[0] if tally.credited else None
        detections.append(
            Detection(
                episode=episode,
                alarm_id=None if first is None else first.alarm_id,
                alarm_series=None if first is None else first.series,
                alarm_ms=None if first is None else first.ts_ms,
                rules=() if first is None else first.rules,
                alarms_during=len(tally.credited),
                coincident=tally.coincident,
            )
        )
    return DetectionReport(
        tuple(detections),
        tuple(false_alarms),
        grace_ms,
        counterfactual=counterfactual is not None,
        knock_on=tuple(knock_on),
        coincidences=tuple(coincidences),
        span=span,
        stops=tuple(stops),
    )


@dataclass(frozen=True, slots=True)
class StoredDetection:
    """The detection report of a window and what it was computed from."""

    report: DetectionReport
    events: tuple[FaultEvent, ...]
    alarms: tuple[Alarm, ...]


def data_span(store: Storage) -> Span | None:
    """From the oldest to just past the newest stored timestamp (readings, states, parts, events, alarms), in the
    store's own (simulated) time; None for an empty store. The newest timestamp is the store's "now"."""
    stamps: list[int] = []
    latest = store.latest()
    if not latest.empty:
        stamps.append(int(latest["ts"].max().value // 1_000_000))  # UTC datetime → epoch ms
    first = oldest_ms(store, store.list_series())
    if first is not None:
        stamps.append(first)
    for records in (store.read_events(), store.read_alarms(), store.read_states()):
        if records:
            stamps.append(min(r.ts_ms for r in records))
            stamps.append(max(r.ts_ms for r in records))
    if not stamps:
        return None
    return Span(min(stamps), max(stamps) + 1, "store")


def detection_from_store(
    store: Storage,
    since_ms: int | None,
    until_ms: int,
    *,
    grace_ms: int = 0,
    span: Span | None = None,
) -> StoredDetection:
    """Ground-truth events and alarms of `[since_ms, until_ms)` (from the start with `since_ms=None`), paired.

    A store holds no counterfactual run, so the report's `counterfactual` is False. `span` gives the per-hour
    rates their hours (`data_span` clipped to the window, see `smartfactory report detection`)."""
    events = tuple(e for e in store.read_events(since_ms=since_ms) if e.ts_ms < until_ms)
    alarms = tuple(a for a in store.read_alarms(since_ms=since_ms) if a.ts_ms < until_ms)
    return StoredDetection(detection_report(events, alarms, grace_ms=grace_ms, span=span), events, alarms)
