"""Benchmark `smartfactory spc analyze` end to end on CSV files of 10k, 100k, 1M and 10M points.

Each size: a CSV of individuals (columns ``i,x``, a mean shift in the second half so that the rules fire) in a
temporary folder; then the whole process ``smartfactory spc analyze FILE --chart imr --value x --phase1 1000
--rules all --format json`` (CSV in, JSON out to a file), measuring wall seconds, the child's peak RSS (GNU
``time``'s ``%M``) and the output size. The baseline, measured in the same run and interleaved with it, is the floor
of any CSV tool in Python: a process that only reads the file with pandas (``pd.read_csv``). qcc's 17.8 s for
1M points is quoted from issue 17 (not measured here: no R on this machine).

Prints JSON. Goal (issue 17): ≤ 3 s and ≤ 500 MB at 1M points. Usage:
``python bench/spc_analyze.py [--sizes 10000,100000,1000000,10000000] [--repeat 3] [--modes json,violations,parquet]``
(sizes above 1M run once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

QCC_1M_SECONDS = 17.8  # issue 17: qcc 2.7, I chart with two rules, 1M points (quoted, not measured here)
GOAL_SECONDS, GOAL_RSS_MB = 3.0, 500.0
MODES = {
    "json": ["--format", "json"],
    "violations": ["--format", "json", "--points", "violations"],
    "parquet": ["--format", "parquet"],
}


def write_csv(path: Path, n: int, seed: int = 17) -> None:
    """n individuals with 6 decimals (as a gauge writes them), in chunks so 10M points fit in memory easily."""
    rng = np.random.default_rng(seed)
    with path.open("wb") as out:
        options = pacsv.WriteOptions(include_header=True)
        for start in range(0, n, 1_000_000):
            size = min(1_000_000, n - start)
            x = rng.normal(10.0, 1.0, size) + np.where(np.arange(start, start + size) >= n // 2, 0.5, 0.0)
            table = pa.table({"i": np.arange(start, start + size), "x": np.round(x, 6)})
            pacsv.write_csv(table, out, write_options=options)
            options = pacsv.WriteOptions(include_header=False)


def smartfactory_command() -> list[str]:
    script = Path(sys.executable).with_name("smartfactory")
    return [str(script)] if script.exists() else [sys.executable, "-m", "smartfactory"]


TIME = Path("/usr/bin/time")  # GNU time: the peak RSS of exactly the measured process


def measure(command: list[str], stdout_path: Path | None, scratch: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one child process; its stdout goes to
    ``stdout_path`` (or nowhere). CPU seconds tell more than wall seconds when other work shares the cores.

    The RSS comes from GNU time's ``%M`` when it is installed: a child forked from this (large) benchmark process
    would otherwise report the parent's pages as its own peak. Without it, ``os.wait4``'s ``ru_maxrss``.
    """
    rss_file = scratch / "rss.txt"
    wrapped = [str(TIME), "-f", "%M %U %S", "-o", str(rss_file), *command] if TIME.exists() else command
    with open(stdout_path or os.devnull, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {err}")
    if TIME.exists():
        kib, user, system = rss_file.read_text().split()[-3:]
        kib_used, cpu = int(kib), float(user) + float(system)
    else:
        kib_used, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime  # Linux: ru_maxrss in KiB
    return {"seconds": wall, "cpu_seconds": cpu, "rss_mb": kib_used / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size up to 1M (median); above, one")
    parser.add_argument("--modes", default="json", help=f"comma-separated among {', '.join(MODES)}")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    analyze = [*smartfactory_command(), "spc", "analyze"]
    chart = ["--chart", "imr", "--value", "x", "--phase1", "1000", "--rules", "all"]
    read_only = [sys.executable, "-c", "import sys, pandas; pandas.read_csv(sys.argv[1])"]
    rows: list[dict[str, Any]] = []
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="spc-bench-") as tmp:
        folder = Path(tmp)
        startup = measure([*analyze, "--help"], None, folder)
        for n in sizes:
            csv_path = folder / f"x{n}.csv"
            write_csv(csv_path, n)
            repeat = args.repeat if n <= 1_000_000 else 1
            floor_runs: list[dict[str, float]] = []
            runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
            out_bytes: dict[str, int] = {}
            for _ in range(repeat):  # interleaved, so both see the same load on this shared machine
                floor_runs.append(measure([*read_only, str(csv_path)], None, folder))
                for mode in modes:
                    out = folder / f"out{n}.{mode}"
                    runs[mode].append(measure([*analyze, str(csv_path), *chart, *MODES[mode]], out, folder))
                    out_bytes[mode] = out.stat().st_size
                    if mode != "parquet" and n <= 100_000:  # a sanity check on the smaller outputs
                        doc = json.loads(out.read_text())
                        assert len(doc["points"]) == n or mode == "violations", "every point is listed"
                    out.unlink()
            floor_s = statistics.median(r["seconds"] for r in floor_runs)
            row: dict[str, Any] = {
                "points": n,
                "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
                "runs": repeat,
                "baseline_pandas_read_csv_seconds": round(floor_s, 3),
                "baseline_pandas_read_csv_best_seconds": round(min(r["seconds"] for r in floor_runs), 3),
                "baseline_pandas_read_csv_cpu_seconds": round(
                    statistics.median(r["cpu_seconds"] for r in floor_runs), 3
                ),
                "baseline_pandas_read_csv_rss_mb": round(max(r["rss_mb"] for r in floor_runs), 1),
            }
            for mode in modes:
                secs = statistics.median(r["seconds"] for r in runs[mode])
                row[mode] = {
                    "seconds": round(secs, 3),
                    "best_seconds": round(min(r["seconds"] for r in runs[mode]), 3),  # least disturbed run
                    "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs[mode]), 3),
                    "peak_rss_mb": round(max(r["rss_mb"] for r in runs[mode]), 1),
                    "output_mb": round(out_bytes[mode] / 1e6, 2),
                    "ratio_to_read_csv": round(secs / floor_s, 2),
                }
            if n == 1_000_000 and "json" in modes:
                row["json"]["ratio_to_qcc_quoted"] = round(row["json"]["seconds"] / QCC_1M_SECONDS, 3)
                row["json"]["goal_met"] = bool(
                    row["json"]["seconds"] <= GOAL_SECONDS and row["json"]["peak_rss_mb"] <= GOAL_RSS_MB
                )
            csv_path.unlink()
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)  # progress: the 10M file takes a while
    result = {
        "benchmark": "spc_analyze",
        "command": " ".join(["smartfactory spc analyze FILE", *chart, "--format json"]),
        "goal_at_1M": {"seconds": GOAL_SECONDS, "peak_rss_mb": GOAL_RSS_MB},
        "reference_qcc_1M_seconds": {
            "value": QCC_1M_SECONDS,
            "source": "quoted from issue 17 (qcc 2.7, I chart with two rules), not measured here",
        },
        "startup_seconds_spc_analyze_help": round(startup["seconds"], 3),
        "sizes": rows,
        "cpus": os.cpu_count(),
        "load_average_1min_at_start_and_end": [load_start, round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": pa.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
