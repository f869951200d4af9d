"""The budget planner: a growing plant needs few distinct plans, and every plan keeps within the budget."""

from __future__ import annotations

import itertools

import pytest

from smartfactory.ingest import monitor_design as md
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Reading
from smartfactory.spc.streaming import Limits
from smartfactory.wire import MachineInfo, SignalInfo
from tests.conftest import wait_until


def test_group_sizes_are_exact_when_small_and_rounded_up_on_a_grid_when_large() -> None:
    sizes = [md.planned_count(n) for n in range(1, 50_001)]
    assert sizes[: md.EXACT_COUNT] == list(range(1, md.EXACT_COUNT + 1))  # the shipped plant is planned exactly
    assert all(n <= planned <= 1.19 * n + 1 for n, planned in enumerate(sizes, start=1))  # never fewer series
    assert len(set(sizes)) < 70  # O(log n) distinct plans for 50,000 series, not one per series


def test_a_plant_growing_series_by_series_designs_only_a_few_plans() -> None:
    """Before: every new series changed the plan's cache key, and each plan cost ~50 ms of design."""
    md._allocate.cache_clear()
    planner = md.Planner(budget_per_hour=0.5)
    facts = [md.Facts("process", 1.0, declared=True)] * 2_000
    plans = [planner.plan(facts[:n]) for n in range(1, len(facts) + 1)]
    assert md._allocate.cache_info().misses < 45
    share = [p[("process", 1.0, 1, 1.0)].per_hour for p in plans]
    assert all(later <= earlier for earlier, later in itertools.pairwise(share))  # more series: less each
    assert all(s * n <= 0.5 for n, s in enumerate(share, start=1))  # the plant never exceeds its budget


def test_designs_solved_off_the_feeding_thread_end_where_the_feeding_thread_would() -> None:
    """A growing plant's new plans and designs are solved in the background (ingestion's mode); once they are in,
    every series charts with exactly the thresholds the one-thread monitor gives it."""
    info = MachineInfo(
        machine_type="rack", sample_interval_s=1.0, signals={f"s{i}": SignalInfo(kind="process") for i in range(3)}
    )
    names = [f"e/p/a/l/m{m}/telemetry/s{i}" for m in range(6) for i in range(3)]
    limits = {name: Limits(0.0, 1.0) for name in names}
    stages = [MonitorStage(configured=limits, background_design=background) for background in (False, True)]
    for mon in stages:
        for m in range(6):
            mon.birth(f"e/p/a/l/m{m}", info)
            mon.observe([Reading(name, 1_000 * (m + 1), 0.1) for name in names if f"/m{m}/" in name])
    one, background = stages

    def settled() -> bool:
        background.observe([])  # takes in what the background thread has finished
        return (
            background._plan_future is None
            and not background._dirty
            and not background._waiting
            and not background.designer.busy()
        )

    assert wait_until(settled, timeout=120.0)
    for name in names:
        fg, bg = one.limits(name), background.limits(name)
        assert fg is not None
        assert bg is not None
        assert fg.params == bg.params  # the thresholds of the final plan (18 series), not of an earlier one
    background.designer.close()


def test_a_declared_alarm_weight_buys_its_series_a_larger_share_and_a_quicker_mean_cusum() -> None:
    """`SignalInfo.alarm_weight` from the birth: the weighted characteristic gets its weight's multiple of the
    part characteristics' share, and its stored mean CUSUM threshold is lower than its unweighted neighbour's."""
    info = MachineInfo(
        machine_type="press",
        sample_interval_s=1.0,
        ideal_cycle_s=20.0,
        signals={"plain": SignalInfo(kind="quality"), "key": SignalInfo(kind="quality", alarm_weight=4.0)},
    )
    names = {s: f"e/p/a/l/press-1/telemetry/{s}" for s in ("plain", "key")}
    mon = MonitorStage(configured={name: Limits(0.0, 1.0) for name in names.values()})
    mon.birth("e/p/a/l/press-1", info)
    mon.observe([Reading(name, 1_000, 0.1) for name in names.values()])
    planner = md.Planner(budget_per_hour=0.5)
    key_facts = md.Facts("quality", 1 / 20.0, True, weight=4.0)
    plain_facts = md.Facts("quality", 1 / 20.0, True)
    plan = planner.plan([key_facts, plain_facts])
    assert plan[planner.group_key(key_facts)].per_hour == 4 * plan[planner.group_key(plain_facts)].per_hour
    key, plain = mon.limits(names["key"]), mon.limits(names["plain"])
    assert key is not None
    assert plain is not None
    assert key.params["h"] < plain.params["h"]


def test_a_slow_part_spends_most_of_its_rate_on_the_mean_cusum_and_other_series_keep_the_default_split() -> None:
    """Slow part characteristics split 70/15/15 (mean CUSUM / variance CUSUM / shock), so their small sustained
    shift is found sooner; process signals and fast parts keep 50/30/20. Each design still adds up to its ARL0."""
    slow = md.design(md.Facts("quality", 1 / 26, True), 1448.0, None)
    signal = md.design(md.Facts("process", 1.0, True), 1448.0, None)
    for d, split in ((slow, md.SLOW_PART_SPLIT), (signal, md.INDIVIDUALS_SPLIT)):
        assert isinstance(d, md.IndividualsDesign)
        total = sum(split.values())
        assert d.mean.arl0 == pytest.approx(d.arl0 / (split["cusum_mean"] / total), rel=0.02)
        assert 1 / d.arl0 == pytest.approx(1 / d.mean.arl0 + 1 / d.variance.arl0 + 1 / d.shock_arl0, rel=1e-9)
    assert slow.mean.h < signal.mean.h  # the same ARL0, more of it for the mean CUSUM: a lower threshold


def test_a_measured_rate_snaps_to_a_fine_grid() -> None:
    for rate in (0.2, 0.2013, 1.0, 9.87, 100.0):
        snapped = md.measured_rate(rate)
        assert abs(snapped / rate - 1) <= 2 ** (1 / 32) - 1 + 1e-12  # half a step of 2^(1/16)
        assert md.measured_rate(snapped) == snapped
    assert md.measured_rate(0.2 * 1.003) == md.measured_rate(0.2 * 0.998) == md.measured_rate(0.2)


def test_undeclared_series_with_jittered_timestamps_share_one_budget_group() -> None:
    """Without a birth the monitor measures each series' rate from its timestamps; jitter must not make every
    series a group of its own (each group costs a plan: 50,000 of them stalled ingestion at the end of phase I)."""
    monitor = MonitorStage(phase1_points=30)
    names = [f"acme/p/a/l/rack-{i:03d}/telemetry/temp" for i in range(60)]
    jitter = itertools.cycle([0, 17, 3, 31, 9, 24, 12])
    for j in range(40):
        ts = 1_700_000_000_000 + j * 5000
        monitor.observe([Reading(n, ts + next(jitter), 48.0 + (j * 7 % 11) / 10) for n in names])
    keys = {monitor.planner.group_key(monitor._facts[n]) for n in names}
    assert len(keys) <= 2, keys
    assert all(monitor.status(n).startswith("charting") for n in names), monitor.status(names[0])
