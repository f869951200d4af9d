"""fault-hunt: the right answer (from the seed's scenario, independently of the recorded truth) passes; wrong ones
fail with an explanation; the store the student gets holds no ground-truth event."""

from __future__ import annotations

from pathlib import Path

from smartfactory.exercises.catalogue import get
from smartfactory.storage import open_store
from smartfactory.wire import format_ts
from tests.exercises.conftest import STUDENT, Started, check, items, write_answers


def _right(manifest_seed: int) -> dict[str, str]:
    plan = get("fault-hunt").plan(manifest_seed)
    assert plan is not None
    assert len(plan.faults) == 1
    fault = plan.faults[0]
    began = plan.start_ms + round(fault.at_s * 1000) + 20_000  # 20 s late: inside the ±60 s
    return {"machine": fault.machine, "sensor": str(fault.sensor), "fault": str(fault.fault), "began": format_ts(began)}


def test_the_store_hides_the_fault_but_holds_the_data(started: Started) -> None:
    manifest = started("fault-hunt")
    store = open_store(manifest.store)
    try:
        assert store.read_events() == []
        assert store.count_readings() > 50_000
        assert store.read_machine_info()
    finally:
        store.close()


def test_right_answer_passes(started: Started, class_dir: Path) -> None:
    manifest = started("fault-hunt")
    folder = class_dir / STUDENT / "fault-hunt"
    code, verdict = check(class_dir, "fault-hunt", write_answers(folder, "fault-hunt", _right(manifest.seed)))
    assert code == 0, verdict
    assert verdict["passed"]
    assert verdict["score"] == 1.0


def test_wrong_answers_fail_with_explanations(started: Started, class_dir: Path) -> None:
    manifest = started("fault-hunt")
    folder = class_dir / STUDENT / "fault-hunt"
    right = _right(manifest.seed)
    other_kind = next(k for k in ("shift", "variance", "stuck") if k != right["fault"])
    late = format_ts(get("fault-hunt").plan(manifest.seed).start_ms + 10_000_000)  # type: ignore[union-attr]
    wrong = {**right, "fault": other_kind, "began": late}
    code, verdict = check(class_dir, "fault-hunt", write_answers(folder, "fault-hunt", wrong, "wrong.toml"))
    assert code == 1
    found = items(verdict)
    assert found["machine"]["correct"]
    assert found["sensor"]["correct"]
    assert not found["fault"]["correct"]
    assert f"not a {other_kind}" in found["fault"]["explanation"]
    assert not found["began"]["correct"]
    assert "the onset" in found["began"]["explanation"]
    assert verdict["score"] == 0.5


def test_each_student_gets_another_fault_or_time() -> None:
    exercise = get("fault-hunt")
    from smartfactory.exercises.seeds import student_seed

    plans = [exercise.plan(student_seed(11, f"student-{i:02d}")) for i in range(8)]
    assert len({(p.faults[0].machine, p.faults[0].sensor, p.faults[0].at_s) for p in plans if p}) == 8
    assert exercise.plan(student_seed(11, "student-03")) == exercise.plan(student_seed(11, "student-03"))
