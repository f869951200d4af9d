"""SQLite specifics: WAL, migrations from older files, retention, a reader process beside a busy writer."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from smartfactory.errors import StoreError
from smartfactory.model import Alarm, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.storage import open_store
from smartfactory.storage.sqlite import MIGRATIONS, SCHEMA_VERSION, SqliteStorage, path_from_url
from smartfactory.wire import MachineInfo

MACHINE = "acme/plant1/machining/line-1/cnc-01"
SERIES = f"{MACHINE}/telemetry/spindle_temp"


def test_url_forms() -> None:
    assert path_from_url("sqlite:///data/x.db") == Path("data/x.db")
    assert path_from_url("sqlite:////tmp/x.db") == Path("/tmp/x.db")
    with pytest.raises(StoreError, match="sqlite:///path"):
        path_from_url("sqlite://x.db")


def test_synchronous_full_is_an_option_of_the_url(tmp_path: Path) -> None:
    """Power-cut safety costs an fsync per commit (bench/sqlite_sync.py): the URL chooses it."""
    assert path_from_url("sqlite:///data/x.db?synchronous=full") == Path("data/x.db")
    for option, level in (("", 1), ("?synchronous=normal", 1), ("?synchronous=FULL", 2)):
        store = SqliteStorage(f"sqlite:///{tmp_path / 's.db'}{option}")
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == level  # 1 NORMAL, 2 FULL
        store.close()
    for bad in ("?synchronous=off", "?sync=full"):
        with pytest.raises(StoreError, match="synchronous"):
            SqliteStorage(f"sqlite:///{tmp_path / 's.db'}{bad}")


def test_new_file_is_wal_and_at_current_schema(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    store.close()
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    db.close()


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="upgrade smartfactory"):
        SqliteStorage(f"sqlite:///{path}")


def _indexes(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    db.close()
    return names


def test_a_version_1_file_is_migrated_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    """A file written by the first release (schema 1, no state/event time indexes) opens, upgrades, keeps rows."""
    path = tmp_path / "v1.db"
    old = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            old.execute(statement)
    old.execute("PRAGMA user_version=1")
    old.execute(
        "INSERT INTO series (id, topic, enterprise, site, area, line, machine, sensor, unit) "
        "VALUES (1, ?, 'acme', 'plant1', 'machining', 'line-1', 'cnc-01', 'spindle_temp', 'degC')",
        (SERIES,),
    )
    old.executemany("INSERT INTO readings VALUES (1, ?, ?)", [(i, i * 0.5) for i in range(100)])
    old.execute("INSERT INTO states VALUES (?, 5, 'down', 'breakdown')", (MACHINE,))
    old.close()
    assert "states_ts" not in _indexes(path)

    store = SqliteStorage(f"sqlite:///{path}")
    assert store.read_series(SERIES)["value"].tolist() == [i * 0.5 for i in range(100)]
    assert store.read_states(MACHINE) == [StateChange(MACHINE, 5, "down", "breakdown")]
    assert store.write_readings([Reading(SERIES, 100, 50.0, "degC")]) == 1
    store.close()
    assert {"states_ts", "events_ts", "alarms_active"} <= _indexes(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_version_0_file_with_foreign_tables_gets_ours_beside_them(tmp_path: Path) -> None:
    path = tmp_path / "v0.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (text TEXT)")
    db.execute("INSERT INTO notes VALUES ('kept')")
    db.commit()
    db.close()
    store = SqliteStorage(f"sqlite:///{path}")
    store.write_readings([Reading(SERIES, 1, 1.0)])
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_failed_migration_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "clash.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE series (unrelated TEXT)")  # migration 1 cannot create its own `series`
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        SqliteStorage(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'readings'").fetchall() == []
    db.close()


def test_two_stores_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            SqliteStorage(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert SqliteStorage(url).count_readings() == 0


def test_retention_deletes_old_rows_but_keeps_the_state_in_force(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'r.db'}")
    store.write_readings([Reading(SERIES, ts, float(ts)) for ts in range(0, 200, 10)])
    store.write_states(
        [StateChange(MACHINE, 10, "running"), StateChange(MACHINE, 50, "down"), StateChange(MACHINE, 150, "idle")]
    )
    store.write_parts([PartResult(MACHINE, 20, "p1", True), PartResult(MACHINE, 120, "p2", False)])
    store.write_events([FaultEvent(MACHINE, 30, "fault", "drift"), FaultEvent(MACHINE, 130, "repair", "drift")])
    store.write_deadletters(
        [DeadLetter(40, "t", "bad_json", "x", b"{", 1), DeadLetter(140, "t", "bad_json", "y", b"{", 1)]
    )
    store.write_alarms(
        [
            Alarm("old-cleared", SERIES, 60, ("WE1",), 1.0, active=False, cleared_ms=70),
            Alarm("old-active", SERIES, 65, ("WE1",), 1.0),
            Alarm("new", SERIES, 160, ("WE1",), 1.0),
        ]
    )
    deleted = store.delete_before(100)
    assert store.read_series(SERIES)["ts"].min() == pd.Timestamp(100, unit="ms", tz="UTC")
    assert [s.ts_ms for s in store.read_states(MACHINE)] == [50, 150]  # "down" was in force at the cutoff
    assert [p.part_id for p in store.read_parts()] == ["p2"]
    assert [e.kind for e in store.read_events()] == ["repair"]
    assert [d.detail for d in store.read_deadletters()] == ["y"]
    assert sorted(a.alarm_id for a in store.read_alarms()) == ["new", "old-active"]  # active alarms stay
    assert deleted == 10 + 1 + 1 + 1 + 1 + 1
    assert store.delete_before(100) == 0
    store.close()


def test_retention_setting_prunes_as_ingestion_writes(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    store = open_store(f"sqlite:///{tmp_path / 'auto.db'}", retention_days=1)
    old = [Reading(SERIES, now - 3 * 86_400_000 + i, 1.0) for i in range(5)]
    store.write_readings([*old, Reading(SERIES, now, 2.0)])  # the first write prunes
    assert store.read_series(SERIES)["value"].tolist() == [2.0]
    store.close()
    with pytest.raises(StoreError, match="positive"):
        SqliteStorage(f"sqlite:///{tmp_path / 'bad.db'}", retention_days=0)


def test_aggregates_by_range_scans_equal_the_group_by_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'agg.db'}")
    store.write_readings([Reading(SERIES, 1_000 + 7 * i, (i * 37 % 101) / 3.0) for i in range(5000)])
    scans = store.read_aggregates(SERIES, 995, 36_000, buckets=300)
    monkeypatch.setattr(SqliteStorage, "RANGE_SCAN_BUCKETS", 10)
    grouped = store.read_aggregates(SERIES, 995, 36_000, buckets=300)
    pd.testing.assert_frame_equal(scans, grouped, check_exact=False, rtol=1e-12)
    assert int(scans["count"].sum()) == 5000
    assert scans["ts"].iloc[0] == pd.Timestamp(995, unit="ms", tz="UTC")
    store.close()


READER = """
import json, sys, time
from smartfactory.storage import open_store
store = open_store(sys.argv[1])
latest = []
for _ in range(40):
    last = store.read_series(sys.argv[2], limit=1000)
    assert len(last) == 1000 and last["ts"].is_monotonic_increasing
    newest = int(store.latest()["ts"].iloc[0].value // 1_000_000)
    assert store.read_aggregates(sys.argv[2], newest - 5000, newest + 1, 50)["count"].sum() > 0
    latest.append(newest)
    time.sleep(0.01)
print(json.dumps(latest))
"""


def test_a_dashboard_process_reads_while_ingestion_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer = SqliteStorage(url)
    writer.write_readings([Reading(SERIES, i, float(i)) for i in range(1000)])
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def ingest() -> None:
        ts = 1000
        while not stop.is_set():
            try:
                writer.write_readings([Reading(SERIES, ts + i, 1.0) for i in range(500)])
            except BaseException as exc:
                failures.append(exc)
                return
            ts += 500
            written.append(ts)
            time.sleep(0.01)  # about 50,000 readings/s at most: a busy plant, not a flood

    thread = threading.Thread(target=ingest)
    thread.start()
    try:
        reader = subprocess.run(
            [sys.executable, "-c", READER, url, SERIES], capture_output=True, text=True, timeout=120, check=True
        )
    finally:
        stop.set()
        thread.join(30)
    newest = json.loads(reader.stdout)
    assert failures == []
    assert newest == sorted(newest)  # every read saw a consistent snapshot, never going back
    assert newest[-1] > newest[0]  # the reader saw the writer's progress while it wrote
    assert writer.count_readings() == written[-1]
    writer.close()


def test_a_version_3_file_gains_the_machine_info_table(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    old = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:3]:
        for statement in migration.split(";"):
            if statement.strip():
                old.execute(statement)
    old.execute("PRAGMA user_version=3")
    old.execute("INSERT INTO states VALUES (?, 5, 'down', 'jam')", (MACHINE,))
    old.close()
    store = SqliteStorage(f"sqlite:///{path}")
    assert store.read_states() == [StateChange(machine=MACHINE, ts_ms=5, state="down", reason="jam")]
    assert store.read_machine_info() == {}
    store.write_machine_info(MACHINE, 10, MachineInfo(machine_type="cnc", ideal_cycle_s=30.0))
    store.close()
    again = SqliteStorage(f"sqlite:///{path}")  # persisted, and the file is now current
    assert again.read_machine_info() == {MACHINE: MachineInfo(machine_type="cnc", ideal_cycle_s=30.0)}
    again.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_stored_info_a_newer_version_wrote_is_skipped_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'mixed.db'}")
    store.write_machine_info(MACHINE, 10, MachineInfo(machine_type="cnc"))
    other = "acme/plant1/machining/line-1/cnc-02"
    store._write("INSERT INTO machine_info VALUES (?, ?, ?)", [(other, 10, '{"machine_type":"cnc","colour":"red"}')])
    assert store.read_machine_info() == {MACHINE: MachineInfo(machine_type="cnc")}
    assert "cnc-02" in caplog.text
    store.close()
