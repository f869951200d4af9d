"""The live SPC monitor stage: which series it watches, where its limits come from, alarm lifecycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartfactory.errors import ConfigError
from smartfactory.ingest.monitor import MonitorStage, load_limits_file, watch_patterns
from smartfactory.model import LimitsVersion, Reading
from smartfactory.spc import imr
from smartfactory.spc.streaming import Limits
from smartfactory.wire import alarm_id_for

A = "acme/p/a/l/m1/telemetry/diameter"
B = "acme/p/a/l/m1/telemetry/power"


def series(name: str, values: np.ndarray, t0: int = 0) -> list[Reading]:
    return [Reading(name, t0 + i, float(v)) for i, v in enumerate(values)]


def test_learned_limits_equal_the_batch_chart_and_are_versioned() -> None:
    values = np.random.default_rng(5).normal(25.0, 0.01, 80)
    stage = MonitorStage(phase1_points=50, rules="WE1")
    stage.observe(series(A, values))
    (change,) = stage.take_limit_changes()
    batch = imr(values, phase1=50).main
    assert change.series == A
    assert change.version == 1
    assert change.source == "learned"
    assert change.n == 50
    assert change.center == pytest.approx(float(batch.center), rel=1e-12)
    assert change.sigma == pytest.approx(float(batch.sigma), rel=1e-12)
    assert stage.take_limit_changes() == []  # handed over once


def test_only_watched_series_are_charted() -> None:
    stage = MonitorStage(phase1_points=10, rules="WE1", watch=watch_patterns("*/diameter, */fill_*"))
    flat = np.full(20, 1.0)
    stage.observe(series(A, flat) + series(B, flat))
    assert stage.limits(A) is not None
    assert stage.limits(B) is None
    assert watch_patterns("") == ("*",)


def test_configured_limits_win_and_stored_ones_resume_with_their_version() -> None:
    stored = {A: LimitsVersion(A, 4, 0, 10.0, 1.0, 3.0, 50, "learned")}
    configured = {B: Limits(7.5, 0.1)}
    stage = MonitorStage(phase1_points=10, rules="WE1", configured=configured, stored=stored)
    alarms = stage.observe([Reading(A, 1, 14.0), Reading(B, 1, 7.9)])  # both beyond 3σ of their limits
    assert {a.series for a in alarms} == {A, B}
    assert stage.limits(A) == Limits(10.0, 1.0, 3.0, 50, "learned")
    (change,) = stage.take_limit_changes()  # the configured set is recorded as a version; stored A is not new
    assert (change.series, change.version, change.source, change.center) == (B, 1, "configured", 7.5)


def test_one_alarm_per_out_of_control_episode_then_clear() -> None:
    stage = MonitorStage(phase1_points=10, rules="WE1", clear_after_s=3.0, configured={A: Limits(0.0, 1.0)})
    readings = [5.0, 6.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.1]  # out, out, in, out, in ×3 (3 s after: clears), in
    changes = stage.observe([Reading(A, i * 1000, v) for i, v in enumerate(readings)])
    first = alarm_id_for(A, 0)  # a digest of the series and the time: bounded length (issue 13)
    assert [(a.alarm_id, a.active, a.cleared_ms) for a in changes] == [(first, True, None), (first, False, 6000)]
    assert changes[0].rules == ("WE1",)


def test_limits_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.toml"
    path.write_text(
        f'[limits."{A}"]\ncenter = 25.0\nsigma = 0.004\n\n[limits."{B}"]\ncenter = 7\nsigma = 1\nnsigmas = 2\n'
    )
    assert load_limits_file(path) == {A: Limits(25.0, 0.004), B: Limits(7.0, 1.0, 2.0)}
    path.write_text(f'[limits."{A}"]\ncenter = "x"\n')
    with pytest.raises(ConfigError, match="numeric center and sigma"):
        load_limits_file(path)
