"""The commands around the exercises: list, seeds per student, sheets and templates, the results table, errors."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from smartfactory.exercises.catalogue import EXERCISES
from smartfactory.exercises.grading import append_result, read_results
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.seeds import student_seed
from tests.exercises.conftest import STUDENT, Started, invoke, write_answers

#: every fact a sheet may show
FACTS = ("since", "until", "machine", "characteristic", "series", "parts", "tolerance_s", "shift", "plant", "budget",
         "detect_within_min", "mqtt_url", "client_id", "duration", "speed", "truth_file", "endpoint")  # fmt: skip


def test_list_names_every_exercise_with_topic_and_needs() -> None:
    code, out, _ = invoke("exercise", "list")
    assert code == 0
    for name in ("fault-hunt", "capability", "oee-shift", "alarm-budget", "lossless", "opcua-bridge"):
        assert name in out
    assert out.count("topic:") == len(EXERCISES)
    assert out.count("needs:") == len(EXERCISES)


def test_seeds_differ_per_student_and_reproduce() -> None:
    seeds = {student_seed(11, f"student-{i:02d}") for i in range(40)}
    assert len(seeds) == 40
    assert student_seed(11, "student-07") == student_seed(11, "student-07")
    assert student_seed(11, "student-07") != student_seed(12, "student-07")
    assert student_seed(11, None) == 11


def test_sheets_and_templates_are_complete(tmp_path: Path) -> None:
    for exercise in EXERCISES.values():
        facts = dict.fromkeys(FACTS, "X")
        manifest = Manifest(exercise.name, STUDENT, 11, 5, "2026-01-05T00:00:00Z", "sqlite:///x.db", facts)
        sheet = exercise.sheet(manifest, tmp_path)
        assert "$" not in sheet.replace("$ ", ""), f"{exercise.name}: a placeholder is not filled"
        assert sheet.startswith(f"# Exercise {exercise.name}")
        parsed = tomllib.loads(exercise.template(manifest))
        assert parsed["exercise"] == {"name": exercise.name, "student": STUDENT}
        assert set(parsed["answers"]) >= {key for key, _, _ in exercise.answers}


def test_the_results_table(tmp_path: Path) -> None:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    append_result(tmp_path, "student-01", "capability", 1 / 3, at)
    append_result(tmp_path, "student-01", "capability", 1.0, at)
    append_result(tmp_path, "student-02", "fault-hunt", 0.5, at)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0] == "username,exercise,score,checked_at"
    assert lines[1] == "student-01,capability,0.33,2026-01-05T09:00:00Z"
    assert [r.score for r in read_results(tmp_path)] == [0.33, 1.0, 0.5]
    code, out, _ = invoke("exercise", "results", "--dir", str(tmp_path))
    assert code == 0
    header, first, second = out.splitlines()
    assert header.split() == ["student", "capability", "fault-hunt"]
    assert first.split() == ["student-01", "1.00", "(2×)", "—"]
    assert second.split() == ["student-02", "—", "0.50", "(1×)"]


def test_results_without_any_check_is_an_error(tmp_path: Path) -> None:
    code, _, err = invoke("exercise", "results", "--dir", str(tmp_path))
    assert code == 1
    assert "no results" in err


def test_check_before_start_and_for_another_exercise_explain(tmp_path: Path, started: Started, class_dir: Path) -> None:
    answers = write_answers(tmp_path, "capability", {"cp": 1.0})
    code, _, err = invoke("exercise", "check", "capability", "--answers", str(answers), "--dir", str(tmp_path))
    assert code == 1
    assert "exercise start" in err
    started("fault-hunt")
    code, _, err = invoke("exercise", "check", "fault-hunt", "--answers", str(answers), "--dir", str(class_dir))
    assert code == 1
    assert "answers exercise 'capability', not 'fault-hunt'" in err
    code, _, err = invoke("exercise", "start", "nonsense", "--dir", str(tmp_path))
    assert code == 1
    assert "no exercise 'nonsense'" in err


def test_every_check_is_logged(started: Started, class_dir: Path) -> None:
    started("fault-hunt")
    folder = class_dir / STUDENT / "fault-hunt"
    before = len(read_results(class_dir))
    code, _, _ = invoke("exercise", "check", "fault-hunt", "--answers",
                        str(write_answers(folder, "fault-hunt", {"machine": "cnc-01"}, "log.toml")),
                        "--dir", str(class_dir))  # fmt: skip
    assert code == 1
    rows = read_results(class_dir)
    assert len(rows) == before + 1
    assert (rows[-1].username, rows[-1].exercise) == (STUDENT, "fault-hunt")
