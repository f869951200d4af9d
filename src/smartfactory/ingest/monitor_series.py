"""The live monitor's per-series and per-machine state (`ingest.monitor` drives them), and the WE-rules adapter."""

from __future__ import annotations

import math
from typing import Any

from smartfactory.ingest import monitor_design as md
from smartfactory.ingest.episodes import Episode
from smartfactory.ingest.phase_one import PhaseOne
from smartfactory.spc.baseline import Baseline
from smartfactory.spc.design import IndividualsDesign, SubgroupDesign
from smartfactory.spc.detect import (
    CountDetector,
    DataQualityDetector,
    Detection,
    IndividualsDetector,
    Severity,
    SubgroupDetector,
)
from smartfactory.spc.rules import RULE_DESCRIPTIONS
from smartfactory.spc.streaming import Limits, SeriesMonitor

#: State changes kept per machine (enough to gate readings that arrive a little late).
TIMELINE = 16


class WeDetector:
    """The old design as a detector: an individuals chart with run rules (`spc.streaming.SeriesMonitor`)."""

    __slots__ = ("_mon", "limits", "series")

    def __init__(self, series: str, limits: Limits, rules: str, phase1: Any = None) -> None:
        self.series = series
        self.limits = limits
        self._mon = SeriesMonitor(series, limits, rules=rules)
        if phase1 is not None:  # prime the run state with phase I, as the batch chart does
            for value in phase1:
                self._mon.update(0, float(value))

    def reset(self) -> None:
        self._mon.set_limits(self.limits)

    def update(self, ts_ms: int, value: float) -> Detection | None:
        found = self._mon.update(ts_ms, value)
        if not found:
            return None
        rules = [v.rule for v in found]
        top = "WE1" if "WE1" in rules else "N1" if "N1" in rules else rules[0]
        lim = self.limits
        z = (value - lim.center) / lim.sigma if lim.sigma > 0 else math.copysign(math.inf, value - lim.center)
        severity = Severity.ALARM if top in ("WE1", "N1") else Severity.WARNING
        message = "; ".join(f"{r}: {RULE_DESCRIPTIONS.get(r, '')}" for r in rules)
        also = tuple(r for r in rules if r != top)
        return Detection(self.series, ts_ms, top, z, lim.nsigmas, severity, "up" if z > 0 else "down", message,
                         value=value, also=also)  # fmt: skip


Detector = IndividualsDetector | SubgroupDetector | CountDetector | WeDetector


class Series:
    """One watched series: its facts, limits, detectors, gating state and alarm episode."""

    __slots__ = (
        "alloc", "baseline", "chart_from", "detector", "dq", "dropout_ms", "episode", "facts", "i", "last_ms",
        "machine", "mark", "mark_base", "name", "newest_ms", "p1_first", "p1_last", "phase1", "quiet_ms", "rate",
        "run_at", "runs", "segment", "silent", "silent_ms", "status", "stop_seg", "stopped_value", "unrecorded",
        "version", "we_limits",
    )  # fmt: skip

    def __init__(self, name: str, machine: Machine | None, facts: md.Facts) -> None:
        self.name = name
        self.machine = machine
        self.facts = facts
        self.alloc: md.Allocation | None = None
        self.baseline: Baseline | None = None
        self.we_limits: Limits | None = None
        self.rate: float | None = None  # counts: mean per reading
        self.detector: Detector | None = None
        self.dq: DataQualityDetector | None = None
        self.phase1: PhaseOne | None = None
        self.p1_first = -1
        self.p1_last = -1
        self.version: Any = None  # LimitsVersion
        self.unrecorded = False  # a version set before the first reading: handed over with it
        self.status = "starting"
        self.newest_ms = -(2**62)
        self.last_ms = -1
        self.segment = -2
        self.chart_from = -1
        self.stopped_value: float | None = None  # EWMA of the readings during the current stop (the level at restart)
        self.stop_seg = -2  # start of the stop `stopped_value` belongs to
        self.i = 0  # points charted
        self.mark: dict[str, int] = {}  # detector → `i` at its last signal (for the estimated shift)
        self.mark_base = 0
        self.runs: list[int] | None = None  # individuals: points since C⁺, C⁻, V were last 0
        self.run_at = (1, 1, 1)  # … as they were at the last detection
        self.episode: Episode | None = None
        self.quiet_ms = 10_000.0
        self.silent_ms = 0.0
        self.dropout_ms = 0.0
        self.silent = False


