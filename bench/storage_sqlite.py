"""SQLite store: write rate, "last 10,000 points" and a 24-hour downsampled query over a 10-million-row file.

Figures and same-run baselines (JSON on stdout):

- write: readings/s through `SqliteStorage.write_readings` in batches of 1,000 (ingestion's default), time
  interleaved across series like a live plant. Baseline: bare `sqlite3.executemany` of the same rows into the
  same table (no Reading objects, no series lookup): the floor of what SQLite itself costs.
- last_10k: `read_series(series, limit=10_000)` into a DataFrame, median of repeats. Goal ≤ 50 ms.
  Baseline: the bare SQL fetch of the same rows without building a DataFrame.
- downsample_24h: `read_aggregates(series, last 24 h, buckets=1000)`, median. Goal ≤ 200 ms.
  Baseline: what a dashboard would do without it: read the 24 h of raw points and aggregate them in pandas.

The big file has `--rows` readings of `--series` series at `--interval-ms` spacing (default 10 M rows,
100 series at 1 Hz: 27.8 h each). It is built once and reused (`--db`); building takes a minute or two.
`--series 10 --interval-ms 100` gives the dense case (10 Hz: 864,000 points in the 24 h window).

    python bench/storage_sqlite.py [--rows 10000000] [--series 100] [--interval-ms 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smartfactory.model import Reading
from smartfactory.storage.sqlite import SqliteStorage

T0 = 1_795_000_000_000
DAY_MS = 86_400_000


def series_name(i: int) -> str:
    return f"bench/plant1/area-{i // 20}/line-{i // 5}/m-{i:03d}/telemetry/temp"


def readings_for(step: int, count: int, series: int, interval_ms: int, rng: np.random.Generator) -> list[Reading]:
    """`count` time steps starting at step `step`, every series at each step (interleaved like live ingestion)."""
    values = rng.normal(60.0, 2.0, size=(count, series))
    return [
        Reading(series_name(s), T0 + (step + k) * interval_ms, float(values[k, s]), "degC")
        for k in range(count)
        for s in range(series)
    ]


def bench_write(rows: int, series: int, rounds: int = 3) -> dict[str, float]:
    """Alternate ours and the bare baseline `rounds` times (fresh files each time); report the medians."""
    rng = np.random.default_rng(1)
    per_step = max(1, 1000 // series)
    batches = [readings_for(k, per_step, series, 1000, rng) for k in range(0, rows // series, per_step)]
    ids = {series_name(s): s + 1 for s in range(series)}
    tuples = [[(ids[r.series], r.ts_ms, r.value) for r in batch] for batch in batches]
    total = sum(len(batch) for batch in batches)
    ours, raw = [], []
    for round_no in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStorage(f"sqlite:///{tmp}/write.db")
            start = time.perf_counter()
            for batch in batches:
                store.write_readings(batch)
            ours.append(total / (time.perf_counter() - start))
            store.close()
            db = sqlite3.connect(f"{tmp}/raw{round_no}.db", isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE readings (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, "
                "PRIMARY KEY (series_id, ts)) WITHOUT ROWID"
            )
            start = time.perf_counter()
            for batch_rows in tuples:
                db.execute("BEGIN")
                db.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?)", batch_rows)
                db.execute("COMMIT")
            raw.append(total / (time.perf_counter() - start))
            db.close()
    figure, baseline = statistics.median(ours), statistics.median(raw)
    return {
        "readings_per_s": round(figure),
        "baseline_raw_sqlite_per_s": round(baseline),
        "ratio": round(figure / baseline, 3),
        "rows_per_round": total,
        "rounds": rounds,
    }


def build(path: Path, rows: int, series: int, interval_ms: int) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    have = store.count_readings()
    if have >= rows:
        store.close()
        return
    rng = np.random.default_rng(7)
    steps, chunk = rows // series, max(1, 20_000 // series)
    start = time.perf_counter()
    for step in range(have // series, steps, chunk):
        store.write_readings(readings_for(step, min(chunk, steps - step), series, interval_ms, rng))
    print(f"# built {path} ({rows} rows) in {time.perf_counter() - start:.0f} s", flush=True)
    store.close()


def median_ms(action: Callable[[], object], repeat: int) -> float:
    action()  # warm the page cache once
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--write-rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None, help="big file (default /tmp/sf-bench-ROWS-SERIES-MS.db)")
    args = parser.parse_args()
    db = args.db or Path(tempfile.gettempdir()) / f"sf-bench-{args.rows}-{args.series}-{args.interval_ms}.db"

    result: dict[str, object] = {"write": bench_write(args.write_rows, args.series)}
    build(db, args.rows, args.series, args.interval_ms)
    store = SqliteStorage(f"sqlite:///{db}")
    total = store.count_readings()
    target = series_name(args.series // 2)
    last_ts = T0 + (args.rows // args.series - 1) * args.interval_ms
    since, until = last_ts + 1 - DAY_MS, last_ts + 1
    raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sid = raw.execute("SELECT id FROM series WHERE topic = ?", (target,)).fetchone()[0]

    last = median_ms(lambda: store.read_series(target, limit=10_000), args.repeat)
    last_raw = median_ms(
        lambda: raw.execute(
            "SELECT ts, value FROM readings WHERE series_id = ? ORDER BY ts DESC LIMIT 10000", (sid,)
        ).fetchall(),
        args.repeat,
    )
    result["last_10k"] = {
        "ms": last,
        "goal_ms": 50,
        "baseline_bare_sql_ms": last_raw,
        "ratio": round(last / last_raw, 2),
    }

    agg = store.read_aggregates(target, since, until, buckets=1000)
    window_points = int(agg["count"].sum())

    def client_side() -> object:
        frame = store.read_series(target, since, until)
        ms = frame["ts"].astype("datetime64[ms, UTC]").astype("int64")
        bucket = (ms - since) // -(-(until - since) // 1000)
        return frame.groupby(bucket)["value"].agg(["mean", "min", "max", "count"])

    down = median_ms(lambda: store.read_aggregates(target, since, until, buckets=1000), args.repeat)
    naive = median_ms(client_side, max(3, args.repeat // 2))
    store.RANGE_SCAN_BUCKETS = 0  # the single GROUP BY form read_aggregates used before (sorts every row)
    grouped = median_ms(lambda: store.read_aggregates(target, since, until, buckets=1000), max(3, args.repeat // 2))
    result["downsample_24h"] = {
        "ms": down,
        "goal_ms": 200,
        "buckets": len(agg),
        "points_in_window": window_points,
        "baseline_read_raw_and_pandas_ms": naive,
        "ratio": round(down / naive, 3),
        "group_by_form_ms": grouped,
    }
    result["file"] = {"rows": total, "series": args.series, "interval_ms": args.interval_ms, "path": str(db)}
    store.close()
    raw.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
