"""`smartfactory inject` in a running class (`classroom init` + `classroom start`, the real mosquitto 2): the
lecturer injects into any student's plant, a student only into their own (docs/classroom.md, steps 4 and "What
students see"); the ground truth of what was applied reaches the class store under the right namespace."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import classlink, classview
from smartfactory.classroom.roster import ClassDir
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.classroom.conftest import make_class
from tests.conftest import HAVE_MOSQUITTO, ROOT, wait_until

pytestmark = pytest.mark.skipif(not HAVE_MOSQUITTO, reason="classroom mode runs the real mosquitto 2 (CI installs it)")

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
STUDENT_02_CNC = "lab/student-02/machining/line-1/cnc-01"
#: the default plant's machines (below the enterprise and site a namespace replaces)
MACHINES = (
    "machining/line-1/cnc-01",
    "machining/line-1/cnc-02",
    "packaging/line-2/imm-01",
    "packaging/line-2/filler-01",
)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}


class RunningClass:
    """`smartfactory classroom start` as a subprocess; its stderr collected line by line."""

    def __init__(self, folder: ClassDir) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smartfactory", "classroom", "start", "--dir", str(folder.root), "--speed", "1",
             "--duration", "120", "--no-dashboard"],
            env=clean_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        """Ctrl-C, as the lecturer stops a class: every part stops, ingestion writes what it received."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.reader.join(5)
        if self.process.stderr is not None and not self.reader.is_alive():
            self.process.stderr.close()
        return code


@pytest.fixture
def running_class(tmp_path: Path) -> Iterator[RunningClass]:
    folder = make_class(tmp_path / "class", students=2, class_seed=7)
    running = RunningClass(folder)
    try:
        assert wait_until(lambda: "[plants]" in running.output() or running.process.poll() is not None, 30)
        assert "[plants]     2 plants" in running.output(), running.output()
        yield running
    finally:
        running.stop()


def credentials(folder: ClassDir) -> dict[str, str]:
    """username → password, from students.csv as the lecturer reads it (docs/classroom.md, step 4)."""
    with folder.students_file.open(newline="", encoding="utf-8") as rows:
        return {row["username"]: row["password"] for row in csv.DictReader(rows)}


def inject(folder: ClassDir, username: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`smartfactory inject` as `username`, the way docs/classroom.md has the lecturer run it."""
    port = folder.info().port
    env = {
        **clean_env(),
        "SMARTFACTORY_MQTT_URL": f"mqtt://{username}:{credentials(folder)[username]}@localhost:{port}",
    }
    return subprocess.run(
        [sys.executable, "-m", "smartfactory", "inject", *args, "--timeout", "15"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_lecturer_injects_anywhere_and_a_student_only_into_their_own_plant(running_class: RunningClass) -> None:
    folder = running_class.folder
    info = folder.info()
    # who is connected, as the class overview learns it: the retained births, read with the dashboard's account
    dashboard = folder.service("dashboard")
    watcher = classlink.BirthWatcher(BrokerAddress("127.0.0.1", info.port, dashboard.username, dashboard.password))
    expected = {f"{m.namespace}/{machine}" for m in info.students for machine in MACHINES}
    try:
        assert wait_until(lambda: set((watcher.online() or {}).items()) == {(m, True) for m in expected}, 15), (
            watcher.online(),
            watcher.error,
        )
        table = classview.class_table(info.students, watcher.online(), [], {}, {}).set_index("student")
        assert table["connected"].to_dict() == {"student-01": "4/4 online", "student-02": "4/4 online"}
    finally:
        watcher.close()

    lecturer = inject(folder, "lecturer", STUDENT_02_CNC, "shift", "--sensor", "spindle_temp", "--param", "size=3")
    assert lecturer.returncode == 0, lecturer.stderr
    # the class's namespaces share the broker, so the lecturer is told whose machine it was
    applied = re.fullmatch(
        rf"applied shift \(size=3\) to {STUDENT_02_CNC} on sensor spindle_temp at simulated ({ISO})\n", lecturer.stdout
    )
    assert applied, lecturer.stdout

    # student-01 sees only its own births, so another student's machine is not there to command
    intruder = inject(folder, "student-01", STUDENT_02_CNC, "shift", "--sensor", "spindle_temp", "--param", "size=9")
    assert intruder.returncode == 1, intruder.stdout
    assert intruder.stdout == ""
    message = " ".join(intruder.stderr.split())
    assert "no machine under lab/student-02 has announced itself to this account" in message, intruder.stderr
    assert "it sees lab/student-01: line-1/cnc-01, line-1/cnc-02, line-2/filler-01, line-2/imm-01" in message
    assert "a student sees and commands only their own namespace" in message

    # a student injects into their own plant (docs/classroom.md: "with their account ... into their own plant")
    own = inject(folder, "student-01", "line-1/cnc-02", "shift", "--sensor", "spindle_temp", "--param", "size=2")
    assert own.returncode == 0, own.stderr
    own_applied = re.fullmatch(
        rf"applied shift \(size=2\) to line-1/cnc-02 on sensor spindle_temp at simulated ({ISO})\n", own.stdout
    )
    assert own_applied, own.stdout

    assert running_class.stop() == 0, running_class.output()
    store = SqliteStorage(f"sqlite:///{folder.store_file}")
    try:
        events = store.read_events()
    finally:
        store.close()
    # exactly the two faults that were applied, each under its own student's namespace, at the instant printed
    got = sorted((e.machine, e.kind, e.fault, e.sensor, e.params.get("size"), format_ts(e.ts_ms)) for e in events)
    assert got == [
        ("lab/student-01/machining/line-1/cnc-02", "fault", "shift", "spindle_temp", 2.0, own_applied.group(1)),
        (STUDENT_02_CNC, "fault", "shift", "spindle_temp", 3.0, applied.group(1)),
    ]
