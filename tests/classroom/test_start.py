"""`classroom start` end to end: the real mosquitto with the class configuration, one ingestion, three plants."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from smartfactory.storage.sqlite import SqliteStorage
from tests.classroom.conftest import make_class
from tests.conftest import HAVE_MOSQUITTO


@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="classroom mode runs the real mosquitto 2 (CI installs it)")
def test_three_students_data_is_stored_under_each_namespace_only(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "class", students=3, class_seed=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    done = subprocess.run(
        [sys.executable, "-m", "smartfactory", "classroom", "start", "--dir", str(folder.root), "--speed", "0",
         "--sim-duration", "3m", "--no-dashboard"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "every plant reached the end" in done.stderr
    store = SqliteStorage(f"sqlite:///{folder.store_file}")
    try:
        by_namespace: dict[str, set[str]] = defaultdict(set)
        for info in store.list_series():
            by_namespace["/".join(info.series.split("/")[:2])].add(info.series.split("/", 2)[2])
        assert set(by_namespace) == {"lab/student-01", "lab/student-02", "lab/student-03"}
        # the same plant under each namespace: the same machines and sensors
        assert by_namespace["lab/student-01"] == by_namespace["lab/student-02"] == by_namespace["lab/student-03"]
        assert {"/".join(m.split("/")[:2]) for m in store.read_machine_info()} == set(by_namespace)
        # each student's own seed: the same sensor reads differently in each plant
        sensor = "machining/line-1/cnc-01/telemetry/spindle_temp"
        values = [store.read_series(f"lab/student-0{i}/{sensor}")["value"].to_numpy()[:50] for i in (1, 2, 3)]
        assert all(len(v) == 50 for v in values)
        assert not np.array_equal(values[0], values[1])
        assert not np.array_equal(values[1], values[2])
    finally:
        store.close()
