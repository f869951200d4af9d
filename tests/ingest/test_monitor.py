"""The live monitor stage: detector by signal kind, limits versions, gating, state and data-quality alarms,
episodes that escalate, and the old WE design as an option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smartfactory.errors import ConfigError
from smartfactory.ingest.monitor import MonitorStage, load_limits_file, watch_patterns
from smartfactory.model import Alarm, LimitsVersion, Reading, StateChange
from smartfactory.spc import imr
from smartfactory.spc.streaming import Limits
from smartfactory.wire import STATE_ALARM_SENSOR, MachineInfo, SignalInfo, alarm_class, alarm_id_for

M = "acme/p/a/l/m1"
TEMP, DIAM, REJ, FILL = (f"{M}/telemetry/{n}" for n in ("temp", "diameter", "rejects", "fill"))
STATE = f"{M}/telemetry/{STATE_ALARM_SENSOR}"
INFO = MachineInfo(
    machine_type="test",
    ideal_cycle_s=30.0,
    sample_interval_s=1.0,
    signals={
        "temp": SignalInfo(kind="process", decimals=3),
        "diameter": SignalInfo(kind="quality", decimals=4, lsl=24.9, usl=25.1),
        "rejects": SignalInfo(kind="count", decimals=0, interval_s=60.0),
    },
)
SMALL = {"phase1_points": 100, "warmup_s": 30.0}  # a phase I below 300 points: designs without the variance CUSUM


def stage(**kwargs: object) -> MonitorStage:
    return MonitorStage(**{"infos": {M: INFO}, "record_events": True, **SMALL, **kwargs})  # type: ignore[arg-type]


def readings(series: str, values: np.ndarray, t0_ms: int = 0, step_ms: int = 1000) -> list[Reading]:
    return [Reading(series, t0_ms + i * step_ms, float(v)) for i, v in enumerate(values)]


def noise(n: int, seed: int, mean: float = 10.0, sd: float = 0.1, decimals: int = 3) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(mean, sd, n), decimals)


def active(alarms: list[Alarm]) -> list[Alarm]:
    return [a for a in alarms if a.active]


def test_each_kind_gets_its_detector_and_a_versioned_limits_record() -> None:
    mon = stage()
    mon.observe(readings(TEMP, noise(100, 1)))
    mon.observe(readings(REJ, np.zeros(30), step_ms=60_000))
    versions = {v.series: v for v in mon.take_limit_changes()}
    temp, rejects = versions[TEMP], versions[REJ]
    assert (temp.detector, temp.source, temp.n, temp.version) == ("individuals", "learned", 100, 1)
    # phase I keeps float32 offsets from its first reading (compact): exact to ~1e-7 of the deviations
    assert temp.center == pytest.approx(float(np.mean(noise(100, 1))), rel=1e-12)
    assert temp.sigma == pytest.approx(float(np.std(noise(100, 1), ddof=1)), rel=1e-12)
    assert temp.nsigmas == temp.params["shock"] > 3.5  # the shock limit is what a Shewhart view draws
    assert {"k", "h", "shock", "phi", "sigma_e"} <= set(temp.params)
    assert "h_var" not in temp.params  # a 100-point phase I cannot hold a variance CUSUM to a budget
    assert rejects.detector == "poisson"  # a count: a c chart, never run rules
    assert rejects.params["rate"] == pytest.approx(0.5 / 30)  # (Σc + ½)/n: a phase I of zeros is not λ = 0
    assert rejects.ucl == pytest.approx(rejects.params["limit"])
    assert mon.limits(TEMP) == temp
    assert mon.take_limit_changes() == []  # handed over once
    assert mon.status(TEMP).startswith("charting")
    assert mon.status(DIAM) == "not seen"


def test_a_count_is_never_charted_with_run_rules() -> None:
    mon = stage()
    mon.observe(readings(REJ, np.zeros(30), step_ms=60_000))
    quiet = np.zeros(200)  # 0 rejects a minute for ever: no run of 8 below any centre line is an alarm
    assert mon.observe(readings(REJ, quiet, t0_ms=30 * 60_000, step_ms=60_000)) == []
    burst = mon.observe([Reading(REJ, 300 * 60_000, 3.0)])
    assert [a.rules for a in burst] == [("poisson",)]


def test_a_birth_declares_the_kind_and_series_without_one_are_process_signals() -> None:
    mon = MonitorStage(**SMALL)  # type: ignore[arg-type]
    other = "acme/p/a/l/m2/telemetry/counts"
    mon.observe(readings(other, noise(100, 11, 3.0, 1.0, 0)))
    assert mon.limits(other) is not None
    assert mon.limits(other).detector == "individuals"  # type: ignore[union-attr]
    mon.birth(M, INFO)
    mon.observe(readings(REJ, np.zeros(30), step_ms=60_000))
    assert mon.limits(REJ).detector == "poisson"  # type: ignore[union-attr]


def test_births_share_the_budget_and_move_the_thresholds_of_charting_series() -> None:
    mon = stage()
    mon.observe(readings(TEMP, noise(100, 2)))
    (first,) = mon.take_limit_changes()
    bigger = MachineInfo(
        machine_type="test", sample_interval_s=1.0, signals={f"s{i}": SignalInfo(kind="process") for i in range(30)}
    )
    mon.birth("acme/p/a/l/m9", bigger)  # 30 more process signals share the process budget
    mon.observe([Reading(TEMP, 200_000, 10.0)])
    (second,) = mon.take_limit_changes()
    assert (second.version, second.center) == (2, first.center)
    assert second.params["h"] > first.params["h"]  # a smaller share: higher thresholds


def test_stored_limits_resume_and_configured_ones_win() -> None:
    mon = stage()
    mon.observe(readings(TEMP, noise(100, 3)))
    (learned,) = mon.take_limit_changes()
    again = stage(stored={TEMP: learned}, configured={DIAM: Limits(25.0, 0.004)})
    again.observe([Reading(TEMP, 500_000, 10.0), Reading(DIAM, 500_000, 25.0)])
    (changed,) = again.take_limit_changes()  # the stored version goes on unchanged; the configured one is new
    assert (changed.series, changed.version, changed.source, changed.n) == (DIAM, 1, "configured", 0)
    assert (changed.center, changed.sigma) == (25.0, 0.004)
    assert again.limits(TEMP) == learned
    far = again.observe([Reading(DIAM, 530_000, 25.1)])  # 25σ off the configured centre
    assert [a.rules[0] for a in active(far)] == ["shock"]


def test_limits_set_before_the_first_reading_start_with_it() -> None:
    mon = stage(configured={TEMP: Limits(10.0, 0.1)})  # armed at the birth, before anything was read
    assert mon.take_limit_changes() == []
    mon.observe([Reading(TEMP, 7000, 10.0)])
    (version,) = mon.take_limit_changes()
    assert (version.version, version.ts_ms, version.source) == (1, 7000, "configured")


def test_an_alarm_raises_once_per_episode_and_clears_after_the_quiet_period() -> None:
    mon = stage(clear_after_s=10.0, clear_after_points=20, configured={TEMP: Limits(10.0, 0.1)})
    values = [*noise(5, 4), 12.0, 12.05, 12.1, *noise(40, 5)]
    out = mon.observe(readings(TEMP, np.array(values)))
    raised = active(out)
    assert len(raised) == 1  # three shocks in a row: one alarm
    assert raised[0].alarm_id == alarm_id_for(TEMP, 5000)
    assert raised[0].rules[0] == "shock"
    assert alarm_class(raised[0].rules) == "spc"
    (clear,) = [a for a in out if not a.active]
    assert clear.alarm_id == raised[0].alarm_id
    assert clear.cleared_ms == 7000 + 20_000  # 20 points (20 s) after the last detection


def test_a_new_detector_or_a_larger_deviation_escalates_an_active_alarm() -> None:
    mon = stage(clear_after_points=200)
    mon.observe(readings(TEMP, noise(100, 5)))  # phase I of 100: mean CUSUM and shock (no variance CUSUM)
    shifted = noise(80, 6, mean=10.1)  # a 1σ shift: the mean CUSUM signals, the shock does not
    first = active(mon.observe(readings(TEMP, shifted, t0_ms=100_000)))
    assert [a.rules for a in first] == [("cusum_mean",)]
    again = mon.observe(readings(TEMP, noise(80, 7, mean=10.1), t0_ms=180_000))  # the same shift again: no news
    assert again == []
    jump = mon.observe([Reading(TEMP, 270_000, 11.0)])  # a 10σ shock on the series in alarm: escalated
    cleared, raised = jump
    assert (cleared.alarm_id, cleared.active, cleared.cleared_ms) == (first[0].alarm_id, False, 270_000)
    assert (raised.active, raised.rules[0], raised.alarm_id) == (True, "shock", alarm_id_for(TEMP, 270_000))
    assert raised.message.startswith("escalated")
    assert set(mon.active()) == {TEMP}
    bigger = active(mon.observe(readings(TEMP, noise(40, 8, mean=10.4), t0_ms=271_000)))  # 4σ: a larger shift
    assert 1 <= len(bigger) <= 2  # news once (the estimated shift k + C/N is coarse while N is a few points)
    assert {a.rules[0] for a in bigger} == {"cusum_mean"}
    assert "a larger deviation" in bigger[0].message
    kinds = [e.kind for e in mon.take_events()]
    assert kinds[:3] == ["raise", "clear", "escalate"]
    assert kinds.count("raise") == 1  # one episode throughout


def test_nothing_is_charted_while_the_machine_is_stopped_or_warming_up() -> None:
    mon = stage(configured={TEMP: Limits(10.0, 0.1)})
    assert mon.states([StateChange(M, 0, "running")]) == []
    assert mon.observe(readings(TEMP, noise(10, 9))) == []
    down = mon.states([StateChange(M, 10_000, "down", "breakdown")])
    assert [(a.series, a.rules, a.ts_ms, a.active) for a in down] == [(STATE, ("state",), 10_000, True)]
    assert alarm_class(down[0].rules) == "state"
    stopped = readings(TEMP, np.full(20, 3.0), t0_ms=10_000)  # a cold, constant machine: neither SPC nor stuck
    assert mon.observe(stopped) == []
    up = mon.states([StateChange(M, 30_000, "running")])
    assert [(a.alarm_id, a.active, a.cleared_ms) for a in up] == [(down[0].alarm_id, False, 30_000)]
    warming = readings(TEMP, noise(29, 10, mean=9.0), t0_ms=30_000)  # 10σ low for the 30 s warm-up: not charted
    assert mon.observe(warming) == []
    after = mon.observe([Reading(TEMP, 61_000, 9.0)])
    assert [a.rules[0] for a in active(after)] == ["shock"]


def test_a_declared_time_constant_holds_charting_until_the_signal_has_settled() -> None:
    info = INFO.model_copy(update={"signals": {"temp": SignalInfo(kind="process", decimals=3, tau_s=100.0)}})
    mon = MonitorStage(infos={M: info}, configured={TEMP: Limits(10.0, 0.1)}, **SMALL)  # type: ignore[arg-type]
    mon.states([StateChange(M, 0, "running")])
    mon.observe(readings(TEMP, noise(5, 12)))
    mon.states([StateChange(M, 5_000, "idle")])
    mon.observe([Reading(TEMP, 6_000, 8.0)])  # 20σ below while stopped
    mon.states([StateChange(M, 7_000, "running")])
    # settles below 0.25σ after τ·ln(20/0.25) = 438 s: a reading 5σ off at 400 s is not charted, at 450 s it is
    assert active(mon.observe([Reading(TEMP, 407_000, 10.5)])) == []
    assert active(mon.observe([Reading(TEMP, 457_000, 10.5)])) != []


def test_a_small_deficit_at_the_restart_still_holds_a_signal_with_a_time_constant() -> None:
    info = INFO.model_copy(update={"signals": {"temp": SignalInfo(kind="process", decimals=3, tau_s=100.0)}})
    mon = MonitorStage(infos={M: info}, configured={TEMP: Limits(10.0, 0.1)}, **SMALL)  # type: ignore[arg-type]
    mon.states([StateChange(M, 0, "running")])
    mon.observe(readings(TEMP, noise(5, 12)))
    mon.states([StateChange(M, 5_000, "down", "jam")])
    mon.observe(readings(TEMP, noise(20, 13, mean=9.8), t0_ms=6_000))  # 2σ low (an EWMA of the 20, not one)
    mon.states([StateChange(M, 26_000, "running")])
    # τ·ln(2/0.25) ≈ 208 s, not the 30 s of a signal without a time constant
    assert active(mon.observe([Reading(TEMP, 126_000, 10.5)])) == []
    assert active(mon.observe([Reading(TEMP, 256_000, 10.5)])) != []


def test_part_characteristics_wait_until_the_machine_has_warmed_up() -> None:
    # a cold spindle cuts off-centre parts: start-up scrap, a known cause, not a special one to alarm on
    signals = {**INFO.signals, "temp": SignalInfo(kind="process", decimals=3, tau_s=100.0)}
    info = INFO.model_copy(update={"signals": signals})
    limits = {TEMP: Limits(10.0, 0.1), DIAM: Limits(25.0, 0.01)}
    mon = MonitorStage(infos={M: info}, configured=limits, record_events=True, **SMALL)  # type: ignore[arg-type]
    mon.states([StateChange(M, 0, "running")])
    mon.observe(readings(TEMP, noise(5, 12)))
    mon.states([StateChange(M, 5_000, "idle")])
    mon.observe([Reading(TEMP, 6_000, 8.0)])  # 20σ below while stopped
    mon.states([StateChange(M, 7_000, "running")])
    mon.observe([Reading(TEMP, 8_000, 8.1)])
    # parts wait until the temperature is within 1σ: τ·ln(20/1) ≈ 300 s (the temperature itself 438 s)
    assert active(mon.observe([Reading(DIAM, 200_000, 25.1)])) == []
    assert "diameter" in active(mon.observe([Reading(DIAM, 310_000, 25.1)]))[0].series
    assert active(mon.observe([Reading(TEMP, 400_000, 10.5)])) == []


def test_stops_escalate_and_planned_work_is_no_alarm() -> None:
    mon = stage()
    idle = mon.states([StateChange(M, 1000, "idle")])
    down = mon.states([StateChange(M, 2000, "down", "breakdown")])  # worse: escalated
    assert [a.active for a in idle] == [True]
    assert [(a.active, a.ts_ms) for a in down] == [(False, 1000), (True, 2000)]
    assert mon.states([StateChange(M, 2000, "down", "breakdown")]) == []  # a redelivery
    assert [a.active for a in mon.states([StateChange(M, 3000, "running")])] == [False]
    assert mon.states([StateChange(M, 4000, "down", "tool_change")]) == []
    assert mon.states([StateChange(M, 5000, "setup", "changeover")]) == []


def test_stuck_silent_and_dropout_are_data_quality_alarms() -> None:
    mon = stage()
    mon.states([StateChange(M, 0, "running")])
    base = noise(100, 5)
    mon.observe(readings(TEMP, base))
    stuck = mon.observe(readings(TEMP, np.full(12, 10.0), t0_ms=100_000))
    assert [(a.rules, alarm_class(a.rules)) for a in active(stuck)] == [(("stuck",), "data_quality")]
    moving = mon.observe([Reading(TEMP, 112_000, 10.05)])  # a new value: the sensor is alive again
    assert [a.active for a in moving] == [False]
    # silent: the machine goes on reporting its other sensor, this one says nothing (the machine's own clock)
    other = f"{M}/telemetry/other"
    mon.observe(readings(other, noise(300, 6), t0_ms=100_000))
    silent = mon.tick(1)  # the declared count sensor never spoke at all: silent too (after 5 × 60 s)
    assert sorted((a.series, a.rules) for a in active(silent)) == [(REJ, ("silent",)), (TEMP, ("silent",))]
    assert mon.tick(2) == []  # once per second of the caller's clock, and once per silence
    assert [a.active for a in mon.observe([Reading(TEMP, 400_500, 10.0)])] == [False]
    # dropout: 30 % or more of a 60-interval window missing
    gappy = [Reading(TEMP, 401_000 + i * 1000, float(v)) for i, v in enumerate(noise(400, 7)) if i % 2]
    out = active(mon.observe(gappy))
    assert out
    assert {a.rules[0] for a in out} == {"dropout"}


def test_an_autocorrelated_signal_is_charted_on_its_residuals() -> None:
    rng = np.random.default_rng(8)
    x = np.empty(2000)
    x[0] = 0.0
    for t in range(1, 2000):
        x[t] = 0.7 * x[t - 1] + rng.normal(0, 0.07)
    mon = stage(phase1_points=500)
    out = mon.observe(readings(TEMP, np.round(10 + x, 3)))
    version = mon.limits(TEMP)
    assert version is not None
    assert version.params["residuals"] == 1.0
    assert version.params["phi"] == pytest.approx(0.7, abs=0.08)
    assert "AR(1) residuals" in mon.status(TEMP)
    assert active(out) == []  # 1,500 readings of the same process: no alarm


def test_the_we_option_is_the_old_individuals_chart() -> None:
    values = np.random.default_rng(5).normal(25.0, 0.01, 80)
    mon = MonitorStage(detector="we", phase1_points=50, rules="WE1")
    mon.observe(readings(DIAM, values))
    (change,) = mon.take_limit_changes()
    chart = imr(values, phase1=50).main
    assert (change.detector, change.source, change.n) == ("imr", "learned", 50)
    assert change.center == pytest.approx(float(chart.center), rel=1e-12)
    assert change.sigma == pytest.approx(float(chart.sigma), rel=1e-12)
    out = mon.observe([Reading(DIAM, 100_000, change.ucl + 0.01)])
    assert [a.rules for a in active(out)] == [("WE1",)]


def test_only_watched_series_are_charted() -> None:
    mon = MonitorStage(watch=watch_patterns("*/diameter, */fill*"), **SMALL)  # type: ignore[arg-type]
    mon.observe(readings(DIAM, noise(100, 9, 25.0, 0.004, 4)) + readings(TEMP, noise(100, 9)))
    assert mon.limits(DIAM) is not None
    assert mon.limits(TEMP) is None
    assert mon.status(TEMP) == "not watched"
    assert watch_patterns("") == ("*",)


def test_redelivered_and_late_readings_are_skipped_and_odd_series_ids_work() -> None:
    mon = MonitorStage(configured={"s": Limits(0.0, 1.0)}, **SMALL)  # type: ignore[arg-type]
    first = mon.observe([Reading("s", 1000, 10.0)])
    assert [a.rules[0] for a in active(first)] == ["shock"]
    assert mon.observe([Reading("s", 1000, 10.0), Reading("s", 500, 10.0)]) == []


def test_limits_file(tmp_path: Path) -> None:
    path = tmp_path / "limits.toml"
    path.write_text(
        f'[limits."{DIAM}"]\ncenter = 25.0\nsigma = 0.004\n\n[limits."{TEMP}"]\ncenter = 7\nsigma = 1\nnsigmas = 2\n'
    )
    assert load_limits_file(path) == {DIAM: Limits(25.0, 0.004), TEMP: Limits(7.0, 1.0, 2.0)}
    path.write_text(f'[limits."{DIAM}"]\ncenter = "x"\n')
    with pytest.raises(ConfigError, match="numeric center and sigma"):
        load_limits_file(path)


def test_the_shipped_limits_file_holds_the_declared_values() -> None:
    shipped = load_limits_file(Path(__file__).resolve().parents[2] / "simulators" / "limits" / "default.toml")
    diameter = shipped["acme/plant1/machining/line-1/cnc-01/telemetry/diameter"]
    assert (diameter.center, diameter.sigma) == (25.0, 0.004)
    assert all(isinstance(v, Limits) for v in shipped.values())
    assert LimitsVersion  # the record the monitor stores them as


def test_limits_versions_and_fault_affects_survive_the_store_and_the_spool(tmp_path: Path) -> None:
    from smartfactory.ingest import batch as records
    from smartfactory.ingest.decode import Decoder
    from smartfactory.model import FaultEvent
    from smartfactory.storage.sqlite import SqliteStorage

    mon = stage()
    mon.observe(readings(TEMP, noise(100, 3)))
    (version,) = mon.take_limit_changes()
    decoded = Decoder().decode(
        f"{M}/event", b'{"kind":"fault","fault":"tool_wear","ts":5000,"affects":["diameter","power"]}', 6000
    )
    (event,) = decoded.events  # type: ignore[union-attr]
    assert event == FaultEvent(M, 5000, "fault", "tool_wear", None, {}, ("diameter", "power"))
    spooled = records.decode(records.encode(records.Batch(limits=[version], events=[event])))
    assert (spooled.limits, spooled.events) == ([version], [event])
    store = SqliteStorage(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.write_limits([version])
        store.write_events([event])
        assert store.read_limits() == [version]
        assert store.read_events() == [event]
    finally:
        store.close()
