"""Monitor stage: SPC on every series as its readings arrive, turning rule violations into alarms.

Each series gets a streaming individuals chart: the first `phase1_points` readings set its limits
(centre = mean, σ = MR̄/1.128), after which the limits are frozen and every reading is checked. A violation
raises an alarm when the series has none active; the alarm clears after `clear_after` in-control readings in a row.
State is O(window) per series; the per-reading cost is a dictionary lookup and a few comparisons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from smartfactory.model import Alarm, Reading
from smartfactory.spc import RULE_DESCRIPTIONS
from smartfactory.spc.streaming import Limits, SeriesMonitor


@dataclass(slots=True)
class _SeriesState:
    monitor: SeriesMonitor
    active: Alarm | None = None
    calm: int = 0


@dataclass(slots=True)
class MonitorStage:
    phase1_points: int = 50
    rules: str = "we"
    clear_after: int = 10
    _series: dict[str, _SeriesState] = field(default_factory=dict)

    def observe(self, readings: Iterable[Reading]) -> list[Alarm]:
        """Feed readings (in time order per series); return alarms raised or cleared by them."""
        changes: list[Alarm] = []
        for reading in readings:
            state = self._series.get(reading.series)
            if state is None:
                state = _SeriesState(SeriesMonitor(reading.series, learn=self.phase1_points, rules=self.rules))
                self._series[reading.series] = state
            violated = state.monitor.update(reading.ts_ms, reading.value)
            if violated:
                state.calm = 0
                if state.active is None:
                    rules = tuple(sorted({v.rule for v in violated}))
                    state.active = Alarm(
                        alarm_id=f"{reading.series}@{reading.ts_ms}",
                        series=reading.series,
                        ts_ms=reading.ts_ms,
                        rules=rules,
                        value=reading.value,
                        message="; ".join(f"{v.rule}: {RULE_DESCRIPTIONS.get(v.rule, '')}" for v in violated),
                    )
                    changes.append(state.active)
            elif state.active is not None:
                state.calm += 1
                if state.calm >= self.clear_after:
                    a = state.active
                    changes.append(
                        Alarm(a.alarm_id, a.series, a.ts_ms, a.rules, a.value, False, a.message, reading.ts_ms)
                    )
                    state.active = None
        return changes

    def limits(self, series: str) -> Limits | None:
        """The limits the monitor uses for a series, once learned."""
        state = self._series.get(series)
        return None if state is None else state.monitor.limits
