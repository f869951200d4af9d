"""Classroom fixtures: a class folder on a free port, and the real mosquitto started with its configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.classroom.broker import ClassBroker, start_class_broker
from smartfactory.classroom.roster import ClassDir
from smartfactory.classroom.setup import ClassOptions, init_class
from tests.conftest import HAVE_MOSQUITTO, free_port


def make_class(root: Path, students: int = 2, **options: object) -> ClassDir:
    folder = ClassDir(root)
    options.setdefault("session_port", free_port())
    init_class(folder, ClassOptions(students=students, port=free_port(), dashboard_port=free_port(), **options))  # type: ignore[arg-type]
    return folder


@pytest.fixture
def class_dir(tmp_path: Path) -> ClassDir:
    return make_class(tmp_path / "class", class_seed=11)


@pytest.fixture
def class_broker(class_dir: ClassDir) -> Iterator[ClassBroker]:
    if not HAVE_MOSQUITTO:
        pytest.skip("classroom mode runs the real mosquitto 2 (CI installs it: apt-get install mosquitto)")
    running = start_class_broker(class_dir)
    yield running
    running.stop()
