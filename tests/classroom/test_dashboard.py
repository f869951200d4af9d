"""The dashboard in classroom mode, headless through AppTest: sign-in with roster credentials, a student's own
plant only, the lecturer's class overview."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import link
from smartfactory.classroom.roster import ClassDir
from smartfactory.model import Alarm, Reading, StateChange
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo
from tests.classroom.conftest import make_class
from tests.conftest import ROOT, free_port

APP = str(ROOT / "dashboard" / "app.py")
PLANT = """
[plant]
name = "Class plant"

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "test_mill"
ideal_cycle_s = 10
"""
#: each student's spindle temperature: constant, so the tile shows exactly this value
TEMPS = {"lab/student-01": 41.5, "lab/student-02": 97.25}


def machine(namespace: str) -> str:
    return f"{namespace}/machining/line-1/cnc-01"


def seed(path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    now = int(time.time() * 1000) - 120_000
    info = MachineInfo(
        machine_type="test_mill", ideal_cycle_s=10.0, signals={"spindle_temp": SignalInfo(kind="process", unit="°C")}
    )
    for namespace, temp in TEMPS.items():
        m = machine(namespace)
        store.write_machine_info(m, now - 60_000, info)
        store.write_readings([Reading(f"{m}/telemetry/spindle_temp", now + i * 1000, temp, "°C") for i in range(60)])
        store.write_states([StateChange(m, now - 60_000, "running")])
    b_temp = f"{machine('lab/student-02')}/telemetry/spindle_temp"
    store.write_alarms([Alarm("b1", b_temp, now + 30_000, ("WE1",), 97.25)])
    store.close()


@pytest.fixture
def classroom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClassDir]:
    folder = make_class(tmp_path / "class", students=2, class_seed=3)
    (folder.root / "results.csv").write_text(
        "username,exercise,score,checked_at\nstudent-01,cpk,0.5,2026-12-01T10:00:00Z\n"
        "student-01,cpk,1.0,2026-12-01T10:05:00Z\nstudent-01,oee,0.8,2026-12-01T10:20:00Z\n"
    )
    sims = tmp_path / "simulators"
    (sims / "plants").mkdir(parents=True)
    (sims / "plants" / "default.toml").write_text(PLANT)
    # student-02 started an exercise and has not checked it yet; student-01 checked two
    started = folder.root / "student-02" / "fault-hunt"
    started.mkdir(parents=True)
    (started / "exercise.json").write_text("{}")
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


def sign_in(app: AppTest, username: str, password: str) -> AppTest:
    app.text_input(key="classroom_username").input(username)
    app.text_input(key="classroom_password").input(password)
    app.button[0].click()
    app.run()
    return app


def page_text(app: AppTest) -> str:
    parts = [str(e.value) for e in (*app.title, *app.markdown, *app.caption, *app.error, *app.info)]
    parts += [str(h.proto.body) for h in app.get("html")]
    return "\n".join(parts)


def test_nobody_sees_the_plant_before_signing_in(classroom: ClassDir) -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert [t.value for t in app.title] == ["Sign in"]
    assert "41.5" not in page_text(app)
    assert "97.25" not in page_text(app)
    sign_in(app, "student-01", "wrong-password")
    assert [e.value for e in app.error] == ["Unknown username or wrong password."]
    sign_in(app, "sf-dashboard", classroom.accounts()["sf-dashboard"].password)  # a service account: no sign-in
    assert [t.value for t in app.title] == ["Sign in"]


def test_a_student_sees_only_their_namespace(classroom: ClassDir) -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    sign_in(app, "student-01", classroom.accounts()["student-01"].password)
    assert not app.exception, [e.message for e in app.exception]
    assert app.title[0].value == "My plant: lab/student-01"
    text = page_text(app)
    assert "41.5" in text
    assert "97.25" not in text
    assert "student-02" not in text
    assert app.selectbox(key="my_plant_series").options == ["cnc-01 / spindle_temp"]
    # the plant pages are not registered for a student at all: their own page is the only one
    with pytest.raises(ValueError, match=r"Known pages: \['[^']*my_plant\.py'\]"):
        app.switch_page("app_pages/overview.py")
    app.button(key="classroom_sign_out").click()
    app.run()
    assert [t.value for t in app.title] == ["Sign in"]
    assert "41.5" not in page_text(app)


def test_the_lecturer_gets_the_class_overview(classroom: ClassDir) -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    sign_in(app, "lecturer", classroom.accounts()["lecturer"].password)
    assert not app.exception, [e.message for e in app.exception]
    assert app.title[0].value == "Class overview"
    table = app.dataframe[0].value.set_index("student")
    assert list(table.index) == ["student-01", "student-02"]
    assert table.loc["student-01", "active alarms"] == 0
    assert table.loc["student-02", "active alarms"] == 1
    assert table.loc["student-02", "where"] == "cnc-01/spindle_temp"
    assert table.loc["student-01", "exercises"].startswith("2 checked; last: oee (0.8")
    assert table.loc["student-02", "exercises"] == "none checked"
    assert table.loc["student-01", "steps"] == "cpk: 1 · oee: 0.8"  # the best score of each checked exercise
    assert table.loc["student-02", "steps"] == "fault-hunt: started"
    assert set(table["connected"]) == {"broker unreachable"}
    # the lecturer also has every page of the plant dashboard
    app.switch_page("app_pages/overview.py")
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert "41.5" in page_text(app)
    assert "97.25" in page_text(app)


def test_the_lecturer_acknowledges_under_their_own_name(classroom: ClassDir) -> None:
    """In classroom mode an acknowledgement carries who signed in; there is no name field to type another into."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    sign_in(app, "lecturer", classroom.accounts()["lecturer"].password)
    app.switch_page("app_pages/alarms.py")
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert "ack|b1" in [b.key for b in app.button]  # student-02's alarm waits for an acknowledgement
    assert "ack_by" not in [t.key for t in app.text_input]
    assert "Acknowledged as **lecturer** (signed in)." in [c.value for c in app.caption]