class Machine:
    """A machine's facts, its recent state changes (to gate readings by their time) and its stop alarm."""

    __slots__ = ("changes", "episode", "first_ms", "info", "newest_ms", "path", "series", "warm_ms", "warm_seg")

    def __init__(self, path: str) -> None:
        self.path = path
        self.info: Any = None  # MachineInfo
        self.changes: list[tuple[int, str, str | None]] = []  # (ts, state, reason), oldest first
        self.series: list[Series] = []
        self.newest_ms = -1  # the machine's own clock: its newest reading
        self.first_ms = -1
        self.episode: Episode | None = None
        self.warm_seg = -2  # the running stretch `warm_ms` was worked out for
        self.warm_ms = 0.0  # its thermal warm-up: the longest of its signals with a time constant

    def insert(self, ts: int, state: str, reason: str | None) -> bool:
        """Add a state change; True when it is the machine's newest, i.e. its state now."""
        ch = self.changes
        if ch and ts < ch[-1][0]:
            if (ts, state, reason) not in ch:
                ch.append((ts, state, reason))
                ch.sort(key=lambda c: c[0])
                del ch[:-TIMELINE]
            return False
        if ch and ch[-1] == (ts, state, reason):
            return False  # a redelivery
        if ch and ch[-1][0] == ts:
            ch[-1] = (ts, state, reason)
        else:
            ch.append((ts, state, reason))
            if len(ch) > TIMELINE:
                del ch[0]
        return True

    def gate(self, ts: int) -> tuple[bool, int, bool]:
        """(running at `ts`, start of that running stretch, whether it followed a known stop)."""
        ch = self.changes
        i = len(ch) - 1
        while i >= 0 and ch[i][0] > ts:
            i -= 1
        if i < 0:
            return True, -1, False  # before anything known: assume running
        if ch[i][1] != "running":
            return False, ch[i][0], False
        j = i
        while j > 0 and ch[j - 1][1] == "running":  # a new reason while running is the same stretch
            j -= 1
        return True, ch[j][0], j > 0


def deviation(s: Series, d: Detection) -> float | None:
    """How far off the process looks at a detection, in σ units (see `ingest.episodes`)."""
    name = d.detector
    if name in ("shock", "xbar", "WE1", "N1"):
        return abs(d.statistic)
    if name == "s":
        return d.statistic
    if name == "poisson":
        return d.statistic / max(d.threshold, 1.0)
    if name in ("cusum_mean", "cusum_var"):
        if s.runs is not None:  # N: points since the CUSUM was last 0 (Montgomery's N⁺, N⁻)
            n = s.run_at[2] if name == "cusum_var" else s.run_at[0 if d.direction == "up" else 1]
        else:
            n = max(1, s.i - s.mark.get(name, s.mark_base))
        design = getattr(s.detector, "design", None)
        if isinstance(design, IndividualsDesign):
            k = design.mean.k if name == "cusum_mean" else design.variance.k
        elif isinstance(design, SubgroupDesign):
            k = design.mean.k
        else:
            return None
        # Montgomery §9.1.3: the new mean is k + C/N above the old one. N is a whole number of points, so for shifts
        # found within a few points the estimate is coarse: capped at the shock limit (beyond it the shock speaks).
        return min(k + d.statistic / n, design.shock)
    return None
