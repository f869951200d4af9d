"""SQLite specifics: WAL, migrations, a reader process beside the writer."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.errors import StoreError
from smartfactory.model import Reading
from smartfactory.storage import open_store
from smartfactory.storage.sqlite import SCHEMA_VERSION, SqliteStorage, path_from_url

SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"


def test_url_forms() -> None:
    assert path_from_url("sqlite:///data/x.db") == Path("data/x.db")
    assert path_from_url("sqlite:////tmp/x.db") == Path("/tmp/x.db")
    with pytest.raises(StoreError, match="sqlite:///path"):
        path_from_url("sqlite://x.db")


def test_new_file_is_wal_and_at_current_schema(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    store.close()
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="upgrade smartfactory"):
        SqliteStorage(f"sqlite:///{path}")


def test_another_process_reads_while_this_one_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    writer = SqliteStorage(url)
    writer.write_readings([Reading(SERIES, i, float(i)) for i in range(1000)])
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from smartfactory.storage import open_store; s = open_store(sys.argv[1]); "
            "print(len(s.read_series(sys.argv[2])))",
            url,
            SERIES,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    writer.write_readings([Reading(SERIES, 5000 + i, 1.0) for i in range(10)])
    assert reader.stdout.strip() == "1000"
    assert writer.count_readings() == 1010
    writer.close()
