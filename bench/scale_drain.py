"""(2) Drain ratio: ingestion against the physical limit (`mosquitto_sub`, C) and a bare paho subscriber.

A backlog of the scale plant's grouped telemetry (bench/scale_common.py: the simulator's own messages for the
generated plant, shipped machine types, 10 Hz) waits at QoS 1 in a persistent session on a private mosquitto and
is drained, in the same run and interleaved (`--repeat`, median), by three consumers, each its own process:

- `smartfactory ingest` (SQLite, SPC on with the shipped rules), with the default reader (paho's public API)
  and with `SMARTFACTORY_MQTT__FAST_READER=true`; done when every probe series (one sensor of 8 machines spread
  over the plant) holds its last reading; then stopped and its stored count checked against the backlog;
- `mosquitto_sub -c -i ID -q 1 -t 'scale/+/+/+/+/telemetry/#' -C N > /dev/null` (the C client, persistent
  session, QoS 1, acknowledging every message): done when it exits after the N-th message;
- a bare paho subscriber (persistent session, auto-ack, `json.loads` per message): done at the N-th message.

Method ("held"): each consumer's session is created first; the consumer process is started, and once it is
connected and subscribed (ingestion: its health says ok) it is held still with SIGSTOP; the backlog is
published (the broker keeps it for that session, exactly as for an offline one) and the consumer released with
SIGCONT; the clock runs from SIGCONT to done. So the publisher never competes for the cores while a consumer is
timed, and process start-up is not counted for anyone.

Why not restart ingestion on an offline session's backlog: at the commit measured, a worker subscribes after
connecting and waits 5 s for the SUBACK, which mosquitto sends behind the queued messages; when reading the
backlog takes longer than that, the worker exits with "did not confirm the subscription within 5 s".
`--offline-check N` shows it: it parks an ingestion session, queues N messages and starts `smartfactory
ingest` on it once (reported as `offline_restart`).

Forms (`--forms`): `live` = one message per machine and sampling instant (the simulator in real time: 2.7
readings per message for the shipped mix); `batch` = 100 instants per message (the simulator running fast or
backfilling).

    python bench/scale_drain.py [--messages 40000] [--batch-messages 1000] [--repeat 3] [--offline-check 15000]
                                [--setting spc__rules=none ...]

Prints JSON per form: figure (ingestion msgs/s and readings/s per reader), baseline (mosquitto_sub, bare paho),
ratio (ingestion / mosquitto_sub, goal ≥ 0.5 for grouped messages; ingestion / bare paho), CPU per consumer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_harness import drop_session, median, private_broker, publish_all, workdir
from scale_common import (
    Health,
    Msg,
    ingest_env,
    load_now,
    machine_info,
    plant_stream,
    sched_seconds,
    start_ingest_process,
)
from scale_workers import Progress, probe_spans

from smartfactory.settings import BrokerAddress

Messages = list[tuple[str, bytes]]
TELEMETRY = "scale/+/+/+/+/telemetry/#"  # not the retained alarms ingestion publishes under scale/


def held_drain(address: BrokerAddress, messages: Messages, process: subprocess.Popen[Any],
               ready: Callable[[], None], done: Callable[[], bool]) -> dict[str, float]:  # fmt: skip
    """Wait until `ready`, SIGSTOP, publish, SIGCONT; seconds (and CPU) from SIGCONT until `done()`."""
    ready()
    os.kill(process.pid, signal.SIGSTOP)
    try:
        publish_all(address, messages)
    finally:
        run0, wait0 = sched_seconds(process.pid)
        started = time.perf_counter()
        os.kill(process.pid, signal.SIGCONT)
    last = (run0, wait0)
    while not done():
        if time.perf_counter() - started > 600:
            raise RuntimeError("a consumer did not drain the backlog in 600 s")
        with contextlib.suppress(OSError):  # it exited: its last reading stands
            last = sched_seconds(process.pid)
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "cpu": (last[0] - run0) / elapsed, "waiting_for_cpu": (last[1] - wait0) / elapsed}


def mosquitto_sub(address: BrokerAddress, messages: Messages) -> dict[str, float]:
    client_id = f"msub-{uuid.uuid4().hex[:6]}"
    base = ["mosquitto_sub", "-h", address.host, "-p", str(address.port), "-c", "-i", client_id, "-q", "1"]
    base += ["-t", TELEMETRY]
    subprocess.run([*base, "-E"], check=True, timeout=30)  # the session and its subscription exist from here on
    process = subprocess.Popen([*base, "-C", str(len(messages))], stdout=subprocess.DEVNULL)
    # its session already holds the subscription, so whether it has connected before SIGSTOP does not matter
    result = held_drain(address, messages, process, lambda: time.sleep(0.3), lambda: process.poll() is not None)
    if process.returncode != 0:
        raise RuntimeError(f"mosquitto_sub exited with {process.returncode}")
    drop_session(address, client_id)
    return result


def bare_paho(address: BrokerAddress, messages: Messages) -> dict[str, float]:
    client_id = f"bare-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, __file__, "--role", "bare", "--port", str(address.port), "--client-id", client_id]
    command += ["--count", str(len(messages))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    stdout = process.stdout
    finished = threading.Event()

    def wait_done() -> None:  # the child says "done" at its N-th message (its exit may take a select timeout)
        if stdout.readline().strip() == "done":
            finished.set()

    def ready() -> None:
        stdout.readline()  # "ready": subscribed
        threading.Thread(target=wait_done, daemon=True).start()

    result = held_drain(address, messages, process, ready, finished.is_set)
    if process.wait(30) != 0:
        raise RuntimeError(f"the bare paho subscriber exited with {process.returncode}")
    drop_session(address, client_id)
    return result


def bare_main(port: int, client_id: str, count: int) -> None:
    """Child: persistent session, QoS 1 (auto-ack), `json.loads` per message; says "ready" on SUBACK and
    "done" at the N-th message."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received = [0]
    finished = threading.Event()

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        json.loads(msg.payload)
        received[0] += 1
        if received[0] == count:
            print("done", flush=True)
            finished.set()

    def on_subscribe(client: paho.Client, userdata: object, mid: int, reasons: object, props: object) -> None:
        print("ready", flush=True)

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.on_connect = lambda c, u, f, r, p: c.subscribe(TELEMETRY, qos=1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    finished.wait(900)
    client.disconnect()
    client.loop_stop()
    raise SystemExit(0 if received[0] == count else 1)


def ingestion(address: BrokerAddress, tmp: Path, health: Health, chosen: list[Msg], start_ms: int,
              fast: bool, settings: dict[str, str]) -> dict[str, float]:  # fmt: skip
    messages = [(m.topic, m.payload) for m in chosen]
    readings = sum(m.readings for m in chosen)
    worker = f"drain-{uuid.uuid4().hex[:6]}"
    db = tmp / f"{worker}.db"
    ingest = start_ingest_process(address, db, worker, ingest_env(tmp, **settings, mqtt__fast_reader=str(fast).lower()))
    progress = Progress(db, probe_spans(chosen))
    try:
        result = held_drain(
            address, messages, ingest.process, lambda: health.wait_ok(worker), lambda: progress.fraction() >= 1.0
        )
    finally:
        progress.close()
        deadline = time.monotonic() + 60
        while health.stored(worker) < readings and time.monotonic() < deadline:
            time.sleep(0.05)
        final = ingest.stop()
    drop_session(address, worker)
    if final.get("stored") != readings:
        raise RuntimeError(f"ingestion stored {final.get('stored')}/{readings} readings")
    return result


def offline_restart(address: BrokerAddress, tmp: Path, health: Health, messages: Messages) -> dict[str, Any]:
    """Start `smartfactory ingest` once on a parked session holding `messages`: did it start?"""
    worker = f"offline-{uuid.uuid4().hex[:6]}"
    env = ingest_env(tmp)
    first = start_ingest_process(address, tmp / f"{worker}.db", worker, env)
    health.wait_ok(worker)
    first.stop()
    publish_all(address, messages)
    again = start_ingest_process(address, tmp / f"{worker}.db", worker, env)
    started = time.monotonic()
    while again.process.poll() is None and health.latest.get(worker, {}).get("state") != "ok":
        if time.monotonic() - started > 120:
            break
        time.sleep(0.05)
    exited = again.process.poll() is not None
    if exited:
        _, err = again.process.communicate(timeout=30)
        outcome = {"started": False, "exit_code": again.process.returncode, "error": err.strip().splitlines()[-1:]}
    else:
        final = again.stop(timeout=300)
        outcome = {"started": True, "stored": final.get("stored")}
    drop_session(address, worker)
    return {"backlog_messages": len(messages), **outcome, "load_avg_1m": load_now()}


def measure(
    form: str, chosen: list[Msg], start_ms: int, repeat: int, readers: list[str], settings: dict[str, str]
) -> dict[str, Any]:
    messages = [(m.topic, m.payload) for m in chosen]
    readings = sum(m.readings for m in chosen)
    runs: dict[str, list[dict[str, float]]] = {"mosquitto_sub": [], "bare_paho": []}
    runs |= {f"ingest_{r}": [] for r in readers}
    loads: list[float] = []
    with workdir("sf-scale-drain-") as tmp, private_broker(tmp) as broker:
        health = Health(broker.address)
        for _ in range(repeat):  # interleaved: drift in the machine's load hits every consumer alike
            loads.append(load_now())
            runs["mosquitto_sub"].append(mosquitto_sub(broker.address, messages))
            runs["bare_paho"].append(bare_paho(broker.address, messages))
            for reader in readers:
                runs[f"ingest_{reader}"].append(
                    ingestion(broker.address, tmp, health, chosen, start_ms, reader == "fast", settings)
                )
            print(
                json.dumps({form: {k: round(len(messages) / v[-1]["seconds"]) for k, v in runs.items()}}),
                file=sys.stderr,
            )
        health.close()
    rate = {k: median([len(messages) / r["seconds"] for r in v]) for k, v in runs.items()}
    per_message = readings / len(messages)
    return {
        "form": form,
        "messages": len(messages),
        "readings_per_message": round(per_message, 2),
        "payload_bytes_mean": round(sum(len(p) for _, p in messages) / len(messages)),
        "figure": {
            f"ingest_{r}": {
                "msgs_per_s": round(rate[f"ingest_{r}"]),
                "readings_per_s": round(rate[f"ingest_{r}"] * per_message),
            }
            for r in readers
        },
        "baseline": {
            "mosquitto_sub_msgs_per_s": round(rate["mosquitto_sub"]),
            "bare_paho_json_msgs_per_s": round(rate["bare_paho"]),
        },
        "ratio": {
            **{f"ingest_{r}_vs_mosquitto_sub": round(rate[f"ingest_{r}"] / rate["mosquitto_sub"], 3) for r in readers},
            **{f"ingest_{r}_vs_bare_paho": round(rate[f"ingest_{r}"] / rate["bare_paho"], 3) for r in readers},
            "bare_paho_vs_mosquitto_sub": round(rate["bare_paho"] / rate["mosquitto_sub"], 3),
        },
        "cpu_while_draining": {
            k: {
                "cpu": round(median([r["cpu"] for r in v]), 3),
                "waiting_for_cpu": round(median([r["waiting_for_cpu"] for r in v]), 3),
            }
            for k, v in runs.items()
        },
        "runs_msgs_per_s": {k: [round(len(messages) / r["seconds"]) for r in v] for k, v in runs.items()},
        "load_avg_1m_per_repeat": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=40_000, help="backlog of live grouped messages")
    parser.add_argument("--batch-messages", type=int, default=1000, help="backlog of batch messages")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forms", nargs="+", choices=["live", "batch"], default=["live", "batch"])
    parser.add_argument("--readers", nargs="+", choices=["paho", "fast"], default=["paho", "fast"])
    parser.add_argument("--offline-check", type=int, default=15_000, help="0: skip the offline restart check")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an ingestion setting for a controlled experiment, e.g. spc__detector=we or spc__rules=none "
        "(SMARTFACTORY_NAME; repeatable)",
    )
    parser.add_argument("--role", choices=["bench", "bare"], default="bench")
    parser.add_argument("--port", type=int)
    parser.add_argument("--client-id")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.role == "bare":
        bare_main(args.port, args.client_id, args.count)
        return
    settings = dict(item.split("=", 1) for item in args.setting)
    if shutil.which("mosquitto_sub") is None:
        raise SystemExit("mosquitto_sub is not installed (Debian: mosquitto-clients)")
    results = []
    live: list[Msg] = []
    for form in args.forms:
        if form == "live":
            machines = 400
            stream = plant_stream(machines, None, 10.0, args.messages / (machines * 10.0) + 1)
            chosen = live = stream.messages[: args.messages]
        else:
            machines, ticks = 100, 100
            seconds = args.batch_messages * ticks / (machines * 10.0) + ticks / 10.0
            stream = plant_stream(machines, None, 10.0, seconds, ticks_per_message=ticks)
            chosen = stream.messages[: args.batch_messages]
        results.append(measure(form, chosen, stream.start_ms, args.repeat, args.readers, settings))
    offline = None
    if args.offline_check:
        if len(live) < args.offline_check:
            live = plant_stream(400, None, 10.0, args.offline_check / 4000 + 1).messages
        with workdir("sf-scale-offline-") as tmp, private_broker(tmp) as broker:
            health = Health(broker.address)
            offline = offline_restart(
                broker.address, tmp, health, [(m.topic, m.payload) for m in live[: args.offline_check]]
            )
            health.close()
    print(
        json.dumps(
            {
                "benchmark": "scale_drain",
                "goal": "ingestion >= 0.5 x mosquitto_sub for grouped messages (msgs/s)",
                "results": results,
                "offline_restart": offline,
                "ingestion_settings": settings or "defaults (SPC on: the budget design)",
                **machine_info(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
