"""Classroom load: N student plants on this machine (`smartfactory classroom start`, SPC live), for N = 10, 20, 40.

Per class size, processes: `smartfactory classroom start --no-dashboard` (the real mosquitto with the class
configuration, one ingestion with the live monitor into one SQLite store, one simulated plant per student, speed
1); a dashboard process (`--role dashboard`) rendering, every 10 s, the lecturer's class overview and a
student's own page headless (Streamlit's AppTest, the page scripts as served; server side only, no browser); and
this process, which

- publishes a probe reading every 100 ms with the first student's account into its namespace (QoS 1, `ts` = send time),
- polls the SQLite file read-only every 2 ms and notes when each probe becomes queryable (publish → queryable),
- receives the same probes as a plain subscriber on the same broker (the lecturer's account): publish → received,
  the transport alone under the same load: the baseline,
- reads the broker's own counters ($SYS: messages received and sent per second, 1-minute averages) and the CPU
  time of every process.

The first minutes after a start are slower than the steady state (the live monitor designs detectors for every
new series as the plants announce them, on ingestion's writer thread): `--warmup` chooses which one is measured.

Largest class carried: the largest N whose publish → queryable p99 is ≤ 250 ms (the ingestion issue's goal).

    python bench/classroom_load.py [--sizes 10,20,40] [--window 60] [--warmup 15]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import free_port, percentile

from smartfactory.settings import BrokerAddress

#: The probe's place below the first student's namespace (`lab/student-01`, or `lab/student-001` from 100 students)
PROBE_PATH = "bench/probe/probe-01/telemetry/latency"


def first_student(folder: Path) -> tuple[str, str]:
    """(username, namespace) of the class's first student: the probe's account and the student page rendered."""
    from smartfactory.classroom.roster import ClassDir

    first = ClassDir(folder).info().students[0]
    return first.username, first.namespace


PROBE_EVERY_S = 0.1
POLL_S = 0.002
GOAL_P99_MS = 250.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: mosquitto's running totals (sent every sys_interval, 10 s): rates are their differences over the window
SYS_COUNTERS = ("publish/messages/received", "publish/messages/sent", "messages/received", "messages/sent")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)


def per_second(samples: dict[str, list[tuple[float, float]]], since: float, until: float) -> dict[str, float]:
    """Rates of mosquitto's running totals over the samples that arrived in [since, until]."""
    out = {}
    for topic, points in sorted(samples.items()):
        inside = [(t, v) for t, v in points if since <= t <= until]
        if topic.endswith("clients/connected") and inside:
            out["clients_connected"] = inside[-1][1]
        elif len(inside) >= 2 and inside[-1][0] > inside[0][0]:
            (t0, v0), (t1, v1) = inside[0], inside[-1]
            out[f"{topic.removeprefix('$SYS/broker/')}_per_s"] = round((v1 - v0) / (t1 - t0), 1)
    return out


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def summary(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"n": 0}
    return {
        "p50_ms": round(percentile(values_ms, 50), 1),
        "p99_ms": round(percentile(values_ms, 99), 1),
        "max_ms": round(max(values_ms), 1),
        "n": len(values_ms),
    }


# ------------------------------------------------------------------------------------------ the dashboard role


