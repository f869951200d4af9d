"""`start` and `check` of one exercise: make the data and the files, judge an answers file, log the result."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from smartfactory.errors import ConfigError
from smartfactory.exercises import catalogue
from smartfactory.exercises.grading import Verdict, append_result, load_answers
from smartfactory.exercises.layout import (
    ANSWERS,
    SHEET,
    STORE,
    Manifest,
    check_student,
    read_truth,
    store_url,
    work_dir,
    write_truth,
)
from smartfactory.exercises.produce import produce
from smartfactory.exercises.seeds import DEFAULT_CLASS_SEED, student_seed


@dataclass(frozen=True)
class Started:
    folder: Path
    manifest: Manifest
    seconds: float


def start(name: str, root: Path, *, class_seed: int | None = None, student: str | None = None) -> Started:
    """Make exercise `name`'s data, sheet, answers template, manifest and truth under ROOT/[STUDENT/]NAME."""
    exercise = catalogue.get(name)
    who = check_student(student)
    the_class_seed = DEFAULT_CLASS_SEED if class_seed is None else class_seed
    seed = student_seed(the_class_seed, who)
    folder = work_dir(root.resolve(), name, who)
    folder.mkdir(parents=True, exist_ok=True)
    plan = exercise.plan(seed)
    produced = produce(name, plan, folder / STORE) if plan is not None else None
    prepared = exercise.prepare(seed, folder, produced)
    manifest = Manifest(
        exercise=name,
        student=who,
        class_seed=the_class_seed,
        seed=seed,
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        store=store_url(folder),
        facts=prepared.facts,
    )
    manifest.write(folder)
    write_truth(folder, prepared.truth)
    (folder / SHEET).write_text(exercise.sheet(manifest, folder), encoding="utf-8")
    (folder / ANSWERS).write_text(exercise.template(manifest), encoding="utf-8")
    return Started(folder, manifest, produced.seconds if produced is not None else 0.0)


def check(name: str, answers_file: Path, root: Path, *, student: str | None = None, record: bool = True) -> Verdict:
    """Judge `answers_file` against exercise `name`'s truth; append the score to ROOT/results.csv."""
    exercise = catalogue.get(name)
    document = load_answers(answers_file)
    header = document.get("exercise", {})
    if not isinstance(header, dict):
        header = {}
    named = header.get("name")
    if named not in (None, "", name):
        raise ConfigError(f"{answers_file} answers exercise {named!r}, not {name!r}")
    who = check_student(student if student is not None else (str(header.get("student") or "") or None))
    folder = work_dir(root, name, who)
    manifest = Manifest.read(folder)
    truth = read_truth(folder)
    answers = document.get("answers", {})
    if not isinstance(answers, dict):
        raise ConfigError(f"{answers_file}: [answers] must be a table of values")
    verdict = Verdict(name, who, exercise.check(folder, manifest, truth, answers))
    if record:
        append_result(root, who or getpass.getuser(), name, verdict.score)
    return verdict
