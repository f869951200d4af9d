"""End to end (issue 8): the simulator runs a shift as fast as it can with a fixed seed, publishing through a
real mosquitto; `smartfactory ingest` stores it in SQLite; `smartfactory oee` computes OEE from the stored
data. It must match the simulator's own ground truth (`simulate --truth`) to within 0.1 percentage point for
every machine, line and the plant, for the whole window and each shift in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smartfactory.services import RunningIngest, start_simulator
from smartfactory.settings import Settings
from smartfactory.sim.truth import write_truth
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.conftest import wait_until
from tests.query.oee_e2e.conftest import RunOee

T0 = 1_740_978_000_000  # Monday 2025-03-03 05:00 UTC: the end of the night shift, then the early shift
SHIFT_S = 8 * 3600
TOLERANCE_PP = 0.1
RATIOS = ("availability", "performance", "quality", "oee")

Key = tuple[str, str, str | None]


def keyed(rows: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """Rows by (level, name, shift); the plant row's name differs (plant file name vs "plant"): drop it."""
    return {(r["level"], "" if r["level"] == "plant" else r["name"], r["shift"]): r for r in rows}


def max_deviation_pp(stored: list[dict[str, Any]], truth: list[dict[str, Any]]) -> float:
    """Largest |stored − truth| of A, P, Q and OEE over all rows, in percentage points; asserts both have the
    same rows, the same definedness and the same part counts."""
    ours, theirs = keyed(stored), keyed(truth)
    assert ours.keys() == theirs.keys()
    worst = 0.0
    for key, row in theirs.items():
        mine = ours[key]
        assert (mine["total_count"], mine["good_count"]) == (row["total_count"], row["good_count"]), key
        for ratio in RATIOS:
            assert (mine[ratio] is None) == (row[ratio] is None), (key, ratio)
            if row[ratio] is not None:
                worst = max(worst, 100 * abs(mine[ratio] - row[ratio]))
    return worst


def stored_counts(url: str) -> tuple[int, int]:
    store = SqliteStorage(url)
    try:
        return len(store.read_states()), len(store.read_parts())
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.integration
def test_stored_oee_matches_ground_truth_in_process(
    e2e_settings: Settings, e2e_ingest: RunningIngest, run_oee: RunOee, tmp_path: Path
) -> None:
    running = start_simulator(e2e_settings, duration_s=SHIFT_S, speed=0, seed=11, start_ms=T0, record_truth=True)
    try:
        assert running.thread is not None
        running.thread.join(120)
        assert not running.thread.is_alive()
        assert running.error is None
        recorder = running.simulation.recorder
        assert recorder is not None
        n_parts = len(recorder.parts)
        assert wait_until(lambda: stored_counts(e2e_settings.store)[1] >= n_parts, timeout=60)
        truth_file = tmp_path / "truth.json"
        write_truth(truth_file, running.simulation, running.stats.live_start_ms)  # what `simulate --truth` writes
    finally:
        running.stop()
    truth = json.loads(truth_file.read_text())
    assert (truth["since_ms"], truth["until_ms"]) == (T0, T0 + SHIFT_S * 1000)
    doc = run_oee("--store", e2e_settings.store, "--since", format_ts(T0), "--until", format_ts(truth["until_ms"]))
    assert {r["shift"] for r in doc["rows"]} == {None, "night 2025-03-02", "early 2025-03-03"}
    assert len(doc["rows"]) == len(truth["rows"]) == 3 * (4 + 2 + 1)
    deviation = max_deviation_pp(doc["rows"], truth["rows"])
    print(f"largest deviation from the ground truth: {deviation:.2e} pp over {len(doc['rows'])} rows")
    assert deviation <= TOLERANCE_PP
    plant = keyed(doc["rows"])[("plant", "", None)]
    assert plant["total_count"] > 20_000  # a real shift was simulated and stored, not an empty one
    assert 0.5 < plant["oee"] < 1.0
    # a window that starts and ends inside episodes
    since, until = T0 + 97 * 60_000, T0 + 6 * 3_600_000 + 11 * 60_000
    part = run_oee("--store", e2e_settings.store, "--since", format_ts(since), "--until", format_ts(until))
    window_truth = running.simulation.ground_truth(since, until).to_dicts()
    assert max_deviation_pp(part["rows"], window_truth) <= TOLERANCE_PP


@pytest.mark.slow
@pytest.mark.integration
def test_stored_oee_matches_simulate_truth_file(
    e2e_settings: Settings, e2e_ingest: RunningIngest, run_oee: RunOee, tmp_path: Path
) -> None:
    """The same through the real command line: `smartfactory simulate --speed 0 --duration 8h --truth`."""
    truth_file = tmp_path / "truth.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartfactory",
            "simulate",
            "--mqtt-url",
            e2e_settings.mqtt_url,
            "--seed",
            "7",
            "--speed",
            "0",
            "--duration",
            "8h",
            "--truth",
            str(truth_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    truth = json.loads(truth_file.read_text())
    plant_truth = keyed(truth["rows"])[("plant", "", None)]
    assert wait_until(lambda: stored_counts(e2e_settings.store)[1] >= plant_truth["total_count"], timeout=60)
    doc = run_oee(
        "--store", e2e_settings.store, "--since", format_ts(truth["since_ms"]), "--until", format_ts(truth["until_ms"])
    )
    deviation = max_deviation_pp(doc["rows"], truth["rows"])
    print(f"largest deviation from `simulate --truth`: {deviation:.2e} pp over {len(doc['rows'])} rows")
    assert deviation <= TOLERANCE_PP
    assert keyed(doc["rows"])[("plant", "", None)]["total_count"] > 20_000