def dashboard_role(folder: Path, window: float, out: Path) -> None:
    """Render the lecturer's class overview and the first student's page every 10 s; write the render times."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from smartfactory.classroom.roster import ClassDir
    from smartfactory.settings import PROJECT_ROOT

    app_file = str(PROJECT_ROOT / "dashboard" / "app.py")
    accounts = ClassDir(folder).accounts()
    apps: dict[str, AppTest] = {}
    for user in ("lecturer", first_student(folder)[0]):
        app = AppTest.from_file(app_file, default_timeout=120)
        app.run()
        app.text_input(key="classroom_username").input(user)
        app.text_input(key="classroom_password").input(accounts[user].password)
        app.button[0].click()
        app.run()
        if app.exception:
            raise RuntimeError(f"{user}: {[e.message for e in app.exception]}")
        apps[user] = app
    times: dict[str, list[float]] = {user: [] for user in apps}
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        for user, app in apps.items():
            st.cache_data.clear()  # every render reads the store afresh, as the first viewer after a TTL does
            began = time.perf_counter()
            app.run()
            times[user].append((time.perf_counter() - began) * 1000)
            if app.exception:
                raise RuntimeError(f"{user}: {[e.message for e in app.exception]}")
        time.sleep(max(0.0, 10 - sum(t[-1] for t in times.values()) / 1000))
    out.write_text(json.dumps(times))


# ------------------------------------------------------------------------------------------ one class size


class Probe:
    """Publishes a probe reading every 100 ms; notes when each is received (plain subscriber) and queryable."""

    def __init__(self, address: BrokerAddress, student: tuple[str, str], lecturer: tuple[str, str], topic: str) -> None:
        from smartfactory.edge.mqtt import Message, MqttClient

        self.topic = topic

        self.sent: dict[int, float] = {}
        self.received: dict[int, float] = {}
        self.queryable: dict[int, float] = {}
        self.sys: dict[str, list[tuple[float, float]]] = {}
        self._stop = threading.Event()

        def on_message(message: Message) -> None:
            now = time.time()
            if message.topic == topic:
                self.received.setdefault(json.loads(message.payload)["ts"], now)
            elif message.topic.startswith("$SYS/"):
                self.sys.setdefault(message.topic, []).append((now, float(message.payload)))

        host, port = address.host, address.port
        self.watch = MqttClient(BrokerAddress(host, port, *lecturer), on_message=on_message)
        self.watch.subscribe(topic, qos=1)
        for counter in SYS_COUNTERS:
            self.watch.subscribe(f"$SYS/broker/{counter}", qos=0)
        self.watch.subscribe("$SYS/broker/clients/connected", qos=0)
        self.watch.connect(10)
        self.pub = MqttClient(BrokerAddress(host, port, *student))
        self.pub.connect(10)
        self.threads: list[threading.Thread] = []

    def start(self, db: Path) -> None:
        self.threads = [threading.Thread(target=self._publish, daemon=True),
                        threading.Thread(target=self._poll, args=(db,), daemon=True)]  # fmt: skip
        for thread in self.threads:
            thread.start()

    def _publish(self) -> None:
        began = time.monotonic()
        n = 0
        while not self._stop.is_set():
            delay = began + n * PROBE_EVERY_S - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            ts = int(time.time() * 1000)
            if ts in self.sent:
                ts += 1
            self.sent[ts] = time.time()
            self.pub.publish(self.topic, b'{"value":1.0,"ts":%d}' % ts, qos=1)
            n += 1

    def _poll(self, db: Path) -> None:
        reader: sqlite3.Connection | None = None
        series_id = None
        last = 0
        while not self._stop.is_set():
            try:
                if reader is None:
                    reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
                if series_id is None:
                    row = reader.execute("SELECT id FROM series WHERE topic = ?", (self.topic,)).fetchone()
                    series_id = row[0] if row else None
                if series_id is not None:
                    rows = reader.execute(
                        "SELECT ts FROM readings WHERE series_id = ? AND ts > ? ORDER BY ts", (series_id, last)
                    ).fetchall()
                    now = time.time()
                    for (ts,) in rows:
                        self.queryable.setdefault(ts, now)
                    if rows:
                        last = rows[-1][0]
            except sqlite3.OperationalError:  # the store is not created yet
                reader = None
            time.sleep(POLL_S)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for thread in self.threads:
            thread.join(5)
        self.pub.close()
        self.watch.close()

    def latencies(self, since: float, until: float) -> tuple[list[float], list[float], int]:
        """(publish → queryable, publish → received) in ms of the probes sent in [since, until); and how many of
        them never became queryable."""
        window = [ts for ts, sent in self.sent.items() if since <= sent < until]
        queryable = [(self.queryable[ts] - self.sent[ts]) * 1000 for ts in window if ts in self.queryable]
        received = [(self.received[ts] - self.sent[ts]) * 1000 for ts in window if ts in self.received]
        return queryable, received, len(window) - len(queryable)

    def p99_by_slice(self, since: float, until: float, slice_s: float = 10.0) -> list[float | None]:
        """Publish → queryable p99 of each `slice_s` of the window: whether a slow stretch is passing or lasting."""
        out: list[float | None] = []
        for index in range(max(1, round((until - since) / slice_s))):
            t = since + index * slice_s
            lat = [(self.queryable[ts] - sent) * 1000 for ts, sent in self.sent.items()
                   if t <= sent < t + slice_s and ts in self.queryable]  # fmt: skip
            out.append(round(percentile(lat, 99), 1) if lat else None)
        return out


def readings_count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as reader:
        return int(reader.execute("SELECT count(*) FROM readings").fetchone()[0])


def measure(size: int, window: float, warmup: float, root: Path) -> dict[str, Any]:
    from smartfactory.classroom.roster import ClassDir
    from smartfactory.classroom.setup import ClassOptions, init_class

    folder = ClassDir(root / f"class-{size}")
    options = ClassOptions(
        students=size, port=free_port(), session_port=free_port(), dashboard_port=free_port(), class_seed=1
    )
    info = init_class(folder, options)
    accounts = folder.accounts()
    student, namespace = first_student(folder.root)
    dashboard = accounts["sf-dashboard"]
    dashboard_url = BrokerAddress("127.0.0.1", info.port, dashboard.username, dashboard.password).url(masked=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env["SMARTFACTORY_LOG_LEVEL"] = "ERROR"
    start = subprocess.Popen(
        [sys.executable, "-m", "smartfactory", "classroom", "start", "--dir", str(folder.root), "--no-dashboard"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    dash_out = root / f"dashboard-{size}.json"
    probe: Probe | None = None
    dash: subprocess.Popen[bytes] | None = None
    try:
        address = BrokerAddress("127.0.0.1", info.port)
        deadline = time.monotonic() + 60
        while True:
            try:
                probe = Probe(address, (student, accounts[student].password),
                              ("lecturer", accounts["lecturer"].password), f"{namespace}/{PROBE_PATH}")  # fmt: skip
                break
            except Exception:
                if time.monotonic() > deadline or start.poll() is not None:
                    raise
                time.sleep(0.5)
        probe.start(folder.store_file)
        dash_env = {**env, "SMARTFACTORY_STORE": f"sqlite:///{folder.store_file}",
                    "SMARTFACTORY_DASHBOARD__CLASSROOM_DIR": str(folder.root),
                    "SMARTFACTORY_MQTT_URL": dashboard_url}  # fmt: skip
        dash = subprocess.Popen(
            [sys.executable, __file__, "--role", "dashboard", "--dir", str(folder.root), "--window",
             str(window + warmup), "--out", str(dash_out)], env=dash_env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(warmup)
        pids = {"classroom start": start.pid, **{comm(p): p for p in children(start.pid)}, "dashboard": dash.pid}
        cpu0 = {name: cpu_s(pid) for name, pid in pids.items()}
        rows0 = readings_count(folder.store_file)
        since = time.time()
        time.sleep(window)
        until = time.time()
        rows1 = readings_count(folder.store_file)
        cpu = {name: round((cpu_s(pid) - cpu0[name]) / window * 100, 1) for name, pid in pids.items()}
        dash.wait(240)
        time.sleep(2)  # the last probes of the window become queryable
        probe.stop()  # no probe is added while the figures are computed
        queryable, received, missing = probe.latencies(since, until)
        slices = probe.p99_by_slice(since, until)
        broker_rates = per_second(probe.sys, since, until)
    finally:
        if probe is not None:
            probe.stop()
        if dash is not None and dash.poll() is None:
            dash.kill()
        start.send_signal(signal.SIGINT)
        try:
            start.wait(60)
        except subprocess.TimeoutExpired:
            start.kill()
    renders = json.loads(dash_out.read_text()) if dash_out.is_file() else {}
    return {
        "students": size,
        "machines": size * 4,
        "publish_to_queryable": summary(queryable),
        "publish_to_queryable_p99_per_10s": slices,
        "not_queryable": missing,
        "baseline_publish_to_received": summary(received),
        "stored_readings_per_s": round((rows1 - rows0) / window, 1),
        "broker": broker_rates,
        "cpu_percent_of_one_core": cpu,
        "dashboard_render_ms": {
            ("class overview (lecturer)" if user == "lecturer" else "my plant (student)"): summary(values)
            for user, values in renders.items()
        },
    }


def ratio(result: dict[str, Any]) -> float | None:
    figure, baseline = result["publish_to_queryable"], result["baseline_publish_to_received"]
    if not figure.get("n") or not baseline.get("n") or not baseline["p99_ms"]:
        return None
    return round(figure["p99_ms"] / baseline["p99_ms"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,20,40")
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--role", default="bench", choices=["bench", "dashboard"])
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.role == "dashboard":
        dashboard_role(args.dir, args.window, args.out)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="sf-bench-classroom-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            result = measure(size, args.window, args.warmup, Path(tmp))
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
    carried = [r["students"] for r in results if r["publish_to_queryable"].get("p99_ms", 1e9) <= GOAL_P99_MS]
    print(
        json.dumps(
            {
                "benchmark": "classroom_load",
                "window_s": args.window,
                "goal": f"publish -> queryable p99 <= {GOAL_P99_MS:g} ms",
                "sizes": results,
                "ratio_p99_queryable_over_received": {
                    r["students"]: round(
                        r["publish_to_queryable"]["p99_ms"] / r["baseline_publish_to_received"]["p99_ms"], 1
                    )
                    for r in results
                    if r["publish_to_queryable"].get("n") and r["baseline_publish_to_received"].get("n")
                },
                "largest_class_within_goal": max(carried) if carried else None,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
