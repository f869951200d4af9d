"""The SQLite schema and its migrations (versions are `PRAGMA user_version`).

`MIGRATIONS[i]` takes a file from version i to i+1. `migrate` applies the missing ones inside one
`BEGIN IMMEDIATE` transaction, so two processes opening an old file at once upgrade it exactly once, and a
failure leaves the file as it was. A file that is already current is not locked at all: a dashboard opening
the store while ingestion writes does not wait for the writer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from smartfactory.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE series (
        id INTEGER PRIMARY KEY, topic TEXT NOT NULL UNIQUE,
        enterprise TEXT NOT NULL, site TEXT NOT NULL, area TEXT NOT NULL, line TEXT NOT NULL,
        machine TEXT NOT NULL, sensor TEXT NOT NULL, unit TEXT
    );
    CREATE TABLE readings (
        series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (series_id, ts)
    ) WITHOUT ROWID;
    CREATE TABLE deadletters (
        id INTEGER PRIMARY KEY, received_ms INTEGER NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
        detail TEXT NOT NULL, payload BLOB NOT NULL, payload_size INTEGER NOT NULL
    );
    CREATE INDEX deadletters_received ON deadletters (received_ms);
    CREATE TABLE states (
        machine TEXT NOT NULL, ts INTEGER NOT NULL, state TEXT NOT NULL, reason TEXT,
        PRIMARY KEY (machine, ts)
    ) WITHOUT ROWID;
    CREATE TABLE parts (
        machine TEXT NOT NULL, part_id TEXT NOT NULL, ts INTEGER NOT NULL, good INTEGER NOT NULL,
        measurements TEXT NOT NULL, PRIMARY KEY (machine, part_id)
    ) WITHOUT ROWID;
    CREATE INDEX parts_ts ON parts (ts);
    CREATE TABLE events (
        machine TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, fault TEXT NOT NULL,
        sensor TEXT, params TEXT NOT NULL, PRIMARY KEY (machine, ts, kind, fault)
    ) WITHOUT ROWID;
    CREATE TABLE alarms (
        alarm_id TEXT PRIMARY KEY, series TEXT NOT NULL, ts INTEGER NOT NULL, rules TEXT NOT NULL,
        value REAL, active INTEGER NOT NULL, message TEXT NOT NULL, cleared_ms INTEGER,
        acked_ms INTEGER, acked_by TEXT
    );
    CREATE INDEX alarms_ts ON alarms (ts);
    """,
    # 2: indexes for the time-range reads of states and events, the active-alarm list, and retention.
    """
    CREATE INDEX states_ts ON states (ts);
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX alarms_active ON alarms (ts) WHERE active = 1;
    """,
    # 3: control limits of the live SPC monitor, one row per version per series.
    """
    CREATE TABLE limits (
        series TEXT NOT NULL, version INTEGER NOT NULL, ts INTEGER NOT NULL, center REAL NOT NULL,
        sigma REAL NOT NULL, nsigmas REAL NOT NULL, n INTEGER NOT NULL, source TEXT NOT NULL,
        PRIMARY KEY (series, version)
    ) WITHOUT ROWID;
    """,
    # 4: machine facts from the birth messages (wire.MachineInfo as JSON), the newest per machine.
    """
    CREATE TABLE machine_info (
        machine TEXT PRIMARY KEY, ts INTEGER NOT NULL, info TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 5: a natural key for dead letters (reason, topic, payload): the same rejected message is stored once, however
    # often it is delivered (retained messages at every resubscribe, redeliveries). Older rows have none (NULL).
    """
    ALTER TABLE deadletters ADD COLUMN key BLOB;
    CREATE UNIQUE INDEX deadletters_key ON deadletters (key);
    """,
    # 6: the live monitor's detector and thresholds per limits version, and the signals a fault event affects.
    """
    ALTER TABLE limits ADD COLUMN detector TEXT NOT NULL DEFAULT 'imr';
    ALTER TABLE limits ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE events ADD COLUMN affects TEXT NOT NULL DEFAULT '[]';
    """,
    # 7: OEE reads machine, time and verdict of a window's parts (`read_part_outcomes`): a covering index serves
    # them without visiting the rows (docs/deployment.md, benchmark (5)), and time-range reads as parts_ts did.
    """
    CREATE INDEX parts_outcome ON parts (ts, machine, good);
    DROP INDEX parts_ts;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the open database to `SCHEMA_VERSION`; return the version it had. `db` is in autocommit mode."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found == SCHEMA_VERSION:
        return found
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])  # another process may have just done it
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this smartfactory ({SCHEMA_VERSION}); "
                "upgrade smartfactory"
            )
        for index in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[index].split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found
