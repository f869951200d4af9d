"""The lecturer's class overview, from stored data to the table: who is connected (retained births on the real
class broker), each student's active alarms and OEE from a real SQLite class store, and exercise progress from
the results file `smartfactory exercise check` appends to. The page's own functions (dashboard/classdata.py,
classview.py), not a copy of their arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st

from dashboard import classdata, classlink, classview, data, link
from smartfactory.classroom.broker import ClassBroker
from smartfactory.classroom.roster import ClassDir
from smartfactory.edge.mqtt import MqttClient
from smartfactory.exercises.grading import append_result
from smartfactory.model import Alarm, PartResult, StateChange
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, StatusPayload
from tests.classroom.conftest import make_class
from tests.conftest import free_port, wait_until

T0 = 1_795_341_600_000
SINCE, UNTIL = T0, T0 + 600_000  # the window: ten minutes, all of it planned (the plant file has no calendar)
PLANT = """
[plant]
name = "Class plant"

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "test_mill"

[[machines]]
area = "moulding"
line = "line-2"
name = "imm-01"
type = "test_moulder"
"""
IDEAL_S = {"machining/line-1/cnc-01": 8.0, "moulding/line-2/imm-01": 20.0}


def cnc(ns: str) -> str:
    return f"{ns}/machining/line-1/cnc-01"


def imm(ns: str) -> str:
    return f"{ns}/moulding/line-2/imm-01"


S1, S2 = "lab/student-01", "lab/student-02"  # student-03 has stored nothing yet

STATES = [
    # student-01: cnc-01 breaks down for 60 s; imm-01 runs throughout
    StateChange(cnc(S1), T0 - 3_600_000, "running"),
    StateChange(cnc(S1), T0 + 300_000, "down", "breakdown"),
    StateChange(cnc(S1), T0 + 360_000, "running"),
    StateChange(imm(S1), T0 - 3_600_000, "running"),
    # student-02: cnc-01 has a 100 s changeover; imm-01 breaks down at T0 + 300 s for the rest of the window
    StateChange(cnc(S2), T0 - 3_600_000, "running"),
    StateChange(cnc(S2), T0 + 100_000, "setup", "changeover"),
    StateChange(cnc(S2), T0 + 200_000, "running"),
    StateChange(imm(S2), T0 - 3_600_000, "running"),
    StateChange(imm(S2), T0 + 300_000, "down", "breakdown"),
]
PARTS = [
    *(PartResult(cnc(S1), T0 + i * 10_000, f"a{i}", i not in (10, 20, 30)) for i in range(60)),
    *(PartResult(imm(S1), T0 + i * 20_000, f"b{i}", True) for i in range(30)),
    *(PartResult(cnc(S2), T0 + i * 12_000, f"c{i}", i != 5) for i in range(50)),
    *(PartResult(imm(S2), T0 + i * 20_000, f"d{i}", True) for i in range(15)),
]
ALARMS = [
    Alarm("a1", f"{cnc(S1)}/telemetry/spindle_temp", T0 + 500_000, ("WE1",), 70.0),
    Alarm("a2", f"{imm(S1)}/telemetry/melt_temp", T0 + 200_000, ("WE2",), 232.5, False, "", T0 + 230_000),  # cleared
    Alarm("b1", f"{cnc(S2)}/telemetry/spindle_temp", T0 + 400_000, ("WE1",), 97.0),
    Alarm("b2", f"{cnc(S2)}/telemetry/spindle_temp", T0 + 450_000, ("WE4",), 96.0),
    Alarm("b3", f"{imm(S2)}/telemetry/melt_temp", T0 + 100_000, ("WE1",), 250.0),
]


def expected_oee(ns: str) -> float:
    """OEE of a namespace's machines, summed over machines (kpi/oee.py: Σ ideal × good / Σ planned time)."""
    machines = {cnc(ns), imm(ns)}
    good_work_s = sum(IDEAL_S[p.machine.split("/", 2)[2]] for p in PARTS if p.machine in machines and p.good)
    return good_work_s / (len(machines) * (UNTIL - SINCE) / 1000)


