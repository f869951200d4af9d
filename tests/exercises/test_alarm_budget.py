"""alarm-budget: settings found here by replaying the stored run (the public `replay_monitor` and
`query.detection` pairing) pass; out-of-range settings fail with an explanation."""

from __future__ import annotations

from pathlib import Path

from smartfactory.exercises.replay import MonitorSettings, replay_monitor, shipped_limits
from smartfactory.query.detection import detection_report
from smartfactory.settings import load_settings
from smartfactory.storage import open_store
from smartfactory.wire import parse_ts
from tests.exercises.conftest import STUDENT, Started, check, items, write_answers


def _meets(store_url: str, budget: float, since_ms: int, allowed: int, within_s: float) -> bool:
    store = open_store(store_url)
    try:
        alarms = replay_monitor(store, MonitorSettings(budget_per_hour=budget),
                                configured=shipped_limits(load_settings().sim.dir, "default"))  # fmt: skip
        report = detection_report(store.read_events(), [a for a in alarms if a.ts_ms >= since_ms])
    finally:
        store.close()
    shift = next(d for d in report.detections if d.episode.fault == "shift")
    return len(report.false_alarms) <= allowed and shift.delay_ms is not None and shift.delay_ms <= within_s * 1000


def test_settings_that_meet_the_budget_pass(started: Started, class_dir: Path) -> None:
    manifest = started("alarm-budget")
    facts = manifest.facts
    since, allowed = parse_ts(str(facts["since"])), int(facts["budget"])
    within_s = float(facts["detect_within_min"]) * 60
    budget = next(b for b in (1.5, 0.5, 0.15, 0.05, 0.015) if _meets(manifest.store, b, since, allowed, within_s))
    folder = class_dir / STUDENT / "alarm-budget"
    code, verdict = check(class_dir, "alarm-budget", write_answers(folder, "alarm-budget", {"budget_per_hour": budget}))
    assert code == 0, verdict
    assert items(verdict)["false_alarms"]["given"] <= allowed


def test_impossible_settings_fail_with_an_explanation(started: Started, class_dir: Path) -> None:
    started("alarm-budget")
    folder = class_dir / STUDENT / "alarm-budget"
    answers = write_answers(folder, "alarm-budget", {"budget_per_hour": 0, "warmup_s": -5}, "wrong.toml")
    code, verdict = check(class_dir, "alarm-budget", answers)
    assert code == 1
    found = items(verdict)
    assert "from 0.0001 to 10" in found["budget_per_hour"]["explanation"]
    assert "from 0 to 3600" in found["warmup_s"]["explanation"]
