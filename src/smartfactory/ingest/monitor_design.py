"""The live monitor's design side: which detector a series gets, and its thresholds from the plant's alarm budget.

A watched series is one of three kinds (its `wire.SignalInfo.kind` from the machine's birth; `process` when no
birth declared it):

| kind | points | detector |
|---|---|---|
| `process` (a sensor sampled at a rate) | readings | `IndividualsDetector` (AR(1) residuals when phase I shows φ) |
| `quality`, slow (a part every ≥ 5 s) | parts | `IndividualsDetector` |
| `quality`, fast (a part every < 5 s) | parts (or subgroups) | individuals (or `SubgroupDetector`, X̄-S) |
| `count` (rejects per minute) | count readings | `CountDetector` (exact Poisson c chart, upper side) |

`Planner.plan(series)` groups the watched series by kind and rate (`spc.design.SeriesGroup`) and lets
`spc.design.plan_budget` share the budget (false alarms per plant-hour) between kinds and series: a series' share
becomes an in-control ARL0 in its own points. `design(...)` then solves the thresholds for that ARL0 and for the
length of the series' phase I (`phase1_points`: thresholds that meet the budget on average over the phase I
estimation error, docs/spc.md "How long a phase I must be"); limits given by a limits file are known parameters.
A phase I shorter than `VARIANCE_MIN_PHASE1` points cannot hold the variance CUSUM to a budget, so such series
(slow ones with no shipped limits) get the mean CUSUM and the shock only.

Designs are pure functions of (kind, ARL0, phase I length); ARL0 is rounded *up* to a quarter-octave grid (at most
19 % fewer false alarms than the share allows) so that the handful of distinct designs of a plant are solved once
per process (`functools.lru_cache`): a design with a phase I correction takes ~2 s of CPU.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from smartfactory.spc import arl as A
from smartfactory.spc.design import (
    INDIVIDUALS_SPLIT,
    AlarmBudget,
    CountDesign,
    CusumDesign,
    IndividualsDesign,
    SeriesGroup,
    SubgroupDesign,
    design_counts,
    design_individuals,
    design_subgroups,
    plan_budget,
    stuck_run_length,
)
from smartfactory.spc.errors import SpcError

#: Parts at least this often (per second) are "fast": candidates for rational subgroups.
FAST_PART_HZ = 0.2
#: Below this many phase I points the variance CUSUM cannot be held to a budget (docs/spc.md): it is left out.
VARIANCE_MIN_PHASE1 = 300
#: The split of a series' false-alarm rate when the variance CUSUM is left out.
NO_VARIANCE_SPLIT: Mapping[str, float] = {"cusum_mean": 0.7, "shock": 0.3}
#: The split for slow part characteristics (individuals): most of the rate goes to the mean CUSUM, which finds the
#: small sustained shift the goals name (a 1σ step on a part every 26 s); the shock still catches a large one.
SLOW_PART_SPLIT: Mapping[str, float] = {"cusum_mean": 0.7, "cusum_var": 0.15, "shock": 0.15}
SPLITS: Mapping[str, Mapping[str, float]] = {"default": INDIVIDUALS_SPLIT, "slow_part": SLOW_PART_SPLIT}
#: Shares of the plant budget by kind. Part characteristics are the primary SPC and their goals are the hard ones
#: (a 1σ step on a part every 26 s); process signals at 1 Hz catch a 3σ shift in ~5 s even with a small share.
SHARES: Mapping[str, float] = {"process": 0.1, "part": 0.74, "count": 0.04, "data_quality": 0.12}
#: The mean shift (σ) each kind's CUSUM is tuned for: 1σ for process signals and slow parts; fast parts, whose
#: many points make a 1σ shift quick to find anyway, are tuned for 2σ so that a 3σ step is caught in ~3 parts.
SHIFT = {"process": 1.0, "part": 1.0, "fast_part": 2.0}

Design = IndividualsDesign | SubgroupDesign | CountDesign
#: A series' group in the budget plan: (design kind, rate in Hz, subgroup size, weight); see `Planner.group_key`.
GroupKey = tuple[str, float, int, float]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the monitor knows of a series before its phase I: kind, points per second, resolution, settling time."""

    kind: str  # process | quality | count
    rate_hz: float  # readings (process, count) or parts (quality) per second while running
    declared: bool  # the rate and kind come from a birth (else: assumed, then measured in phase I)
    resolution: float | None = None  # 10^-decimals
    tau_s: float | None = None  # time constant of the return to the working level after a stop
    weight: float = 1.0  # the series' weight in its kind's share of the budget (`SignalInfo.alarm_weight`)

    @property
    def fast(self) -> bool:
        return self.kind == "quality" and self.rate_hz >= FAST_PART_HZ

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_hz


