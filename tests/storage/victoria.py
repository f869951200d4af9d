"""A private victoria-metrics on a free loopback port: a real server speaking the InfluxDB v2 write API.

It keeps what InfluxDB keeps for our purposes: every point of a float field with its tags and its millisecond
timestamp (measurement `m`, field `f` become metric `m_f`; string fields are not kept). Started with
`-dedup.minScrapeInterval=1ms` so a point written twice is kept once, as InfluxDB does. Points become visible
to `/api/v1/export` a moment after the write; `export` flushes and polls until the expected count is there.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from smartfactory.storage.influxconf import store_url

BINARY = shutil.which("victoria-metrics")
TOKEN = "stand-in-token"  # victoria-metrics ignores it; the client needs one


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Series:
    labels: dict[str, str]
    points: dict[int, float] = field(default_factory=dict)


@dataclass
class VictoriaMetrics:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: BinaryIO | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def store_url(self, **options: object) -> str:
        return store_url(self.http_url, "smartfactory", "test", **options)

    def start(self, timeout: float = 20.0) -> None:
        assert BINARY is not None
        self._log = (self.data_dir.parent / "victoria.log").open("ab")
        self.process = subprocess.Popen(
            [
                BINARY,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.data_dir}",
                "-retentionPeriod=100y",
                "-search.latencyOffset=0s",
                "-dedup.minScrapeInterval=1ms",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.http_url}/health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"victoria-metrics did not answer on port {self.port} within {timeout} s")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM): victoria-metrics writes what it holds in memory before it exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def write_requests(self, at_least: int = 0, timeout: float = 10.0) -> int:
        """Write requests the server has counted; waits until `at_least` (it counts a moment after answering)."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(f"{self.http_url}/metrics", timeout=5) as answer:
                text = answer.read().decode()
            count = 0
            for line in text.splitlines():
                if line.startswith('vm_http_requests_total{path="/influx/write"'):
                    count = int(float(line.rsplit(" ", 1)[1]))
            if count >= at_least or time.monotonic() > deadline:
                return count
            time.sleep(0.05)

    def export(self, metric: str, expect: int | None = None, timeout: float = 30.0) -> list[Series]:
        """Every series of `metric` with its points; with `expect`, wait until that many points are visible."""
        deadline = time.monotonic() + timeout
        while True:
            urllib.request.urlopen(f"{self.http_url}/internal/force_flush", timeout=5).close()
            query = urllib.parse.urlencode({"match[]": f'{{__name__="{metric}"}}', "start": "0", "end": "4102444800"})
            with urllib.request.urlopen(f"{self.http_url}/api/v1/export?{query}", timeout=30) as answer:
                lines = answer.read().decode().splitlines()
            found: list[Series] = []
            for line in lines:
                item = json.loads(line)
                labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
                found.append(Series(labels, dict(zip(item["timestamps"], item["values"], strict=True))))
            if expect is None or sum(len(s.points) for s in found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
