"""Alarm episodes: one active alarm per series that deduplicates, escalates on news and clears when quiet.

A detection on a series with no active alarm raises one (`Alarm`, id `wire.alarm_id_for(series, ts)`). Further
detections on the active series are the same episode unless they are news, which **escalates** it: the active
alarm is cleared and a new one is raised (its own id and time, so it is stored, published and counted as a
detection of its own). News is

- a detector (with its direction, for location detectors) that has not fired in the episode,
- a higher severity (`spc.detect.Severity`),
- a clearly larger deviation: at least `ESCALATE_FACTOR` times the largest the same detector showed in the
  episode. Deviations are in σ: |z| for a shock or X̄, the estimated shift k + C/N for a mean CUSUM that
  signalled C after N points (Montgomery §9.1.3), the estimated variance ratio for the variance CUSUM, the count
  over its limit for a Poisson chart.

So a real fault on a series that already shows a (false) alarm is still seen. An episode clears when nothing is
wrong any more: no SPC detection for its quiet period, and no data-quality condition left (a stuck sensor changed
its value, a silent one spoke, a dropout window passed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from smartfactory.model import Alarm
from smartfactory.spc.detect import DATA_QUALITY, Detection, Severity
from smartfactory.wire import alarm_id_for

ESCALATE_FACTOR = 1.5
LOCATION = frozenset({"shock", "cusum_mean", "xbar", "WE1", "N1"})


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    """What happened to an alarm: `raise`, `escalate` (the new alarm; the one it replaced was cleared), `merge` (a
    second finding on the reading that raised the active alarm: the same alarm, more rules) or `clear`."""

    kind: str
    alarm: Alarm
    alarm_class: str  # spc | data_quality | state
    detector: str
    severity: int  # spc.detect.Severity; 0 for a clear


@dataclass(slots=True)
class Episode:
    alarm: Alarm  # the active alarm
    alarm_class: str
    started_ms: int
    severity: int
    keys: set[str] = field(default_factory=set)
    deviation: dict[str, float] = field(default_factory=dict)
    last_spc_ms: int | None = None  # last SPC detection
    stuck_value: float | None = None  # a stuck-sensor condition holds while readings equal this
    silent: bool = False  # a silent-sensor condition holds until the next reading
    dropout_ms: int | None = None  # last heavy-dropout window


def keys_of(d: Detection) -> set[str]:
    names = (d.detector, *d.also)
    return {f"{n}:{d.direction}" if n in LOCATION else n for n in names}


def top_key(d: Detection) -> str:
    return f"{d.detector}:{d.direction}" if d.detector in LOCATION else d.detector


Emit = Callable[[str, Alarm, str, str, int], None]


def _alarm(series: str, d: Detection, message: str) -> Alarm:
    return Alarm(alarm_id_for(series, d.ts_ms), series, d.ts_ms, (d.detector, *d.also), d.value, True, message)


def detected(series: str, ep: Episode | None, d: Detection, deviation: float | None, emit: Emit) -> Episode:
    """Fold a detection into the series' episode (None: none active); returns the episode now active."""
    cls = d.alarm_class
    if ep is None:
        alarm = _alarm(series, d, d.message)
        ep = Episode(alarm, cls, d.ts_ms, int(d.severity))
        _note(ep, d, deviation)
        emit("raise", alarm, cls, d.detector, int(d.severity))
        return ep
    keys = keys_of(d)
    key = top_key(d)
    new = not keys <= ep.keys
    higher = int(d.severity) > ep.severity
    known = ep.deviation.get(key)
    larger = deviation is not None and known is not None and deviation >= ESCALATE_FACTOR * known
    if d.detector == "cusum_var" and deviation is not None and _explained(ep, deviation):
        new = larger = False  # z² is large because the mean has moved (E z² = 1 + δ²): the same news
    _note(ep, d, deviation)
    if not (new or higher or larger):
        return ep
    why = "a new detector" if new else "a higher severity" if higher else "a larger deviation"
    old = ep.alarm
    message = f"escalated ({why}; episode since {ep.started_ms}): {d.message}"
    if old.ts_ms == d.ts_ms:  # the same reading: one alarm, with both findings
        rules = tuple(dict.fromkeys((*old.rules, d.detector, *d.also)))
        alarm = Alarm(old.alarm_id, series, old.ts_ms, rules, old.value, True, f"{old.message}; {d.message}")
    else:
        emit("clear", Alarm(old.alarm_id, series, old.ts_ms, old.rules, old.value, False, old.message, d.ts_ms),
             ep.alarm_class, old.rules[0], 0)  # fmt: skip
        alarm = _alarm(series, d, message)
    ep.alarm = alarm
    ep.alarm_class = cls
    ep.severity = max(ep.severity, int(d.severity))
    emit("merge" if alarm.alarm_id == old.alarm_id else "escalate", alarm, cls, d.detector, int(d.severity))
    return ep


def _explained(ep: Episode, ratio: float) -> bool:
    shift = max((v for k, v in ep.deviation.items() if k.split(":")[0] in LOCATION), default=0.0)
    return shift > 0.0 and 1.0 + shift * shift >= ratio / ESCALATE_FACTOR


def _note(ep: Episode, d: Detection, deviation: float | None) -> None:
    ep.keys |= keys_of(d)
    if deviation is not None:
        key = top_key(d)
        ep.deviation[key] = max(ep.deviation.get(key, 0.0), deviation)
    if d.alarm_class == DATA_QUALITY:
        if d.detector == "stuck":
            ep.stuck_value = d.value
        elif d.detector == "silent":
            ep.silent = True
        elif d.detector == "dropout":
            ep.dropout_ms = d.ts_ms
    else:
        ep.last_spc_ms = d.ts_ms


def quiet(ep: Episode, now_ms: int, spc_quiet_ms: float, dropout_quiet_ms: float) -> bool:
    """Whether nothing in the episode holds any more at `now_ms` (reading time)."""
    if ep.stuck_value is not None or ep.silent:
        return False
    if ep.dropout_ms is not None and now_ms - ep.dropout_ms < dropout_quiet_ms:
        return False
    return ep.last_spc_ms is None or now_ms - ep.last_spc_ms >= spc_quiet_ms


def cleared(series: str, ep: Episode, now_ms: int, emit: Emit) -> None:
    a = ep.alarm
    emit("clear", Alarm(a.alarm_id, series, a.ts_ms, a.rules, a.value, False, a.message, now_ms), ep.alarm_class,
         a.rules[0], 0)  # fmt: skip


__all__ = ["ESCALATE_FACTOR", "Episode", "MonitorEvent", "Severity", "cleared", "detected", "quiet"]
