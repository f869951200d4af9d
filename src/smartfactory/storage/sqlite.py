"""SQLite backend (the embedded default): one file, WAL so the dashboard reads while ingestion writes.

Schema versions are `PRAGMA user_version`; `MIGRATIONS[i]` takes a file from version i to i+1 inside one
transaction, so an old file is upgraded in place when it is opened. Readings are keyed by (series, ts): the
primary key makes every write idempotent (`INSERT OR IGNORE`), and a WITHOUT ROWID table keeps each series'
points together on disk, which makes "last N points" and time-range scans index-only.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from smartfactory.errors import StoreError, StoreUnavailable
from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    PartResult,
    Reading,
    SeriesInfo,
    StateChange,
)
from smartfactory.wire import series_path

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
)
SCHEMA_VERSION = len(MIGRATIONS)


def path_from_url(url: str) -> Path:
    """`sqlite:///relative.db` → `relative.db`; `sqlite:////abs/path.db` → `/abs/path.db`."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise StoreError(f"SQLite URL {url!r} must look like sqlite:///path/to/file.db")
    return Path(url[len(prefix) :])


class SqliteStorage:
    """The SQLite store. One connection per instance, guarded by a lock (usable from one writer thread)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.path = path_from_url(url)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from None
        self._lock = threading.Lock()
        self._series_ids: dict[str, int] = dict(self._db.execute("SELECT topic, id FROM series").fetchall())

    def _migrate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this smartfactory ({SCHEMA_VERSION}); "
                    "upgrade smartfactory"
                )
            for index in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ writes

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]] | list[tuple[Any, ...]]) -> int:
        with self._lock:
            try:
                before = self._db.total_changes
                self._db.execute("BEGIN")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
                return self._db.total_changes - before
            except sqlite3.OperationalError as exc:
                self._rollback()
                raise StoreUnavailable(f"SQLite write to {self.path} failed: {exc}") from exc
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"SQLite write to {self.path} failed: {exc}") from exc

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _series_id(self, series: str, unit: str | None) -> int:
        known = self._series_ids.get(series)
        if known is not None:
            return known
        path, sensor = series_path(series)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO series (topic, enterprise, site, area, line, machine, sensor, unit) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (series, path.enterprise, path.site, path.area, path.line, path.machine, sensor, unit),
            )
            row = self._db.execute("SELECT id FROM series WHERE topic = ?", (series,)).fetchone()
        self._series_ids[series] = row[0]
        return int(row[0])

    def write_readings(self, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        try:
            rows = [(self._series_id(r.series, r.unit), r.ts_ms, r.value) for r in readings]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite write to {self.path} failed: {exc}") from exc
        return self._write("INSERT OR IGNORE INTO readings (series_id, ts, value) VALUES (?, ?, ?)", rows)

    def write_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self._write(
            "INSERT INTO deadletters (received_ms, topic, reason, detail, payload, payload_size) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(d.received_ms, d.topic, d.reason, d.detail, d.payload, d.payload_size) for d in letters],
        )

    def write_states(self, changes: Sequence[StateChange]) -> None:
        self._write(
            "INSERT OR IGNORE INTO states (machine, ts, state, reason) VALUES (?, ?, ?, ?)",
            [(c.machine, c.ts_ms, c.state, c.reason) for c in changes],
        )

    def write_parts(self, parts: Sequence[PartResult]) -> None:
        self._write(
            "INSERT OR IGNORE INTO parts (machine, part_id, ts, good, measurements) VALUES (?, ?, ?, ?, ?)",
            [(p.machine, p.part_id, p.ts_ms, int(p.good), json.dumps(p.measurements)) for p in parts],
        )

    def write_events(self, events: Sequence[FaultEvent]) -> None:
        self._write(
            "INSERT OR IGNORE INTO events (machine, ts, kind, fault, sensor, params) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.machine, e.ts_ms, e.kind, e.fault, e.sensor, json.dumps(e.params)) for e in events],
        )

    def write_alarms(self, alarms: Sequence[Alarm]) -> None:
        self._write(
            "INSERT INTO alarms (alarm_id, series, ts, rules, value, active, message, cleared_ms, acked_ms, "
            "acked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (alarm_id) DO UPDATE SET "
            "active = excluded.active, cleared_ms = COALESCE(excluded.cleared_ms, cleared_ms), "
            "acked_ms = COALESCE(excluded.acked_ms, acked_ms), acked_by = COALESCE(excluded.acked_by, acked_by)",
            [
                (
                    a.alarm_id,
                    a.series,
                    a.ts_ms,
                    ",".join(a.rules),
                    a.value,
                    int(a.active),
                    a.message,
                    a.cleared_ms,
                    a.acked_ms,
                    a.acked_by,
                )
                for a in alarms
            ],
        )

    def ack_alarms(self, acks: Sequence[AlarmAck]) -> None:
        self._write(
            "UPDATE alarms SET acked_ms = ?, acked_by = ? WHERE alarm_id = ? AND acked_ms IS NULL",
            [(a.ts_ms, a.by, a.alarm_id) for a in acks],
        )

    # ------------------------------------------------------------------ reads

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite read from {self.path} failed: {exc}") from exc

    def list_series(self) -> list[SeriesInfo]:
        rows = self._query(
            "SELECT topic, enterprise, site, area, line, machine, sensor, unit FROM series ORDER BY topic"
        )
        return [SeriesInfo(*row) for row in rows]

    def read_series(
        self, series: str, since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        where, params = _range("ts", since_ms, until_ms)
        sql = f"SELECT ts, value FROM readings WHERE series_id = (SELECT id FROM series WHERE topic = ?){where}"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY ts DESC LIMIT {int(limit)}) ORDER BY ts"
        else:
            sql += " ORDER BY ts"
        frame = pd.DataFrame(self._query(sql, [series, *params]), columns=["ts", "value"])
        return _with_time(frame.astype({"ts": "int64", "value": "float64"}))

    def read_aggregates(self, series: str, since_ms: int, until_ms: int, buckets: int) -> pd.DataFrame:
        width = max(1, -(-(until_ms - since_ms) // max(1, buckets)))
        rows = self._query(
            "SELECT ? + ((ts - ?) / ?) * ? AS bucket, AVG(value), MIN(value), MAX(value), COUNT(*) "
            "FROM readings WHERE series_id = (SELECT id FROM series WHERE topic = ?) AND ts >= ? AND ts < ? "
            "GROUP BY bucket ORDER BY bucket",
            [since_ms, since_ms, width, width, series, since_ms, until_ms],
        )
        frame = pd.DataFrame(rows, columns=["ts", "mean", "min", "max", "count"])
        return _with_time(frame.astype({"ts": "int64", "mean": "float64", "count": "int64"}))

    def latest(self) -> pd.DataFrame:
        rows = self._query(
            "SELECT s.topic, r.ts, r.value, s.unit FROM series s JOIN readings r ON r.series_id = s.id "
            "AND r.ts = (SELECT MAX(ts) FROM readings WHERE series_id = s.id) ORDER BY s.topic"
        )
        return _with_time(pd.DataFrame(rows, columns=["series", "ts", "value", "unit"]).astype({"ts": "int64"}))

    def iter_readings(
        self,
        since_ms: int | None = None,
        until_ms: int | None = None,
        machine: str | None = None,
        sensor: str | None = None,
        chunk: int = 50_000,
    ) -> Iterator[list[Reading]]:
        for info in self.list_series():
            if machine is not None and machine not in (info.machine, info.series.rsplit("/", 2)[0]):
                continue
            if sensor is not None and sensor != info.sensor:
                continue
            cursor_ts = since_ms
            while True:
                where, params = _range("ts", cursor_ts, until_ms)
                rows = self._query(
                    "SELECT ts, value FROM readings WHERE series_id = (SELECT id FROM series WHERE topic = ?)"
                    f"{where} ORDER BY ts LIMIT {int(chunk)}",
                    [info.series, *params],
                )
                if not rows:
                    break
                yield [Reading(info.series, ts, value, info.unit) for ts, value in rows]
                if len(rows) < chunk:
                    break
                cursor_ts = rows[-1][0] + 1

    def count_readings(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM readings")[0][0])

    def read_deadletters(self, since_ms: int | None = None, limit: int | None = None) -> list[DeadLetter]:
        where, params = _range("received_ms", since_ms, None)
        sql = (
            "SELECT received_ms, topic, reason, detail, payload, payload_size FROM deadletters WHERE 1=1"
            f"{where} ORDER BY id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [DeadLetter(*row) for row in self._query(sql, params)]

    def read_states(self, machine: str | None = None, since_ms: int | None = None) -> list[StateChange]:
        where, params = _range("ts", since_ms, None)
        if machine is not None:
            where, params = where + " AND machine = ?", [*params, machine]
        rows = self._query(
            f"SELECT machine, ts, state, reason FROM states WHERE 1=1{where} ORDER BY machine, ts", params
        )
        return [StateChange(*row) for row in rows]

    def read_parts(self, machine: str | None = None, since_ms: int | None = None) -> list[PartResult]:
        where, params = _range("ts", since_ms, None)
        if machine is not None:
            where, params = where + " AND machine = ?", [*params, machine]
        rows = self._query(
            f"SELECT machine, ts, part_id, good, measurements FROM parts WHERE 1=1{where} ORDER BY ts", params
        )
        return [PartResult(m, ts, pid, bool(good), json.loads(meas)) for m, ts, pid, good, meas in rows]

    def read_events(self, since_ms: int | None = None) -> list[FaultEvent]:
        where, params = _range("ts", since_ms, None)
        rows = self._query(
            f"SELECT machine, ts, kind, fault, sensor, params FROM events WHERE 1=1{where} ORDER BY ts",
            params,
        )
        return [FaultEvent(m, ts, k, f, s, json.loads(p)) for m, ts, k, f, s, p in rows]

    def read_alarms(self, active_only: bool = False, since_ms: int | None = None) -> list[Alarm]:
        where, params = _range("ts", since_ms, None)
        if active_only:
            where += " AND active = 1"
        rows = self._query(
            "SELECT alarm_id, series, ts, rules, value, active, message, cleared_ms, acked_ms, acked_by "
            f"FROM alarms WHERE 1=1{where} ORDER BY ts",
            params,
        )
        return [
            Alarm(
                aid,
                series,
                ts,
                tuple(r for r in rules.split(",") if r),
                value,
                bool(active),
                msg,
                cl,
                ack,
                by,
            )
            for aid, series, ts, rules, value, active, msg, cl, ack, by in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _range(column: str, since_ms: int | None, until_ms: int | None) -> tuple[str, list[object]]:
    clauses, params = "", list[object]()
    if since_ms is not None:
        clauses += f" AND {column} >= ?"
        params.append(int(since_ms))
    if until_ms is not None:
        clauses += f" AND {column} < ?"
        params.append(int(until_ms))
    return clauses, params


def _with_time(frame: pd.DataFrame) -> pd.DataFrame:
    frame["ts"] = pd.to_datetime(frame["ts"], unit="ms", utc=True)
    return frame
