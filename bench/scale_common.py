"""Shared parts of the scale benchmarks (bench/scale_*.py): the plant's message stream, a paced publisher,
`smartfactory ingest` as a process, CPU per process.

The stream is what the simulator itself publishes for a generated plant (bench/plant_generator.py): the plant
runs in `smartfactory.sim.engine.Simulation` with the shipped machine types (or bench/simulators' racks), its
records go through the simulator's own `Encoder` (one grouped telemetry message per machine and sampling instant,
as in live mode; `ticks_per_message` > 1 gives the `batch` messages of a backfill), and only telemetry is kept.
Generating costs ~40 µs per reading, so a stream is cached under /tmp/smartfactory-bench (keyed by its
parameters) and replayed: its timestamps lie in the past, which ingestion accepts and charts like any reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import machine_info as machine_info  # re-exported for the scale scripts
from plant_generator import BENCH_SIMULATORS, plant_toml

from smartfactory.settings import PROJECT_ROOT, BrokerAddress

CACHE = Path("/tmp/smartfactory-bench")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Msg:
    """One telemetry message of the stream: sim time offset, machine index, topic, payload, readings."""

    offset_ms: int
    machine: int
    topic: str
    payload: bytes
    readings: int


@dataclass(frozen=True, slots=True)
class Stream:
    machines: int
    sensors: int | None
    rate_hz: float | None
    duration_s: float
    start_ms: int
    messages: list[Msg]

    def first(self, machines: int) -> list[Msg]:
        """The messages of the first `machines` machines (a smaller plant of the same kind)."""
        return [m for m in self.messages if m.machine < machines]

    def readings_per_machine_s(self) -> float:
        return sum(m.readings for m in self.messages) / self.machines / self.duration_s


def simulators_dir(sensors: int | None) -> Path:
    """The shipped simulators of the smartfactory imported (PYTHONPATH may point at another checkout), or the
    bench-local racks."""
    return PROJECT_ROOT / "simulators" if sensors is None else BENCH_SIMULATORS


def plant_stream(
    machines: int,
    sensors: int | None,
    rate_hz: float | None,
    duration_s: float,
    *,
    ticks_per_message: int = 1,
    seed: int = 7,
) -> Stream:
    """The telemetry the simulator publishes for the generated plant over `duration_s` (cached)."""
    key = json.dumps([str(PROJECT_ROOT), machines, sensors, rate_hz, duration_s, ticks_per_message, seed, 2]).encode()
    path = CACHE / f"scale-stream-{hashlib.sha1(key).hexdigest()[:12]}.pkl"
    if path.exists():
        cached: Stream = pickle.loads(path.read_bytes())
        return cached
    from smartfactory.plant import parse_plant
    from smartfactory.sim.encode import Encoder
    from smartfactory.sim.engine import Simulation
    from smartfactory.sim.loader import discover
    from smartfactory.wire import MessageClass

    plant = parse_plant(plant_toml(machines, sensors=sensors, rate_hz=rate_hz), "<generated>")
    catalog = discover(simulators_dir(sensors))  # the shipped types of the smartfactory being measured
    start_ms = (int(time.time()) - 7200) * 1000
    sim = Simulation(plant, catalog, seed=seed, start_ms=start_ms, shifts=False, record_truth=False)
    encoder = Encoder(sim.machines, ticks_per_message=ticks_per_message, max_samples=1000)
    index = {placed.telemetry_topic: i for i, placed in enumerate(sim.machines)}
    out: list[Msg] = []
    step_ms = 1000
    for until in range(start_ms + step_ms, start_ms + int(duration_s * 1000) + 1, step_ms):
        outgoing = encoder.encode(sim.advance(until))
        if until >= start_ms + int(duration_s * 1000):
            outgoing += encoder.flush()
        for o in outgoing:
            if o.cls is MessageClass.TELEMETRY:
                out.append(Msg(_last_ts(o.payload) - start_ms, index[o.topic], o.topic, o.payload, o.readings))
    out.sort(key=lambda m: (m.offset_ms, m.machine))
    stream = Stream(machines, sensors, rate_hz, duration_s, start_ms, out)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(stream, protocol=pickle.HIGHEST_PROTOCOL))
    return stream


def _last_ts(payload: bytes) -> int:
    from smartfactory.wire import parse_ts

    body = json.loads(payload)
    if "batch" in body:
        return int(body["batch"][-1]["ts"])
    return parse_ts(body["ts"])


def instants(body: dict[str, Any]) -> list[tuple[int, dict[str, float]]]:
    """(ts ms, values) of every instant in a telemetry body: inline, `batch`, or one reading (`value`)."""
    from smartfactory.wire import parse_ts

    if "batch" in body:
        return [(parse_ts(item["ts"]), item["values"]) for item in body["batch"]]
    return [(parse_ts(body["ts"]), body["values"])]


def single_readings(messages: Sequence[Msg]) -> list[Msg]:
    """The same readings as one-reading messages (`…/telemetry/SENSOR`, `{"value", "ts", "unit"}`)."""
    from smartfactory.wire import format_ts

    out: list[Msg] = []
    for m in messages:
        body = json.loads(m.payload)
        units = body.get("units", {})
        for ts, values in instants(body):
            for sensor, value in values.items():
                single = {"value": value, "ts": format_ts(ts), "unit": units.get(sensor)}
                payload = json.dumps(single, separators=(",", ":"), ensure_ascii=False).encode()
                out.append(Msg(m.offset_ms, m.machine, f"{m.topic}/{sensor}", payload, 1))
    return out


def reading_keys(message: Msg) -> list[tuple[str, int]]:
    """(series id, ts ms) of every reading in a message."""
    from smartfactory.wire import parse_ts

    body = json.loads(message.payload)
    if "value" in body:
        return [(message.topic, parse_ts(body["ts"]))]
    return [(f"{message.topic}/{sensor}", ts) for ts, values in instants(body) for sensor in values]


# ------------------------------------------------------------------------------------- the paced publisher


def publisher_main(port: int, messages_file: Path, rate: float, probes_file: Path, out: Path) -> None:
    """Child process: publish the pickled (topic, payload) list at `rate` messages/s (QoS 1, spread evenly);
    write the wall-clock send time of every message index listed in `probes_file` to `out`."""
    from smartfactory.edge.mqtt import MqttClient

    messages: list[tuple[str, bytes]] = pickle.loads(messages_file.read_bytes())
    probes = set(json.loads(probes_file.read_text()))
    client = MqttClient(BrokerAddress("127.0.0.1", port), client_id=f"scale-pub-{os.getpid()}", max_outstanding=5000)
    client.connect()
    sent: dict[int, float] = {}
    cpu0 = time.process_time()
    began = time.perf_counter()
    behind_max = 0.0
    for seq, (topic, payload) in enumerate(messages):
        delay = began + seq / rate - time.perf_counter()
        if delay > 0.0005:
            time.sleep(delay)
        else:
            behind_max = max(behind_max, -delay)
        if seq in probes:
            sent[seq] = time.time()
        client.publish(topic, payload, qos=1)
    elapsed = time.perf_counter() - began
    client.wait_published(120)
    client.close()
    result = {"sent": sent, "elapsed_s": elapsed, "cpu_s": time.process_time() - cpu0, "behind_max_s": behind_max}
    out.write_text(json.dumps(result))


def start_publisher(
    tmp: Path, port: int, messages: Sequence[Msg], rate: float, probes: Sequence[int]
) -> tuple[subprocess.Popen[bytes], Path]:
    tag = uuid.uuid4().hex[:6]
    messages_file, probes_file, out = tmp / f"pub-{tag}.pkl", tmp / f"probes-{tag}.json", tmp / f"sent-{tag}.json"
    messages_file.write_bytes(pickle.dumps([(m.topic, m.payload) for m in messages]))
    probes_file.write_text(json.dumps(list(probes)))
    args = [sys.executable, __file__, "publish", str(port), str(messages_file), str(rate), str(probes_file), str(out)]
    return subprocess.Popen(args), out


# ------------------------------------------------------------------------------------- processes


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def sched_seconds(pid: int) -> tuple[float, float]:
    """(on-CPU, runnable-but-waiting-for-a-CPU) seconds of all threads of a process, from
    /proc/PID/task/*/schedstat (nanoseconds). The second is the time the cores were the limit."""
    run = wait = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "schedstat").read_text().split()
        except OSError:  # the thread ended meanwhile
            continue
        run += int(fields[0])
        wait += int(fields[1])
    return run / 1e9, wait / 1e9


def ingest_env(tmp: Path, **settings: object) -> dict[str, str]:
    """The environment of a `smartfactory ingest` process: no inherited SMARTFACTORY_* variables, the data
    folder in `tmp`, warnings only, health every 0.5 s, series caps raised above the benchmarks' counts, plus
    `settings` as SMARTFACTORY_NAME variables (e.g. MQTT__FAST_READER="true")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env.update(
        {
            "SMARTFACTORY_DATA_DIR": str(tmp),
            "SMARTFACTORY_LOG_LEVEL": "WARNING",
            "SMARTFACTORY_INGEST__HEALTH_INTERVAL": "0.5",
            "SMARTFACTORY_INGEST__MAX_SERIES": "200000",
            "SMARTFACTORY_INGEST__MAX_SERIES_PER_MACHINE": "1000",
        }
    )
    env.update({f"SMARTFACTORY_{k.upper()}": str(v) for k, v in settings.items()})
    return env


class Health:
    """The newest health message of each ingestion worker (`_sf/health/#`)."""

    def __init__(self, address: BrokerAddress) -> None:
        from smartfactory.edge.mqtt import Message, MqttClient

        self.latest: dict[str, dict[str, Any]] = {}

        def take(message: Message) -> None:
            self.latest[message.topic.rsplit("/", 1)[-1]] = json.loads(message.payload)

        self._client = MqttClient(address, on_message=take)
        self._client.subscribe("_sf/health/#", qos=0)
        self._client.connect()

    def stored(self, worker: str) -> int:
        value = self.latest.get(worker, {}).get("stored", 0)
        return value if isinstance(value, int) else 0

    def wait_ok(self, worker: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.latest.get(worker, {}).get("state") != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingestion worker {worker} did not report ok")
            time.sleep(0.05)

    def close(self) -> None:
        self._client.close()


@dataclass
class IngestProcess:
    process: subprocess.Popen[str]
    worker: str

    def stop(self, timeout: float = 60) -> dict[str, Any]:
        """SIGTERM (flush, ack, exit); the final health counters it prints."""
        self.process.send_signal(signal.SIGTERM)
        _, out = self.process.communicate(timeout=timeout)  # status lines go to stderr
        for line in reversed(out.splitlines()):
            if line.startswith("stopped: "):
                final: dict[str, Any] = json.loads(line[len("stopped: ") :])
                return final
        raise RuntimeError(f"ingestion {self.worker} printed no final counters: {out[-500:]!r}")


def start_ingest_process(
    address: BrokerAddress, db: Path, worker: str, env: dict[str, str], group: str | None = None
) -> IngestProcess:
    command = [sys.executable, "-m", "smartfactory", "ingest", "--mqtt-url", address.url(masked=False)]
    command += ["--store", f"sqlite:///{db}", "--client-id", worker]
    if group:
        command += ["--group", group]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return IngestProcess(process, worker)


class CpuWatch:
    """Per named process between `start()` and `stop()`: CPU used and time spent runnable but waiting for a
    core, each as a fraction of the wall time (1.0 = one core / one thread waiting all the time)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._begin: dict[str, tuple[float, float]] = {}
        self._t0 = 0.0
        self.result: dict[str, Any] = {}

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._begin = {name: sched_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self._t0
        out: dict[str, Any] = {}
        for name, pid in self.pids.items():
            run, wait = sched_seconds(pid)
            out[name] = {
                "cpu": round((run - self._begin[name][0]) / wall, 3),
                "waiting_for_cpu": round((wait - self._begin[name][1]) / wall, 3),
            }
        out["wall_s"] = round(wall, 2)
        self.result = out
        return out


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def run_in_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "publish":
        publisher_main(int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]), Path(sys.argv[6]))
    else:
        raise SystemExit("internal: python bench/scale_common.py publish PORT MESSAGES RATE PROBES OUT")
