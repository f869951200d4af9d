"""Namespaces, a plant moved under one, the class limits file and the results table."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartfactory.classroom.namespace import Namespace, relocate, relocate_series, student_namespace
from smartfactory.classroom.results import read_progress, read_started, steps
from smartfactory.classroom.session import class_limits
from smartfactory.errors import ConfigError
from smartfactory.ingest.monitor import load_limits_file
from smartfactory.plant import load_plant
from smartfactory.settings import PROJECT_ROOT, load_settings
from tests.classroom.conftest import make_class


def test_namespaces_are_two_valid_levels() -> None:
    assert str(student_namespace(7)) == "lab/student-07"
    assert Namespace.parse("lab/student-07") == Namespace("lab", "student-07")
    for bad in ("lab", "lab/a/b", "lab/a+b", "$lab/x", "/x"):
        with pytest.raises(ConfigError):
            Namespace.parse(bad)
    assert Namespace("lab", "s1").holds("lab/s1/a/l/m/telemetry/x")
    assert not Namespace("lab", "s1").holds("lab/s10/a")


def test_a_relocated_plant_keeps_its_machines_below_the_namespace() -> None:
    plant = load_plant(PROJECT_ROOT / "simulators" / "plants" / "default.toml")
    moved = relocate(plant, Namespace("lab", "student-03"))
    assert [(m.path.area, m.path.line, m.path.machine, m.type) for m in moved.machines] == [
        (m.path.area, m.path.line, m.path.machine, m.type) for m in plant.machines
    ]
    assert {(m.path.enterprise, m.path.site) for m in moved.machines} == {("lab", "student-03")}
    assert relocate_series("acme/plant1/a/l/m/telemetry/x", Namespace("lab", "s")) == "lab/s/a/l/m/telemetry/x"


def test_the_class_limits_file_repeats_the_shipped_limits_per_student(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=3)
    settings = load_settings()
    shipped = load_limits_file(settings.sim.dir / "limits" / "default.toml")
    written = class_limits(settings, folder.info(), folder.limits_file)
    assert written is not None
    limits = load_limits_file(written)
    assert len(limits) == 3 * len(shipped)
    series, value = next(iter(shipped.items()))
    moved = relocate_series(series, Namespace("lab", "student-02"))
    assert (limits[moved].center, limits[moved].sigma) == (value.center, value.sigma)


def test_results_give_best_score_and_newest_check(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    assert read_progress(path) == {}
    path.write_text(
        "username,exercise,score,checked_at\nann,cpk,0.9,2026-01-01T10:00Z\nann,cpk,0.4,2026-01-01T11:00Z\n"
        "ann,oee,,2026-01-01T09:00Z\nbob,cpk,1,2026-01-01T08:00Z\n"
    )
    progress = read_progress(path)
    assert progress["ann"].best == {"oee": None, "cpk": 0.9}
    assert progress["ann"].last.exercise == "cpk"
    assert progress["ann"].last.score == 0.4
    assert progress["bob"].exercises == 1
    path.write_text("who,what\nann,cpk\n")
    assert read_progress(path) == {}


def test_steps_say_how_far_each_exercise_got(tmp_path: Path) -> None:
    for student, exercise in (("ann", "cpk"), ("ann", "fault-hunt"), ("bob", "oee")):
        (tmp_path / student / exercise).mkdir(parents=True)
        (tmp_path / student / exercise / "exercise.json").write_text("{}")
    (tmp_path / "ann" / "notes").mkdir()  # a folder without a manifest is no exercise
    started = read_started(tmp_path)
    assert started == {"ann": {"cpk", "fault-hunt"}, "bob": {"oee"}}
    path = tmp_path / "results.csv"
    path.write_text("username,exercise,score,checked_at\nann,cpk,0.5,t1\nann,cpk,1,t2\nann,oee,,t3\n")
    progress = read_progress(path)
    assert steps(started["ann"], progress["ann"]) == "cpk: 1 · fault-hunt: started · oee: checked"
    assert steps(started["bob"], None) == "oee: started"
    assert steps(set(), None) == "none started"
