"""The budget planner: a growing plant needs few distinct plans, and every plan keeps within the budget."""

from __future__ import annotations

import itertools

from smartfactory.ingest import monitor_design as md


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
