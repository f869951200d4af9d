"""Monitor stage: live SPC, data-quality and machine-state alarms designed to a false-alarm budget.

The stage is fed by the ingestion service (or any harness) and answers with `model.Alarm` records::

    stage = MonitorStage(budget_per_hour=0.5, infos=store.read_machine_info(), stored=newest_limits_by_series)
    stage.birth(machine, info)          # a birth's MachineInfo: signal kinds, rates, resolutions, time constants
    alarms = stage.states(changes)      # StateChange records: gating, and stop/breakdown alarms at delay 0
    alarms += stage.observe(readings)   # Reading records, oldest first per series: SPC and data quality
    alarms += stage.tick(now_ms)        # periodically (≈ 1 s): silent sensors, quiet episodes clear
    stage.take_limit_changes()          # new LimitsVersion records to store (the dashboard shows them)
    stage.limits(series), stage.active(), stage.status(series), stage.take_events()  # for readers and benches
    stage.cannot_learn                  # how many series' phase I gave no limits (never charted, logged once each)
    stage.series_count                  # how many series it keeps state for

Per series (docs/spc.md, "The live monitor"):

- **Kind** from the machine's `MachineInfo` (births; the store's at start): `process` signals and `quality`
  characteristics on `IndividualsDetector` (shock + mean CUSUM + variance CUSUM, AR(1) residuals when phase I shows
  autocorrelation), fast parts optionally in X̄-S subgroups, `count`s on an exact Poisson c chart (never run
  rules). A series no birth declares is a process signal. Thresholds come from `spc.design.plan_budget` over the
  plant's series (`monitor_design`), re-planned when births add series.
- **Limits** from a limits file (known parameters), a stored version (after a restart), or a phase I of
  `phase1_points` clean running readings, shortened to what `phase1_max_s` of running gives (never below 30);
  every set of limits is a new `LimitsVersion` with its detector and thresholds.
- **Gating** by machine state: nothing is charted while the machine is not `running`, nor during the warm-up
  after it restarts (a signal with a declared time constant τ until its deviation at the restart has decayed
  below 0.25σ, at most 8τ; others `warmup_s`); detectors restart after a stop. Series of unknown machines are
  always charted. Stops and breakdowns (state `down`, `idle`) are alarms of their own (class `state`, on
  `…/telemetry/_state`), raised from the state record itself.
- **Data quality** (class `data_quality`, rules `stuck`, `silent`, `dropout`) while the machine runs: equal readings
  in a row (a run length from σ and the resolution), no reading for max(5 intervals, 30 s) of the machine's own
  clock (`tick`), ≥ 30 % of the expected readings missing in a 60-interval window.
- **Episodes** (`ingest.episodes`): one active alarm per series, escalated by news, cleared when quiet for
  max(`clear_after_s`, `clear_after_points` points).

`detector="we"` keeps the old individuals chart with Western Electric rules (limits mean ± 3·MR̄/1.128 from
`phase1_points` readings) for process and quality series, for the lecture's "before" story; gating, counts, data
quality and state alarms are the same. Work per reading is O(1); a series holds its phase I (≤ `phase1_points`
floats) only while learning.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from smartfactory import plant
from smartfactory.errors import WireError
from smartfactory.ingest import monitor_design as md
from smartfactory.ingest.episodes import MonitorEvent, cleared, detected, quiet
from smartfactory.ingest.monitor_series import Machine, Series, WeDetector, deviation
from smartfactory.ingest.phase_one import PhaseOne
from smartfactory.model import Alarm, LimitsVersion, Reading, StateChange
from smartfactory.spc.baseline import Baseline, CannotLearn, learn_baseline, learn_rate
from smartfactory.spc.design import (
    CountDesign,
    DataQualityDesign,
    IndividualsDesign,
    SubgroupDesign,
    data_quality_design,
)
from smartfactory.spc.detect import (
    DATA_QUALITY,
    CountDetector,
    DataQualityDetector,
    Detection,
    IndividualsDetector,
    Severity,
    SubgroupDetector,
)
from smartfactory.spc.errors import SpcError
from smartfactory.spc.streaming import Limits
from smartfactory.wire import STATE_ALARM_SENSOR, MachineInfo, parse_series

#: A growing plant re-plans its alarm budget at most this often (wall seconds); see `MonitorStage._replan`.
REPLAN_EVERY_S = 1.0
log = logging.getLogger(__name__)
MIN_PHASE1 = 30
#: Chart AR(1) residuals whenever phase I's φ̂ is significant (|φ̂| > 3/√n): the design allows for φ̂'s error, and a
#: CUSUM on plainly charted values with even φ = 0.15 would run at several times its budget.
PHI_MATERIAL = 0.0
#: Down reasons that are planned work, not a stop to alarm on.
PLANNED_REASONS = frozenset({"tool_change", "changeover", "maintenance"})
_TICK_EVERY_MS = 1000
#: A signal with a time constant charts again once the deviation it restarted with has decayed to this many σ.
SETTLED_Z = 0.25
#: Part characteristics chart again once the machine's signals with a time constant are within this many σ.
PARTS_SETTLED_Z = 1.0
#: Weight of each new reading in the EWMA of a signal's level during a stop (one reading is too noisy a guess).
STOPPED_ALPHA = 0.25


def watch_patterns(spec: str) -> tuple[str, ...]:
    """`"*"`, or comma-separated glob patterns over series ids (`*/diameter,*/fill_weight`)."""
    return tuple(p.strip() for p in spec.split(",") if p.strip()) or ("*",)


def load_limits_file(path: Path) -> dict[str, Limits]:
    """Configured limits from TOML (`[limits."<series id>"]` tables with `center`, `sigma`, optional `nsigmas`),
    validated by the pure `smartfactory.plant.LimitsFile` model. For a count, `center` is its mean per reading."""
    return {s: Limits(e.center, e.sigma, e.nsigmas) for s, e in plant.load_limits_file(path).items()}


class MonitorStage:
    """The live monitor. See the module docstring for the interface; every method is called from one thread."""

    def __init__(
        self,
        *,
        detector: str = "budget",
        budget_per_hour: float = 0.5,
        phase1_points: int = 500,
        phase1_max_s: float = 1800.0,
        warmup_s: float = 60.0,
        subgroup_size: int = 1,
        rules: str = "we",
        clear_after_s: float = 10.0,
        clear_after_points: int = 50,
        watch: tuple[str, ...] = ("*",),
        configured: Mapping[str, Limits] | None = None,
        stored: Mapping[str, LimitsVersion] | None = None,
        infos: Mapping[str, MachineInfo] | None = None,
        record_events: bool = False,
        background_design: bool = False,
    ) -> None:
        if detector not in ("budget", "we"):
            raise ValueError(f"detector must be budget or we, not {detector!r}")
        self.detector = detector
        self.phase1_points = max(MIN_PHASE1, int(phase1_points)) if detector == "budget" else int(phase1_points)
        self.phase1_max_s = phase1_max_s
        self.warmup_ms = warmup_s * 1000.0
        self.rules = rules
        self.clear_after_ms = clear_after_s * 1000.0
        self.clear_after_points = clear_after_points
        self.watch = watch
        self.configured = dict(configured or {})
        self.stored = dict(stored or {})
        self.planner = md.Planner(budget_per_hour, subgroup_size)
        self.designer = md.Designer(background=background_design)
        self._waiting: dict[str, Series] = {}  # charting series whose new design is being solved (background)
        self._settled_seen = 0
        self._plan_future: Future[dict[md.GroupKey, md.Allocation]] | None = None
        self._plan_seq = self._plan_base = 0  # plans applied; and their number when the one under way began
        self.record_events = record_events
        self._series: dict[str, Series | None] = {}
        self._machines: dict[str, Machine] = {}
        self._facts: dict[str, md.Facts] = {}  # every watched series the plant has (births) or showed (readings)
        self._alloc: dict[md.GroupKey, md.Allocation] = {}
        self._dirty = True
        self._next_replan = 0.0  # monotonic time before which a growing plant is not re-planned (see _replan)
        self._versions: dict[str, int] = {s: v.version for s, v in self.stored.items()}
        self._changes: list[LimitsVersion] = []
        self._events: list[MonitorEvent] = []
        self._active: dict[str, Series] = {}
        self._out: list[Alarm] = []
        self._next_tick = -math.inf
        #: series whose phase I gave no limits (constant, non-stationary, or a σ beyond the largest double such as
        #: ±1.79e308): never charted until a restart, their readings still stored; each logged once (issue 13)
        self.cannot_learn = 0
        known = dict(infos or {})
        for machine, info in known.items():  # the whole plant's facts first, so the first plan is the plant's
            self._register(machine, info)
        for machine, info in known.items():
            self._materialise(machine, info)

    # ------------------------------------------------------------------------------------------ inputs

    def birth(self, machine: str, info: MachineInfo, ts_ms: int | None = None) -> None:
        """A machine announced its facts: its signals' kinds, rates and resolutions (re-plans the budget)."""
        self._register(machine, info)
        self._materialise(machine, info)

    def _register(self, machine: str, info: MachineInfo) -> None:
        self._machine(machine).info = info
        for name in info.signals:
            series = f"{machine}/telemetry/{name}"
            if self._watched(series):
                facts = _facts(info, name)
                if self._facts.get(series) != facts:
                    self._facts[series] = facts
                    self._dirty = True
                    self._next_replan = 0.0  # a birth declares the plant: re-plan at the next reading

    def _materialise(self, machine: str, info: MachineInfo) -> None:
        for name in info.signals:
            series = f"{machine}/telemetry/{name}"
            facts = self._facts.get(series)
            if facts is None:
                continue  # not watched
            known = self._series.get(series)
            if known is not None and known.facts != facts and known.detector is None:
                known.facts = facts  # still learning: take the declared kind and rate
                known.dq = self._dq(known)
            elif series not in self._series and facts.kind != "quality":
                self._series[series] = self._start(series)  # a declared sensor: silent even if it never spoke

    def states(self, changes: Iterable[StateChange]) -> list[Alarm]:
        """Machine state changes (any order): they gate charting; stops and breakdowns raise `state` alarms."""
        out = self._out = []
        for change in changes:
            m = self._machine(change.machine)
            if m.insert(change.ts_ms, change.state, change.reason):
                self._state_alarm(m, change)
        return out

    def observe(self, readings: Iterable[Reading]) -> list[Alarm]:
        """Feed readings; return the alarms they raised, escalated or cleared.

        A reading not newer than the last one seen on its series (a QoS 1 redelivery, a replay, late data) is
        skipped: it is stored, but charting it would put a point out of time order.
        """
        if self._dirty and time.monotonic() >= self._next_replan:
            self._replan()
        if self._plan_future is not None and self._plan_future.done():
            self._take_plan()
        if self._waiting and self.designer.settled != self._settled_seen:
            self._rearm_waiting()
        out = self._out = []
        table = self._series
        for reading in readings:
            try:
                s = table[reading.series]
            except KeyError:
                s = table[reading.series] = self._start(reading.series)
            if s is None:
                continue
            ts = reading.ts_ms
            if ts <= s.newest_ms:
                continue
            s.newest_ms = ts
            self._reading(s, ts, reading.value)
        return out

    def tick(self, now_ms: int) -> list[Alarm]:
        """Periodic checks (call about once a second; `now_ms` on any steady clock): silent sensors, measured on
        each machine's own reading clock, and episodes whose series went quiet."""
        out = self._out = []
        if now_ms < self._next_tick:
            return out
        self._next_tick = now_ms + _TICK_EVERY_MS
        for m in self._machines.values():
            if m.newest_ms < 0:
                continue
            running, start, _ = m.gate(m.newest_ms)
            if not running:
                continue
            for s in m.series:
                if s.silent_ms <= 0 or s.silent:
                    continue
                since = max(s.last_ms, start, m.first_ms)
                gap = m.newest_ms - since
                if gap >= s.silent_ms:
                    s.silent = True
                    d = Detection(
                        s.name, m.newest_ms, "silent", gap / 1000.0, s.silent_ms / 1000.0, Severity.ALARM, "none",
                        f"silent sensor: no reading for {gap / 1000.0:.0f} s while its machine reports "
                        f"(limit {s.silent_ms / 1000.0:g} s)",
                        DATA_QUALITY, None,
                    )  # fmt: skip
                    self._detected(s, d, None)
        for s in list(self._active.values()):
            ep = s.episode
            clock = s.machine.newest_ms if s.machine is not None else s.newest_ms
            if ep is not None and quiet(ep, clock, s.quiet_ms, s.dropout_ms):
                self._clear(s, clock)
        return out

    # ------------------------------------------------------------------------------------------ outputs

    def take_limit_changes(self) -> list[LimitsVersion]:
        """Limits set since the last call (to be stored); empties the list."""
        changes, self._changes = self._changes, []
        return changes

    def take_events(self) -> list[MonitorEvent]:
        """Raises, escalations and clears since the last call (only with `record_events=True`)."""
        events, self._events = self._events, []
        return events

    def limits(self, series: str) -> LimitsVersion | None:
        """The limits version the monitor charts a series with, once it has one."""
        s = self._series.get(series)
        return None if s is None else s.version

    def active(self) -> dict[str, Alarm]:
        """The active alarm of every series in alarm (a machine's stop on its `…/telemetry/_state` series)."""
        found = {name: s.episode.alarm for name, s in self._active.items() if s.episode is not None}
        for m in self._machines.values():
            if m.episode is not None:
                found[m.episode.alarm.series] = m.episode.alarm
        return found

    @property
    def series_count(self) -> int:
        """How many series the stage keeps state for (bounded by ingestion's series caps)."""
        return len(self._series)

    def status(self, series: str) -> str:
        """What the monitor does with a series: not watched, learning k/n, charting with …, or why not."""
        s = self._series.get(series)
        if s is None:
            return "not watched" if series in self._series else "not seen"
        return s.status

    # ------------------------------------------------------------------------------------------ series

    def _watched(self, series: str) -> bool:
        return any(fnmatchcase(series, pattern) for pattern in self.watch)

    def _machine(self, path: str) -> Machine:
        m = self._machines.get(path)
        if m is None:
            m = self._machines[path] = Machine(path)
        return m

    def _start(self, name: str) -> Series | None:
        if not self._watched(name):
            return None
        try:
            sid = parse_series(name)
        except WireError:
            machine = None
        else:
            machine = self._machine(sid.machine)
        facts = self._facts.get(name)
        if facts is None:
            facts = self._facts[name] = md.Facts("process", 1.0, False)
            self._dirty = True
        s = Series(name, machine, facts)
        if machine is not None:
            machine.series.append(s)
        s.dq = self._dq(s) if facts.declared else None
        if not self._resume(s):
            s.phase1 = PhaseOne(self._phase1_length(facts))
            s.status = f"learning 0/{s.phase1.size}"
        return s

    def _phase1_length(self, facts: md.Facts) -> int:
        if self.detector == "we" and facts.kind != "count":
            return max(2, self.phase1_points)
        fits = int(self.phase1_max_s * facts.rate_hz)
        return max(MIN_PHASE1, min(self.phase1_points, fits))

    def _resume(self, s: Series) -> bool:
        """Install configured or stored limits; False when the series must learn them."""
        given = self.configured.get(s.name)
        if given is not None:
            if s.facts.kind == "count":
                s.rate = given.center
            elif self.detector == "we":
                s.we_limits = given
            elif given.sigma > 0:
                s.baseline = Baseline(given.center, given.sigma)
            else:
                s.status = "cannot chart: configured σ is 0"
                return True
            self._arm(s, "configured", record=True)
            return True
        known = self.stored.get(s.name)
        if known is None:
            return False
        try:
            if s.facts.kind == "count" and known.detector == "poisson":
                s.rate = known.params.get("rate", known.center)
            elif self.detector == "we" and known.detector == "imr":
                s.we_limits = Limits(known.center, known.sigma, known.nsigmas, known.n, known.source)
            elif self.detector == "budget" and known.detector in ("individuals", "subgroups"):
                phi = known.params.get("phi", 0.0)
                s.baseline = Baseline(
                    known.center, known.sigma, phi, known.params.get("sigma_e", math.nan), n=known.n,
                    source=known.source,
                )  # fmt: skip
            else:
                return False  # limits of another design: learn anew (a new version)
        except SpcError:
            return False
        s.version = known
        self._arm(s, known.source, record=False)
        return True

    def _learn(self, s: Series, ts: int, v: float) -> None:
        buf = s.phase1
        assert buf is not None
        if not buf.add(v):
            if s.p1_first < 0:
                s.p1_first = ts
            s.p1_last = ts
            if not len(buf) & 63:
                s.status = f"learning {len(buf)}/{buf.size}"
            return
        s.p1_last = ts
        values = buf.values()
        s.phase1 = None
        if not s.facts.declared and s.p1_first >= 0 and ts > s.p1_first:
            measured = md.measured_rate((len(values) - 1) * 1000.0 / (ts - s.p1_first))  # readings per second
            s.facts = self._facts[s.name] = md.Facts(s.facts.kind, measured, False, _resolution(values))
            self._dirty = True
        kind = s.facts.kind
        if kind == "count":
            rate = learn_rate(values, min_points=len(values))
            if isinstance(rate, CannotLearn):
                self._unlearnable(s, rate.message)
                return
            s.rate = rate
        elif self.detector == "we":
            try:
                s.we_limits = Limits.learn(values)
            except SpcError as exc:
                self._unlearnable(s, str(exc))
                return
        else:
            base = learn_baseline(values, min_points=len(values))
            if isinstance(base, CannotLearn):
                self._unlearnable(s, base.message)
                return
            s.baseline = base
        if s.facts.resolution is None:
            s.facts = dataclasses.replace(s.facts, resolution=_resolution(values))
        if self._dirty and time.monotonic() >= self._next_replan:
            self._replan()
        # the first design waits for its solve even in the background mode (usually queued by `_prefetch` when the
        # plan was made, a phase I ago): readings not charted meanwhile would be faults not seen
        self._arm(s, "learned", record=True, at=ts, phase1=values)

    def _unlearnable(self, s: Series, why: str) -> None:
        """A phase I that gave no limits: the series stays uncharted (its status says why), counted and logged."""
        s.status = f"cannot learn: {why}"
        self.cannot_learn += 1
        log.warning(
            "SPC cannot learn limits for %s: %s; its readings are stored, not charted (%d series cannot learn)",
            s.name[:200],
            why,
            self.cannot_learn,
        )

    def _arm(self, s: Series, source: str, *, record: bool, at: int | None = None, phase1: Any = None) -> None:
        """Design and build the detector of a series from its limits; record a version if asked or changed. A
        design that cannot be made leaves the series uncharted (its status says why), never raises."""
        try:
            self._design(s, source, record=record, at=at, phase1=phase1)
        except (SpcError, KeyError) as exc:
            s.detector = None
            s.status = f"cannot design its detector: {exc}"
            log.warning("SPC cannot chart %s: %s", s.name[:200], exc)

    def _design(self, s: Series, source: str, *, record: bool, at: int | None, phase1: Any) -> None:
        if self._dirty and time.monotonic() >= self._next_replan:
            self._replan()
        alloc = self._alloc.get(self.planner.group_key(s.facts))
        if alloc is None:  # a series the plan has not seen yet
            self._dirty = True
            self._replan(wait=True)
            alloc = self._alloc[self.planner.group_key(s.facts)]
        s.alloc = alloc
        kind = s.facts.kind
        interval = s.facts.interval_s
        if kind == "count":
            assert s.rate is not None
            cd = self.designer.get(*self._design_inputs(s, alloc))
            assert isinstance(cd, CountDesign)
            det = CountDetector(s.rate, cd, series=s.name)
            mean = det.mean
            sd = math.sqrt(mean) if mean > 0 else 1.0
            version = (mean, sd, (det.limit - mean) / sd, "poisson", {**md.design_params(cd), "rate": s.rate,
                       "limit": float(det.limit)})  # fmt: skip
            s.detector = det
            s.status = f"charting: Poisson c chart, mean {mean:.3g}, signal above {det.limit}"
            sigma_eff = None
        elif self.detector == "we":
            lim = s.we_limits
            assert lim is not None
            s.detector = WeDetector(s.name, lim, self.rules, phase1)
            version = (lim.center, lim.sigma, lim.nsigmas, "imr", {})
            s.status = f"charting: individuals chart, {self.rules} rules"
            sigma_eff = lim.sigma
        else:
            base = s.baseline
            assert base is not None
            d = self.designer.get(*self._design_inputs(s, alloc))
            params = {**md.design_params(d), "phi": base.phi, "sigma_e": base.sigma_e}
            if isinstance(d, SubgroupDesign):
                s.detector = SubgroupDetector(base, d, series=s.name)
                version = (base.center, base.sigma, d.shock, "subgroups", params)
                s.status = f"charting: X̄-S on subgroups of {d.n}"
                interval *= d.n
            else:
                assert isinstance(d, IndividualsDesign)
                ind = IndividualsDetector(base, d, series=s.name, phi_material=PHI_MATERIAL)
                s.detector = ind
                s.runs = [0, 0, 0]
                params["residuals"] = 1.0 if ind.residuals else 0.0
                version = (base.center, base.sigma, d.shock, "individuals", params)
                what = f"AR(1) residuals, φ = {base.phi:.2f}" if ind.residuals else "standardised readings"
                s.status = f"charting: shock + CUSUMs on {what}"
            sigma_eff = base.sigma_e if params.get("residuals") else base.sigma
        s.quiet_ms = max(self.clear_after_ms, self.clear_after_points * interval * 1000.0)
        s.mark.clear()
        s.mark_base = s.i
        s.dq = self._dq(s)  # designed with this allocation
        if kind != "count" and sigma_eff is not None and s.facts.resolution is not None:
            s.dq.stuck_run = md.stuck_run(sigma_eff, s.facts.resolution, alloc.stuck_arl0)
        center, sigma, nsigmas, detector, params = version
        old = s.version
        if record or old is None or old.detector != detector or not _same(old.params, params):
            n = s.baseline.n if s.baseline is not None else (s.we_limits.n if s.we_limits is not None else 0)
            when = at if at is not None else s.newest_ms
            s.version = LimitsVersion(s.name, 0, max(when, 0), center, sigma, nsigmas, n, source, detector, params)
            if when >= 0:
                self._record(s, when)
            else:  # armed before its first reading (a birth): the version starts with that reading
                s.unrecorded = True

    def _design_inputs(self, s: Series, alloc: md.Allocation) -> tuple[md.Facts, float, int | None, int, float]:
        """The arguments of `md.design` for a series with limits: facts, ARL0, phase I length (None: known
        limits), subgroup size and the φ̂ of a residual chart (0: charted on its values)."""
        if s.facts.kind == "count":
            return s.facts, alloc.arl0, None, 1, 0.0
        base = s.baseline
        assert base is not None
        n = base.n if base.source == "learned" and base.n > 0 else None
        sub = self.planner.subgroup(s.facts)
        residuals = sub == 1 and base.uses_residuals(PHI_MATERIAL)
        return s.facts, alloc.arl0, n, sub, base.phi if residuals else 0.0

    def _rearm_waiting(self) -> None:
        """Charting series whose design for the current plan has been solved meanwhile take it now."""
        self._settled_seen = self.designer.settled
        for name, s in list(self._waiting.items()):
            alloc = self._alloc.get(self.planner.group_key(s.facts))
            if alloc is None or alloc == s.alloc or s.detector is None:
                del self._waiting[name]
            elif self.designer.ready(*self._design_inputs(s, alloc)):
                del self._waiting[name]
                self._arm(s, s.version.source if s.version is not None else "learned", record=False)

    def _record(self, s: Series, ts: int) -> None:
        number = self._versions.get(s.name, 0) + 1
        self._versions[s.name] = number
        s.version = dataclasses.replace(s.version, version=number, ts_ms=ts)
        s.unrecorded = False
        self._changes.append(s.version)

    def _dq(self, s: Series) -> DataQualityDetector:
        """Stuck (armed once σ is known), silent and dropout checks for sampled signals; stuck only for parts."""
        interval = s.facts.interval_s
        stuck_arl0 = s.alloc.stuck_arl0 if s.alloc is not None else 1e6
        design = data_quality_design(interval, stuck_arl0)
        if s.facts.kind == "quality":
            design = DataQualityDesign(design.stuck_arl0, design.silent_after_s, 0.0, design.dropout_fraction)
            s.silent_ms = 0.0
            s.dropout_ms = 0.0
        else:
            s.silent_ms = design.silent_after_s * 1000.0
            s.dropout_ms = design.dropout_window_s * 1000.0
        return DataQualityDetector(design, interval_s=interval, stuck_run=None, series=s.name)

    def _replan(self, *, wait: bool = False) -> None:
        """Share the budget over the series known now. A growing plant re-plans at most every `REPLAN_EVERY_S`
        of wall time (series that appear from readings meanwhile use their group's current share; a birth or a new group
        re-plans at once; with the grid of `md.planned_count` most re-plans are cache hits):
        re-planning at every new series made ingestion 27x slower while 74 machines were born (bench/scale_drain.py)."""
        self._dirty = False
        self._next_replan = time.monotonic() + REPLAN_EVERY_S
        if self.designer.background and self._alloc and not wait:  # solved off this thread; the old plan holds
            if self._plan_future is None:
                self._plan_future = self.designer.submit(self.planner.plan, tuple(self._facts.values()))
                self._plan_base = self._plan_seq
            else:
                self._dirty = True  # plan again once the one under way is in
            return
        try:
            alloc = self.planner.plan(self._facts.values())
        except SpcError as exc:  # keep the plan there is (a design input no budget can meet)
            log.error("could not share the alarm budget over %d series: %s", len(self._facts), exc)
            return
        self._apply_plan(alloc)

    def _take_plan(self) -> None:
        """A plan solved in the background is in: use it."""
        future, self._plan_future = self._plan_future, None
        assert future is not None
        if self._plan_seq != self._plan_base:  # a plan was made on this thread meanwhile: this one is older
            self._dirty = True
            return
        try:
            alloc = future.result()
        except SpcError as exc:
            log.error("could not share the alarm budget over %d series: %s", len(self._facts), exc)
            return
        self._apply_plan(alloc)

    def _apply_plan(self, plan: dict[md.GroupKey, md.Allocation]) -> None:
        """Allocations of a new plan: re-arm the charting series whose share moved (off this thread in the
        background mode: they keep their design until the new one is solved)."""
        self._alloc = plan
        self._plan_seq += 1
        if self.designer.background and self.detector == "budget":
            self.designer.drop_queued()  # solves queued for an older plan
            self._prefetch()
        for s in self._series.values():
            if s is None or s.detector is None:
                continue
            alloc = self._alloc.get(self.planner.group_key(s.facts))
            if alloc is not None and alloc != s.alloc:
                if self.detector == "budget" and not self.designer.ready(*self._design_inputs(s, alloc)):
                    self._waiting[s.name] = s  # keeps its design until the new one is solved (off this thread)
                    continue
                source = s.version.source if s.version is not None else "learned"
                self._arm(s, source, record=False)  # a new version only when the thresholds moved

    def _prefetch(self) -> None:
        """Queue the designs the new plan's learning series will ask for when their phase I ends (one per group
        and phase I length), so that their first design is usually solved before it is needed."""
        seen: set[tuple[md.GroupKey, int | None]] = set()
        for name, facts in self._facts.items():
            key = self.planner.group_key(facts)
            alloc = self._alloc.get(key)
            if alloc is None:
                continue
            n = None if name in self.configured or facts.kind == "count" else self._phase1_length(facts)
            if (key, n) not in seen:
                seen.add((key, n))
                self.designer.prefetch(facts, alloc.arl0, n, key[2], 0.0)

    # ------------------------------------------------------------------------------------------ per reading

    def _reading(self, s: Series, ts: int, v: float) -> None:
        m = s.machine
        if m is not None:
            if ts > m.newest_ms:
                m.newest_ms = ts
                if m.first_ms < 0:
                    m.first_ms = ts
            running, start, restarted = m.gate(ts)
        else:
            running, start, restarted = True, -1, False
        s.last_ms = ts
        if s.unrecorded:
            self._record(s, ts)
        ep = s.episode
        if ep is not None and ep.silent:
            ep.silent = False
        s.silent = False
        if not running:
            if s.stop_seg != start:  # the first reading of this stop
                s.stop_seg, s.stopped_value = start, v
            elif s.stopped_value is not None:
                s.stopped_value += STOPPED_ALPHA * (v - s.stopped_value)
            if ep is not None and quiet(ep, ts, s.quiet_ms, s.dropout_ms):
                self._clear(s, ts)
            return
        if start != s.segment:  # the machine (re)started: detectors restart, maybe after a warm-up
            s.segment = start
            if restarted:
                assert m is not None
                warm = self._machine_warmup_ms(m, start)  # first, while every stop level is still known
                s.chart_from = start + round(warm if s.facts.kind == "quality" else self._warmup_ms(s))
            else:
                s.chart_from = -1
            s.stopped_value = None  # used up: a later restart without readings during its stop does not reuse it
            if s.detector is not None:
                s.detector.reset()
                if s.runs is not None:
                    s.runs[:] = (0, 0, 0)
            if s.dq is not None:
                s.dq.reset()
            s.mark.clear()
            s.mark_base = s.i
        if ep is not None and ep.stuck_value is not None and v != ep.stuck_value:
            ep.stuck_value = None
        dq = s.dq
        if dq is not None:
            found = dq.update(ts, v)
            if found is not None:
                self._detected(s, found, None)
                ep = s.episode
        if ts < s.chart_from:
            return
        det = s.detector
        if det is None:
            if s.phase1 is not None:
                self._learn(s, ts, v)
            return
        s.i += 1
        found = det.update(ts, v)
        runs = s.runs
        if runs is not None:  # points since each CUSUM left 0 (for the estimated shift of a detection)
            assert isinstance(det, IndividualsDetector)
            cp, cn, sv = det.state
            if found is not None:
                s.run_at = (runs[0] + 1, runs[1] + 1, runs[2] + 1)
            runs[0] = runs[0] + 1 if cp > 0.0 else 0
            runs[1] = runs[1] + 1 if cn > 0.0 else 0
            runs[2] = runs[2] + 1 if sv > 0.0 else 0
        if found is not None:
            self._detected(s, found, deviation(s, found))
        elif ep is not None and quiet(ep, ts, s.quiet_ms, s.dropout_ms):
            self._clear(s, ts)

    def _warmup_ms(self, s: Series, settled: float = SETTLED_Z, *, provisional: bool = False) -> float:
        """How long a signal waits after a restart: one with a time constant τ until the deviation it had when the
        machine restarted (its level at the end of the stop, an EWMA of the stopped readings) has decayed to
        `settled` σ, τ·ln(|z|/settled), at most 8τ; others `warmup_s`. Without limits yet it waits 5τ, so that its
        phase I does not learn the tail of the transient (0.25σ left in it biased a spindle's centre by 0.33σ),
        unless `provisional`: then its phase I so far stands in for the limits."""
        tau = s.facts.tau_s
        if tau is None:
            return self.warmup_ms
        level = _level(s) if provisional else None if s.baseline is None else (s.baseline.center, s.baseline.sigma)
        if level is None or s.stopped_value is None:
            return max(self.warmup_ms, 5.0 * tau * 1000.0)
        center, sigma = level
        z = abs(s.stopped_value - center) / sigma
        if z <= settled:
            return self.warmup_ms
        return max(self.warmup_ms, min(8.0, math.log(z / settled)) * tau * 1000.0)

    def _machine_warmup_ms(self, m: Machine, start: int) -> float:
        """The warm-up of a machine's part characteristics after the restart at `start`: until every signal of the
        machine with a time constant is back within `PARTS_SETTLED_Z` σ of its level (a cold mould or spindle makes
        off-centre parts: start-up scrap is a known cause, not a special one). Worked out once per restart."""
        if m.warm_seg != start:
            m.warm_seg = start
            m.warm_ms = self.warmup_ms
            for t in m.series:
                if t.facts.tau_s is not None and t.stopped_value is not None:
                    m.warm_ms = max(m.warm_ms, self._warmup_ms(t, PARTS_SETTLED_Z, provisional=True))
        return m.warm_ms

    # ------------------------------------------------------------------------------------------ alarms

    def _emit(self, kind: str, alarm: Alarm, cls: str, detector: str, severity: int) -> None:
        out = self._out
        if kind == "merge":
            for i in range(len(out) - 1, -1, -1):
                if out[i].alarm_id == alarm.alarm_id:
                    out[i] = alarm
                    break
            else:
                out.append(alarm)
        else:
            out.append(alarm)
        if self.record_events:
            self._events.append(MonitorEvent(kind, alarm, cls, detector, severity))

    def _detected(self, s: Series, d: Detection, dev: float | None) -> None:
        if d.alarm_class != DATA_QUALITY:
            for key in (d.detector, *d.also):
                s.mark[key] = s.i
        s.episode = detected(s.name, s.episode, d, dev, self._emit)
        self._active[s.name] = s

    def _clear(self, s: Series, ts: int) -> None:
        ep = s.episode
        assert ep is not None
        cleared(s.name, ep, ts, self._emit)
        s.episode = None
        self._active.pop(s.name, None)

    def _state_alarm(self, m: Machine, change: StateChange) -> None:
        name = f"{m.path}/telemetry/{STATE_ALARM_SENSOR}"
        state, reason = change.state, change.reason
        stop = state == "idle" or (state == "down" and reason not in PLANNED_REASONS)
        ep = m.episode
        if not stop:
            if ep is not None:
                cleared(name, ep, change.ts_ms, self._emit)
                m.episode = None
            return
        if state == "idle":
            severity, what = Severity.WARNING, "idle (stopped, waiting)"
        elif reason == "breakdown":
            severity, what = Severity.CRITICAL, "down: breakdown"
        else:
            severity, what = Severity.ALARM, f"down: {reason or 'stopped'}"
        d = Detection(name, change.ts_ms, "state", 0.0, 0.0, severity, "none", f"machine {what}", "state", None)
        if ep is not None and int(severity) <= ep.severity:
            return  # still stopped: the same episode
        m.episode = detected(name, ep, d, None, self._emit)


