"""Any window of stored history gives the same OEE as the simulator's ground truth over that window: the
storage queries pick enough history before `since` (the episode in progress, and what came before a recent
restart). No broker: the simulator's own records are written straight into SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartfactory.kpi import OeeReport
from smartfactory.model import PartResult, StateChange
from smartfactory.plant import load_plant, resolve_plant_file
from smartfactory.query import oee_from_store, oee_inputs
from smartfactory.settings import load_settings
from smartfactory.sim.loader import discover
from smartfactory.sim.truth import simulate_truth
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.query.oee_e2e.conftest import RunOee

HOUR = 3_600_000
T0 = 1_740_978_000_000  # Monday 2025-03-03 05:00 UTC: one hour of night shift, then the early shift


def comparable(report: OeeReport) -> list[dict[str, object]]:
    """Rows without the plant row's name (the command names it after the plant file, the truth "plant")."""
    return [{**row, "name": None} if row["level"] == "plant" else row for row in report.to_dicts()]


@pytest.mark.slow
def test_every_window_matches_the_ground_truth(tmp_path: Path, run_oee: RunOee) -> None:
    settings = load_settings()
    plant = load_plant(resolve_plant_file("default", settings.sim.dir))
    sim, _ = simulate_truth(plant, discover(settings.sim.dir), seed=5, start_ms=T0, duration_s=10 * 3600)
    assert sim.recorder is not None
    end = sim.now_ms
    store = SqliteStorage(f"sqlite:///{tmp_path / 'truth.db'}")
    store.write_states(
        [StateChange(iv.machine, iv.start_ms, iv.state, iv.reason) for iv in sim.recorder.intervals(end)]
    )
    store.write_parts([PartResult(p.machine, p.ts_ms, f"p{i}", p.good) for i, p in enumerate(sim.recorder.parts)])
    for placed in sim.machines:  # what each machine's birth announced, as ingestion stores it
        store.write_machine_info(str(placed.path), T0, placed.info)
    inputs = oee_inputs(store, settings.sim.dir, "default")
    rng = np.random.default_rng(1)
    startups = 0
    try:
        for _ in range(25):
            a, b = sorted(int(x) for x in rng.integers(T0, end, size=2))
            stored = oee_from_store(store, a, b, inputs).report
            truth = sim.ground_truth(a, b)
            assert comparable(stored) == comparable(truth), (format_ts(a), format_ts(b))
            startups += truth.plant.startup_scrap_count
    finally:
        store.close()
    assert startups > 0  # some windows hold start-up scrap, so the look-back is exercised
    # and through the command line, once
    since, until = T0 + 3 * HOUR + 17 * 60_000, T0 + 7 * HOUR
    doc = run_oee("--store", store.url, "--since", format_ts(since), "--until", format_ts(until))
    assert [{**r, "name": None} if r["level"] == "plant" else r for r in doc["rows"]] == comparable(
        sim.ground_truth(since, until)
    )
