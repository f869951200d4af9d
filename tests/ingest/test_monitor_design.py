"""The budget planner: a growing plant needs few distinct plans, and every plan keeps within the budget."""

from __future__ import annotations

import itertools

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
    share = [p[("process", 1.0, 1)].per_hour for p in plans]
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