def _facts(info: MachineInfo, name: str) -> md.Facts:
    signal = info.signals[name]
    resolution = 10.0**-signal.decimals if signal.decimals is not None else None
    if signal.kind == "quality":
        rate = 1.0 / (info.ideal_cycle_s or 60.0)
    else:
        rate = 1.0 / (signal.interval_s or info.sample_interval_s or 1.0)
    return md.Facts(signal.kind, rate, True, resolution, signal.tau_s, signal.alarm_weight or 1.0)


def _level(s: Series) -> tuple[float, float] | None:
    """A signal's running level and σ: its limits, or while it still learns, what its phase I has so far (at least
    `MIN_PHASE1` readings; σ from the mean moving range, d₂ = 1.128, so a slow drift does not inflate it)."""
    if s.baseline is not None:
        return s.baseline.center, s.baseline.sigma
    buf = s.phase1
    if buf is None or len(buf) < MIN_PHASE1:
        return None
    import numpy as np

    values = buf.values()
    sigma = float(np.mean(np.abs(np.diff(values)))) / 1.128
    return (float(values.mean()), sigma) if sigma > 0 else None


def _resolution(values: Any) -> float | None:
    """The step of readings rounded to a resolution (the smallest gap between distinct values), if they look
    rounded; None for continuous values."""
    import numpy as np

    distinct = np.unique(values)
    if distinct.size < 3:
        return None
    gaps = np.diff(distinct)
    step = float(gaps.min())
    if step <= 0 or not np.allclose(gaps / step, np.round(gaps / step), atol=1e-3):
        return None
    return step


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-9) for k in a)


__all__ = ["MonitorEvent", "MonitorStage", "load_limits_file", "watch_patterns"]