def seed(path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    try:
        for ns in (S1, S2):
            for machine in (cnc(ns), imm(ns)):
                ideal = IDEAL_S[machine.split("/", 2)[2]]
                store.write_machine_info(machine, T0 - 3_600_000, MachineInfo(machine_type="t", ideal_cycle_s=ideal))
        store.write_states(STATES)
        store.write_parts(PARTS)
        store.write_alarms(ALARMS)
    finally:
        store.close()


@pytest.fixture
def classroom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClassDir]:
    folder = make_class(tmp_path / "class", students=3, class_seed=3)
    sims = tmp_path / "simulators"
    (sims / "plants").mkdir(parents=True)
    (sims / "plants" / "default.toml").write_text(PLANT)
    seed(folder.store_file)
    monkeypatch.setenv("SMARTFACTORY_STORE", f"sqlite:///{folder.store_file}")
    monkeypatch.setenv("SMARTFACTORY_SIM__DIR", str(sims))
    monkeypatch.setenv("SMARTFACTORY_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("SMARTFACTORY_DASHBOARD__CLASSROOM_DIR", str(folder.root))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield folder
    link.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()


def test_the_hand_computed_oee_is_what_the_data_says() -> None:
    # the fixture's arithmetic spelled out, so that a change of the data shows up here first
    assert expected_oee(S1) == pytest.approx((8 * 57 + 20 * 30) / 1200)  # 0.88
    assert expected_oee(S2) == pytest.approx((8 * 49 + 20 * 15) / 1200)  # 0.5767


def test_each_students_oee_and_alarms_come_from_their_namespace_only(classroom: ClassDir) -> None:
    students = classroom.info().students
    namespaces = tuple(m.namespace for m in students)
    assert namespaces == (S1, S2, "lab/student-03")
    oee = classdata.class_oee(SINCE, UNTIL, namespaces)
    assert oee[S1] == pytest.approx(expected_oee(S1))
    assert oee[S2] == pytest.approx(expected_oee(S2))
    assert oee["lab/student-03"] is None  # no states stored: no OEE, not 0
    # the window the OEE is computed over holds the student's own machines only
    window = data.oee_window(SINCE, UNTIL)
    assert window is not None
    mine = classview.namespace_window(window, S1)
    assert {iv.machine for iv in mine.intervals} == {cnc(S1), imm(S1)}
    assert {p.machine for p in mine.parts} == {cnc(S1), imm(S1)}
    assert len(mine.parts) == sum(1 for p in PARTS if p.machine.startswith(f"{S1}/"))

    table = classview.class_table(students, None, data.alarms(active_only=True), oee, {}).set_index("student")
    active = {ns: [a for a in ALARMS if a.active and a.series.startswith(f"{ns}/")] for ns in namespaces}
    assert (
        table["active alarms"].to_dict()
        == {
            "student-01": len(active[S1]),
            "student-02": len(active[S2]),
            "student-03": 0,
        }
        == {"student-01": 1, "student-02": 3, "student-03": 0}
    )
    assert table.loc["student-01", "where"] == "cnc-01/spindle_temp"  # the cleared imm-01 alarm is not active
    assert table.loc["student-02", "where"] == "cnc-01/spindle_temp, imm-01/melt_temp"
    assert table.loc["student-03", "where"] == ""
    assert table.loc["student-01", "OEE (window)"] == round(expected_oee(S1) * 100, 1) == 88.0
    assert table.loc["student-02", "OEE (window)"] == round(expected_oee(S2) * 100, 1) == 57.7
    assert table["OEE (window)"].isna().to_dict() == {"student-01": False, "student-02": False, "student-03": True}
    assert list(table["namespace"]) == list(namespaces)


def test_exercise_progress_comes_from_the_results_file_exercise_check_writes(classroom: ClassDir) -> None:
    def at(minute: int) -> datetime:
        return datetime(2026, 12, 1, 10, minute, tzinfo=UTC)

    # as `smartfactory exercise check --dir CLASS` appends them (out of time order: the newest check wins)
    append_result(classroom.root, "student-01", "cpk", 0.5, at(0))
    append_result(classroom.root, "student-01", "oee", 0.8, at(20))
    append_result(classroom.root, "student-01", "cpk", 1.0, at(5))
    append_result(classroom.root, "student-02", "fault-hunt", 0.25, at(7))
    append_result(classroom.root, "someone-else", "cpk", 1.0, at(9))  # not in the class: not shown
    progress = classdata.progress(str(classroom.root))
    assert progress["student-01"].best == {"cpk": 1.0, "oee": 0.8}
    table = classview.class_table(classroom.info().students, {}, [], {}, progress).set_index("student")
    assert table["exercises"].to_dict() == {
        "student-01": "2 checked; last: oee (0.8, 2026-12-01T10:20:00Z)",
        "student-02": "1 checked; last: fault-hunt (0.25, 2026-12-01T10:07:00Z)",
        "student-03": "none checked",
    }
    assert "someone-else" not in table.index


def test_connected_counts_machines_online_per_namespace() -> None:
    online = {cnc(S1): True, imm(S1): False, cnc(S2): False, imm(S2): False, "lab/student-03x/a/b/c": True}
    namespaces = (S1, S2, "lab/student-03")
    assert classview.plants_connected(online, namespaces) == 1  # student-02's machines are all offline
    assert classview.plants_connected({}, namespaces) == 0
    assert classview.plants_connected(None, namespaces) is None


def publish_status(client: MqttClient, machine: str, status: str | None) -> None:
    """A retained birth (online, with facts) or last will (offline); None clears the retained status."""
    topic = MachinePath.parse(machine).topic(MessageClass.STATUS)
    payload = b"" if status is None else StatusPayload(status=status, ts=T0).to_bytes()
    client.publish(topic, payload, qos=1, retain=True)


def test_who_is_connected_from_the_births_on_the_class_broker(class_broker: ClassBroker, class_dir: ClassDir) -> None:
    accounts = class_dir.accounts()
    info = class_dir.info()

    def as_(user: str) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", class_broker.port, user, accounts[user].password)

    # each student's own account publishes below its own namespace (the broker would drop anything else)
    one, two = MqttClient(as_("student-01")), MqttClient(as_("student-02"))
    one.connect(5)
    two.connect(5)
    try:
        publish_status(one, cnc(S1), "online")
        publish_status(one, imm(S1), "offline")
        publish_status(two, cnc(S2), "online")
        publish_status(two, cnc(S2), None)  # a cleared birth: nothing known about the machine
        assert one.wait_published(5)
        assert two.wait_published(5)
    finally:
        one.close()
        two.close()

    watcher = classlink.BirthWatcher(as_("sf-dashboard"))  # the dashboard's own account, as classdata.births() uses it
    try:
        assert wait_until(lambda: watcher.online() == {cnc(S1): True, imm(S1): False}, 10), watcher.online()
        table = classview.class_table(info.students, watcher.online(), [], {}, {}).set_index("student")
        assert table["connected"].to_dict() == {"student-01": "1/2 online", "student-02": "no plant yet"}
        assert classview.plants_connected(watcher.online(), [m.namespace for m in info.students]) == 1
        # the plant stops: its last will replaces the birth, and the overview sees it without reconnecting
        again = MqttClient(as_("student-01"))
        again.connect(5)
        try:
            publish_status(again, cnc(S1), "offline")
            assert again.wait_published(5)
        finally:
            again.close()
        assert wait_until(lambda: watcher.online() == {cnc(S1): False, imm(S1): False}, 10), watcher.online()
        table = classview.class_table(info.students, watcher.online(), [], {}, {}).set_index("student")
        assert table.loc["student-01", "connected"] == "0/2 online"
        assert classview.plants_connected(watcher.online(), [m.namespace for m in info.students]) == 0
    finally:
        watcher.close()
