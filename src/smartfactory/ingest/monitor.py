"""Monitor stage: SPC on the watched series as their readings arrive, turning rule violations into alarms.

Each watched series gets a streaming individuals chart (`spc.streaming.SeriesMonitor`). Its limits come, in this
order, from the configured limits, from the newest limits stored by an earlier run, or are learned from the first
`phase1_points` readings (centre = mean, σ = MR̄/1.128) and then frozen. Every new set of limits is handed to
`take_limit_changes()` as a new version, so the service stores it and the dashboard shows the limits actually in use.

A violation raises an alarm when the series has none active; the alarm clears once the series has gone
`clear_after_s` seconds (of reading time) without a violation, so the signals of one out-of-control episode give
one alarm, not a flood, whatever the sampling rate. State is O(1) per series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from smartfactory import plant
from smartfactory.model import Alarm, LimitsVersion, Reading
from smartfactory.spc import RULE_DESCRIPTIONS
from smartfactory.spc.streaming import Limits, SeriesMonitor
from smartfactory.wire import alarm_id_for


@dataclass(slots=True)
class _SeriesState:
    monitor: SeriesMonitor
    active: Alarm | None = None
    last_violation_ms: int = 0
    newest_ms: int | None = None  # newest reading charted; older or equal ones (redeliveries, late data) are skipped


def watch_patterns(spec: str) -> tuple[str, ...]:
    """`"*"`, or comma-separated glob patterns over series ids (`*/diameter,*/fill_weight`)."""
    return tuple(p.strip() for p in spec.split(",") if p.strip()) or ("*",)


def load_limits_file(path: Path) -> dict[str, Limits]:
    """Configured limits from TOML (`[limits."<series id>"]` tables with `center`, `sigma`, optional `nsigmas`),
    validated by the pure `smartfactory.plant.LimitsFile` model."""
    return {s: Limits(e.center, e.sigma, e.nsigmas) for s, e in plant.load_limits_file(path).items()}


@dataclass(slots=True)
class MonitorStage:
    phase1_points: int = 50
    rules: str = "we"
    clear_after_s: float = 10.0
    watch: tuple[str, ...] = ("*",)
    #: Limits given by configuration: they win over stored and learned ones.
    configured: Mapping[str, Limits] = field(default_factory=dict)
    #: Newest stored limits per series with their version numbers (from the store, at start).
    stored: Mapping[str, LimitsVersion] = field(default_factory=dict)
    _series: dict[str, _SeriesState | None] = field(default_factory=dict)
    _versions: dict[str, int] = field(default_factory=dict)
    _changes: list[LimitsVersion] = field(default_factory=list)
    _last_ts: int = 0

    def _start(self, series: str, ts_ms: int) -> _SeriesState | None:
        if not any(fnmatchcase(series, pattern) for pattern in self.watch):
            return None
        limits = self.configured.get(series)
        if limits is not None:
            self._record(series, limits, ts_ms)
        else:
            known = self.stored.get(series)
            if known is not None:
                limits = Limits(known.center, known.sigma, known.nsigmas, known.n, known.source)
                self._versions[series] = known.version

        def learned(name: str, new: Limits) -> None:
            self._record(name, new, self._last_ts)

        monitor = SeriesMonitor(series, limits, learn=self.phase1_points, rules=self.rules, on_limits=learned)
        return _SeriesState(monitor)

    def _record(self, series: str, limits: Limits, ts_ms: int) -> None:
        version = self._versions.get(series, 0) + 1
        self._versions[series] = version
        self._changes.append(
            LimitsVersion(series, version, ts_ms, limits.center, limits.sigma, limits.nsigmas, limits.n, limits.source)
        )

    def take_limit_changes(self) -> list[LimitsVersion]:
        """Limits set since the last call (to be stored); empties the list."""
        changes, self._changes = self._changes, []
        return changes

    def observe(self, readings: Iterable[Reading]) -> list[Alarm]:
        """Feed readings; return alarms raised or cleared by them.

        A reading not newer than the last one charted for its series (a QoS 1 redelivery, a replay, late data) is
        skipped: it is stored, but charting it would put a point out of time order.
        """
        changes: list[Alarm] = []
        for reading in readings:
            self._last_ts = reading.ts_ms
            try:
                state = self._series[reading.series]
            except KeyError:
                state = self._series[reading.series] = self._start(reading.series, reading.ts_ms)
            if state is None or (state.newest_ms is not None and reading.ts_ms <= state.newest_ms):
                continue
            state.newest_ms = reading.ts_ms
            violated = state.monitor.update(reading.ts_ms, reading.value)
            if violated:
                state.last_violation_ms = reading.ts_ms
                if state.active is None:
                    rules = tuple(sorted({v.rule for v in violated}))
                    state.active = Alarm(
                        alarm_id=alarm_id_for(reading.series, reading.ts_ms),  # bounded length
                        series=reading.series,
                        ts_ms=reading.ts_ms,
                        rules=rules,
                        value=reading.value,
                        message="; ".join(f"{v.rule}: {RULE_DESCRIPTIONS.get(v.rule, '')}" for v in violated),
                    )
                    changes.append(state.active)
            elif state.active is not None and reading.ts_ms - state.last_violation_ms >= self.clear_after_s * 1000:
                a = state.active
                changes.append(Alarm(a.alarm_id, a.series, a.ts_ms, a.rules, a.value, False, a.message, reading.ts_ms))
                state.active = None
        return changes

    def limits(self, series: str) -> Limits | None:
        """The limits the monitor uses for a series, once known."""
        state = self._series.get(series)
        return None if state is None else state.monitor.limits