def grid_up(arl0: float) -> float:
    """The smallest 2^(j/4) ≥ arl0 (a design ARL0 never below the share)."""
    return float(2.0 ** (math.ceil(math.log2(max(arl0, 10.0)) * 4.0 - 1e-9) / 4.0))


#: steps per octave of the grid a measured sampling rate is snapped to (`measured_rate`): 2^(1/16), at most 2.2 %
RATE_STEPS_PER_OCTAVE = 16


def measured_rate(readings_per_s: float) -> float:
    """A rate measured from a series' own timestamps, on the nearest step of a 2^(1/16) grid.

    Series group by rate in the budget plan (`Planner.group_key`), and each group costs a plan and a design. A rate
    measured from timestamps with any jitter differs in its last digits from series to series: unsnapped, every
    undeclared series became a group of its own, and each one finishing phase I cost a fresh plan on ingestion's
    thread (~0.3 s each: 80 series with ±20 ms jitter at 5 s took 24 s; 50,000 stalled ingestion, measured with
    bench/scale_cardinality.py). Snapped, they share a group; the share is off by at most 2.2 %."""
    if not readings_per_s > 0 or not math.isfinite(readings_per_s):
        return readings_per_s
    return float(2.0 ** (round(math.log2(readings_per_s) * RATE_STEPS_PER_OCTAVE) / RATE_STEPS_PER_OCTAVE))


@dataclass(frozen=True, slots=True)
class Allocation:
    """A series' share of the budget: false alarms per hour and the ARL0s (its points) they allow."""

    per_hour: float
    arl0: float  # SPC detector, in its points (readings, parts, subgroups or count windows)
    stuck_arl0: float  # data quality, in readings


class Planner:
    """Shares a budget over a plant's series (`plan`) and designs detectors (`design`, cached)."""

    def __init__(self, budget_per_hour: float, subgroup_size: int = 1) -> None:
        self.budget = AlarmBudget(per_hour=budget_per_hour, shares=dict(SHARES))
        self.subgroup_size = subgroup_size

    def group_key(self, facts: Facts) -> GroupKey:
        """(design kind, rate, subgroup, weight) of a series: its group in `plan_budget`."""
        if facts.kind == "count":
            return ("count", facts.rate_hz, 1, facts.weight)
        if facts.kind == "quality":
            sub = self.subgroup_size if facts.fast and self.subgroup_size > 1 else 1
            return ("part", facts.rate_hz, sub, facts.weight)
        return ("process", facts.rate_hz, 1, facts.weight)

    def plan(self, series: Iterable[Facts]) -> dict[GroupKey, Allocation]:
        """The allocation of every group of `series` (a mapping keyed by `group_key`)."""
        counts: dict[GroupKey, int] = {}
        for facts in series:
            key = self.group_key(facts)
            counts[key] = counts.get(key, 0) + 1
        planned = {key: planned_count(n) for key, n in counts.items()}
        return _allocate(tuple(sorted(planned.items())), self.budget.per_hour)

    def subgroup(self, facts: Facts) -> int:
        return self.group_key(facts)[2]


