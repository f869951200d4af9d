"""The cost of power-cut safety in SQLite: `synchronous=NORMAL` (the default) against `FULL`, same run, same disk.

WAL with NORMAL commits without an fsync (the WAL is synced at checkpoints): safe against kill -9, not against a
power cut. FULL fsyncs the WAL at every commit. Ingestion commits once per batch (group commit), so the cost
depends on how many readings share a commit:

- `store`: `SqliteStorage.write_readings` alone, commits of `--batch` readings (a busy plant) and of 1 reading
  (a trickle: every message its own commit, the worst case);
- `ingest`: `smartfactory ingest` draining a backlog of single-reading messages from a private mosquitto into
  each store (decode, SPC, write, acknowledge: what a deployment sees).

The files live in `--dir` (default: a temporary folder under the current directory, NOT /tmp, which may be a
RAM disk where an fsync costs nothing). Prints JSON: rates per mode, and FULL / NORMAL.

    python bench/sqlite_sync.py [--readings 200000] [--batch 1000] [--trickle 2000] [--messages 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import drain_rate, machine_info, median, private_broker, single_readings

from smartfactory.model import Reading
from smartfactory.settings import load_settings
from smartfactory.storage.sqlite import SqliteStorage

MODES = ("normal", "full")
SERIES = [f"bench/p/a/l/m{i}/telemetry/s" for i in range(10)]


def store_rate(folder: Path, mode: str, readings: int, batch: int) -> float:
    store = SqliteStorage(f"sqlite:///{folder / f'store-{uuid.uuid4().hex[:6]}.db'}?synchronous={mode}")
    try:
        rows = [Reading(SERIES[i % len(SERIES)], 1_700_000_000_000 + i, float(i)) for i in range(readings)]
        store.write_readings(rows[:1])  # the series rows exist before the clock starts
        started = time.perf_counter()
        for start in range(1, readings, batch):
            store.write_readings(rows[start : start + batch])
        return (readings - 1) / (time.perf_counter() - started)
    finally:
        store.close()


def ingest_rate(folder: Path, mode: str, messages: int) -> float:
    with private_broker(folder / f"broker-{mode}") as broker:
        settings = load_settings(
            mqtt_url=broker.address.url(masked=False),
            store=f"sqlite:///{folder / f'ingest-{uuid.uuid4().hex[:6]}.db'}?synchronous={mode}",
            data_dir=folder,
            ingest={"client_id": f"bench-{uuid.uuid4().hex[:6]}"},
        )
        rate, _ = drain_rate(settings, broker.address, single_readings(messages), messages, timeout=600)
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000, help="readings per store run, in batches")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--trickle", type=int, default=2000, help="readings written one commit each")
    parser.add_argument("--messages", type=int, default=10_000, help="messages per ingestion run (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    results: dict[str, dict[str, list[float]]] = {k: {m: [] for m in MODES} for k in ("batch", "trickle", "ingest")}
    with tempfile.TemporaryDirectory(prefix="sf-sync-", dir=args.dir or Path.cwd()) as name:
        folder = Path(name)
        for _ in range(args.repeat):
            for mode in MODES:  # interleaved, so drift in the machine's load hits both alike
                results["batch"][mode].append(store_rate(folder, mode, args.readings, args.batch))
                results["trickle"][mode].append(store_rate(folder, mode, args.trickle, 1))
                if args.messages:
                    results["ingest"][mode].append(ingest_rate(folder, mode, args.messages))

    out: dict[str, object] = {"machine": machine_info(), "args": {k: str(v) for k, v in vars(args).items()}}
    for kind, by_mode in results.items():
        if not by_mode["normal"]:
            continue
        normal, full = median(by_mode["normal"]), median(by_mode["full"])
        out[kind] = {
            "unit": "readings/s",
            "normal": round(normal),
            "full": round(full),
            "full_over_normal": round(full / normal, 3),
            "runs": {mode: [round(x) for x in values] for mode, values in by_mode.items()},
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
