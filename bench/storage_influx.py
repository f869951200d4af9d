"""InfluxDB writer: readings/s through `InfluxStorage.write_readings` into a real v2 write API (victoria-metrics).

Figure: readings/s of the batching writer (line-protocol strings, `batch` lines per request), for ingestion-sized
calls of `--call` readings. Baseline, same run, same server, same request size: influxdb-client with one
`Point` object per reading (the client's documented way), synchronous. Goal ≥ 100,000 readings/s.
At the end every point is counted back through the export API (nothing may be missing).

    python bench/storage_influx.py [--readings 200000] [--series 50] [--call 5000] [--batch 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from smartfactory.model import Reading
from smartfactory.storage.influx import InfluxStorage
from smartfactory.storage.influxconf import store_url
from smartfactory.wire import series_path

T0 = 1_700_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_victoria(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        sys.exit("victoria-metrics is not installed: apt-get install victoria-metrics")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={data}",
            "-retentionPeriod=100y",
            "-dedup.minScrapeInterval=1ms",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.05)
    sys.exit("victoria-metrics did not start")


def readings(n: int, series: int, offset: int) -> list[Reading]:
    names = [f"bench/plant1/area-{s % 5}/line-{s % 10}/m-{s:03d}/telemetry/temp" for s in range(series)]
    return [Reading(names[i % series], T0 + offset + i // series, 60.0 + (i % 997) * 0.01, "degC") for i in range(n)]


def ours(url: str, batch: list[Reading], call: int, request_lines: int) -> float:
    store = InfluxStorage(store_url(url, "bench", "bench", batch=request_lines), token="bench")
    start = time.perf_counter()
    for first in range(0, len(batch), call):
        store.write_readings(batch[first : first + call])
    rate = len(batch) / (time.perf_counter() - start)
    store.close()
    return rate


def points_baseline(url: str, batch: list[Reading], request_lines: int) -> float:
    """influxdb-client's own way: a Point per reading (tags, field, time), written synchronously."""
    with InfluxDBClient(url=url, token="bench", org="bench") as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        start = time.perf_counter()
        for first in range(0, len(batch), request_lines):
            points = []
            for r in batch[first : first + request_lines]:
                path, sensor = series_path(r.series)
                point = (
                    Point("reading")
                    .tag("enterprise", path.enterprise)
                    .tag("site", path.site)
                    .tag("area", path.area)
                    .tag("line", path.line)
                    .tag("machine", path.machine)
                    .tag("sensor", sensor)
                    .field("value", r.value)
                    .time(r.ts_ms, WritePrecision.MS)
                )
                if r.unit is not None:
                    point.field("unit", r.unit)
                points.append(point)
            write.write(bucket="bench", org="bench", record=points, write_precision=WritePrecision.MS)
        return len(batch) / (time.perf_counter() - start)


def count_points(url: str, expect: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        urllib.request.urlopen(f"{url}/internal/force_flush", timeout=10).close()
        query = urllib.parse.urlencode({"match[]": '{__name__="reading_value"}', "start": "0", "end": "4102444800"})
        with urllib.request.urlopen(f"{url}/api/v1/export?{query}", timeout=120) as answer:
            total = sum(len(json.loads(line)["timestamps"]) for line in answer.read().decode().splitlines())
        if total >= expect:
            break
        time.sleep(0.5)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--call", type=int, default=5000, help="readings per write_readings call")
    parser.add_argument("--batch", type=int, default=5000, help="lines per HTTP request (?batch= in the URL)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_victoria(Path(tmp) / "vm")
        try:
            rates, baselines, written = [], [], 0
            for round_no in range(args.repeat):
                # distinct timestamps each round, so every point is new and all can be counted back
                rates.append(
                    ours(url, readings(args.readings, args.series, 2 * round_no * args.readings), args.call, args.batch)
                )
                baselines.append(
                    points_baseline(
                        url, readings(args.readings, args.series, (2 * round_no + 1) * args.readings), args.batch
                    )
                )
                written += 2 * args.readings
            ingestion_sized = ours(
                url, readings(args.readings, args.series, 2 * args.repeat * args.readings), 1000, args.batch
            )
            written += args.readings
            stored = count_points(url, written)
        finally:
            process.terminate()
            process.wait(30)
    figure, baseline = statistics.median(rates), statistics.median(baselines)
    print(
        json.dumps(
            {
                "influx_write": {
                    "readings_per_s": round(figure),
                    "goal_per_s": 100_000,
                    "baseline_point_objects_per_s": round(baseline),
                    "ratio": round(figure / baseline, 2),
                    "readings_per_s_with_1000_per_call": round(ingestion_sized),
                    "readings": args.readings,
                    "series": args.series,
                    "call": args.call,
                    "lines_per_request": args.batch,
                    "repeats": args.repeat,
                },
                "check": {"written": written, "counted_back": stored, "complete": stored == written},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