#: Group sizes up to this are planned exactly; above it they are rounded up on a grid of ratio 2^(1/4).
EXACT_COUNT = 16


def planned_count(n: int) -> int:
    """The group size a plan is made for: `n` itself up to `EXACT_COUNT`, else the next step of a geometric grid
    (ratio 2^(1/4), at most 19 % more). Planning for a few more series than there are keeps the plant within its
    budget (each series gets a slightly smaller share), and it bounds the number of distinct plans a growing plant
    needs to O(log n): without the grid, every new series changed the plan's key and cost a fresh design (~50 ms;
    measured 27x slower ingestion while 74 machines were born)."""
    if n <= EXACT_COUNT:
        return n
    step = math.ceil(4 * math.log2(n / EXACT_COUNT) - 1e-9)
    return math.ceil(EXACT_COUNT * 2 ** (step / 4) - 1e-9)


@functools.lru_cache(maxsize=256)
def _allocate(groups: tuple[tuple[GroupKey, int], ...], per_hour: float) -> dict[GroupKey, Allocation]:
    if not groups:
        return {}
    series_groups = [
        SeriesGroup(kind, count, rate, subgroup=sub, weight=weight) for (kind, rate, sub, weight), count in groups
    ]
    plan = plan_budget(series_groups, AlarmBudget(per_hour=per_hour, shares=dict(SHARES)))
    out: dict[GroupKey, Allocation] = {}
    for (key, _), group in zip(groups, plan.groups, strict=True):
        out[key] = Allocation(group.per_series_per_hour, group.arl0, group.stuck_arl0)
    return out


DesignKey = tuple[str, bool, float, int | None, int, float]


def design_key(facts: Facts, arl0: float, phase1: int | None, subgroup: int = 1, phi: float = 0.0) -> DesignKey:
    """What `design` depends on: two calls with the same key return the same design."""
    phi_q = 0.0 if phase1 is None or phi == 0.0 else math.ceil(min(max(phi, -0.9), 0.9) * 20.0) / 20.0
    return (facts.kind, facts.fast, grid_up(arl0), None if facts.kind == "count" else phase1, subgroup, phi_q)


class Designer:
    """`design` behind a cache, optionally solved on a background thread.

    A design with a phase I correction takes ~0.5-2 s of CPU (the variance CUSUM's Markov chain), and a growing
    plant needs one for every quarter-octave its per-series ARL0 climbs: solved on the thread that feeds the
    monitor, each one stalled ingestion for that long (bench/monitor_growth.py). With `background=True`, `prefetch`
    queues the designs a new plan will need, and `ready` answers without waiting (None while one is being
    solved), so a charting series keeps its current design until the new one is there; `get` (a series' first
    design) waits, and returns the same design either way. Without it, everything is solved on the caller's
    thread, in call order: replays and tests stay deterministic."""

    def __init__(self, *, background: bool = False) -> None:
        self.background = background
        self._lock = threading.Lock()
        self._solved: dict[DesignKey, Design] = {}
        self._pending: dict[DesignKey, Future[Design]] = {}
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="spc-design") if background else None
        self.settled = 0  # designs finished in the background so far (a caller re-checks its waiting series)

    def get(self, facts: Facts, arl0: float, phase1: int | None, subgroup: int = 1, phi: float = 0.0) -> Design:
        key = design_key(facts, arl0, phase1, subgroup, phi)
        found = self._solved.get(key)
        if found is not None:
            return found
        with self._lock:
            pending = self._pending.get(key)
        if pending is not None and not pending.cancel():  # being solved (or done): wait for it
            return pending.result()  # raises what the solve raised
        solved = design(facts, arl0, phase1, subgroup, phi)  # not started yet: solve it here, not behind the queue
        self._solved[key] = solved
        return solved

    def ready(self, facts: Facts, arl0: float, phase1: int | None, subgroup: int = 1, phi: float = 0.0) -> bool:
        """Whether `get` answers at once; in the background mode it queues the solve if not."""
        key = design_key(facts, arl0, phase1, subgroup, phi)
        if key in self._solved or self._pool is None:
            return True
        with self._lock:
            pending = self._pending.get(key)
        if pending is None:
            self.prefetch(facts, arl0, phase1, subgroup, phi)
            return False
        return pending.done()

    def prefetch(self, facts: Facts, arl0: float, phase1: int | None, subgroup: int = 1, phi: float = 0.0) -> None:
        """Queue a design that will be asked for soon (a no-op without the background thread)."""
        if self._pool is None:
            return
        key = design_key(facts, arl0, phase1, subgroup, phi)
        with self._lock:
            if key in self._solved or key in self._pending:
                return
            future = self._pool.submit(design, facts, arl0, phase1, subgroup, phi)
            self._pending[key] = future
        future.add_done_callback(functools.partial(self._settle, key))

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run other work of the design side (a budget plan) on the background thread."""
        assert self._pool is not None, "submit needs background=True"
        return self._pool.submit(fn, *args)

    def drop_queued(self) -> None:
        """Forget the queued solves that have not started (a new plan makes them stale)."""
        with self._lock:
            queued = list(self._pending.values())
        for future in queued:
            future.cancel()

    def busy(self) -> bool:
        """Designs still being solved."""
        with self._lock:
            return bool(self._pending)

    def _settle(self, key: DesignKey, future: Future[Design]) -> None:
        failed = future.cancelled() or future.exception() is not None
        if not failed:
            self._solved[key] = future.result()
        with self._lock:
            if not failed or future.cancelled():  # a failure stays pending: `get` raises it
                self._pending.pop(key, None)
            self.settled += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def design(facts: Facts, arl0: float, phase1: int | None, subgroup: int = 1, phi: float = 0.0) -> Design:
    """Thresholds for a series of `facts` whose detector may raise one false alarm per `arl0` points, its limits
    learned from `phase1` points (None: known, e.g. from a limits file); `phi`: the φ̂ of a series charted on
    AR(1) residuals (0: on its values)."""
    target = grid_up(arl0)
    if facts.kind == "count":
        return _count_design(target)
    shift = SHIFT["fast_part"] if facts.fast else SHIFT["part" if facts.kind == "quality" else "process"]
    if subgroup > 1:
        return _subgroup_design(target, subgroup, shift, phase1)
    split = "slow_part" if facts.kind == "quality" and not facts.fast else "default"
    base = _individuals_design(target, shift, phase1, split)
    if phase1 is None or phi == 0.0:
        return base
    return _residual_design(base, target, phase1, math.ceil(min(max(phi, -0.9), 0.9) * 20.0) / 20.0, split)


@functools.lru_cache(maxsize=256)
def _individuals_design(arl0: float, shift: float, phase1: int | None, split: str = "default") -> IndividualsDesign:
    if phase1 is not None and phase1 < VARIANCE_MIN_PHASE1:
        return design_individuals(arl0, shift=shift, split=NO_VARIANCE_SPLIT, phase1_points=phase1)
    try:
        return design_individuals(arl0, shift=shift, split=SPLITS[split], phase1_points=phase1)
    except SpcError:  # the variance CUSUM cannot meet the budget with this phase I: leave it out
        return design_individuals(arl0, shift=shift, split=NO_VARIANCE_SPLIT, phase1_points=phase1)


@functools.lru_cache(maxsize=256)
def _residual_design(
    base: IndividualsDesign, arl0: float, n: int, phi: float, split: str = "default"
) -> IndividualsDesign:
    """The mean CUSUM of an AR(1) residual chart, re-solved for the error of φ̂ as well.

    Residuals e_t = (1 − φ̂B)/(1 − φB) ε_t have long-run standard deviation (1 − φ̂)/(1 − φ) σ_e (their spectrum at
    frequency 0; Box & Jenkins), and that, not σ_e, is what a CUSUM accumulates. With φ̂ ~ N(φ, (1 − φ²)/n) its
    relative error has variance (1 + φ)/((1 − φ) n): for φ = 0.7 and n = 500 as much as σ̂ from ~40 points would
    have (measured: a residual CUSUM designed for σ̂_e alone ran at 3.4× its budget). The mean CUSUM's h is solved
    so that its false-alarm rate averaged over both errors, σ̂_e's (n − 2 degrees of freedom) and this one
    (`spc.arl.expected_cusum_rate` with the equivalent degrees of freedom 1/(2 cv²)), meets its share; the shock
    and the variance CUSUM see φ̂'s error only to second order and keep their design.
    """
    cv2 = 1.0 / (2.0 * (n - 2)) + (1.0 + phi) / ((1.0 - phi) * n)
    df = 1.0 / (2.0 * cv2)
    used = SPLITS[split] if math.isfinite(base.variance.h) else NO_VARIANCE_SPLIT
    share, total = used["cusum_mean"], sum(used.values())
    a_mean = arl0 / (share / total)
    k = base.mean.k
    h = A.solve_rate(lambda x: A.expected_cusum_rate(k, x, 1.0 / n, df), 1.0 / a_mean, 0.0, 500.0, "CUSUM")
    mean = CusumDesign(k, h, A.cusum_arl(k, h))
    rate = 1.0 / mean.arl0 + 1.0 / base.shock_arl0 + (1.0 / base.variance.arl0 if base.variance.arl0 > 0 else 0.0)
    return dataclasses.replace(base, mean=mean, arl0=1.0 / rate)


@functools.lru_cache(maxsize=64)
def _subgroup_design(arl0: float, n: int, shift: float, phase1: int | None) -> SubgroupDesign:
    return design_subgroups(arl0, n, shift=shift, phase1_points=phase1)


@functools.lru_cache(maxsize=64)
def _count_design(arl0: float) -> CountDesign:
    return design_counts(arl0)


def stuck_run(sigma: float, resolution: float, arl0: float) -> int | None:
    """Equal readings in a row that make a stuck sensor (`spc.design.stuck_run_length`; None: check off).

    Only σ/resolution matters; it is rounded down to two significant digits and capped at 200 steps (fewer
    steps per σ make equal readings likelier, so both err towards a longer run), which keeps the bins to sum
    few and the answers cached."""
    if not (sigma > 0 and math.isfinite(sigma)):
        return None
    ratio = sigma / resolution if resolution > 0 else math.inf
    ratio = min(ratio, 200.0)
    digits = 10.0 ** (math.floor(math.log10(ratio)) - 1)
    return _stuck_run(math.floor(ratio / digits) * digits, grid_up(arl0))


@functools.lru_cache(maxsize=1024)
def _stuck_run(ratio: float, arl0: float) -> int | None:
    return stuck_run_length(ratio, 1.0, arl0)


def design_params(d: Design) -> dict[str, float]:
    """The thresholds of a design as flat, finite numbers (stored with the limits version; a detector that is
    switched off, such as the variance CUSUM after a short phase I, is left out)."""
    return {k: v for k, v in _params(d).items() if math.isfinite(v)}


def _params(d: Design) -> dict[str, float]:
    if isinstance(d, IndividualsDesign):
        return {
            "k": d.mean.k, "h": d.mean.h, "k_var": d.variance.k, "h_var": d.variance.h, "shock": d.shock,
            "arl0": d.arl0, "shift": d.shift,
        }  # fmt: skip
    if isinstance(d, SubgroupDesign):
        return {
            "subgroup": float(d.n), "k": d.mean.k, "h": d.mean.h, "xbar": d.xbar, "s_limit": d.s_limit,
            "shock": d.shock, "arl0": d.arl0,
        }  # fmt: skip
    return {"alpha": d.alpha, "window": float(d.window), "arl0": d.arl0}
