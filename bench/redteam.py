"""Red team (issue 13): the attacks that stopped or blinded ingestion, repeated against a private mosquitto and
`smartfactory ingest` (a real process) storing into SQLite, with honest traffic beside each attack.

| attack         | what is sent                                                                                 |
|----------------|----------------------------------------------------------------------------------------------|
| poison         | telemetry batches of 50 × 1e308, 50 × ±1e308 alternating, 60 × ±1.79e308 alternating          |
| long-id        | a 150-character series: 600 readings, an outlier (its alarm), an acknowledgement of the alarm  |
| big-payload    | payloads of 2, 10 and 50 MB on a telemetry topic                                             |
| cmd-fuzz       | to a running simulator: `drift rate=1e308`, `variance factor=1e308`, `breakdown duration=1e308`, |
|                | `slowdown factor=1e308`, `shift size=1e308`                                                  |
| future-reading | a reading stamped 23 h ahead, then 600 in-control readings and a 450 σ outlier                |
| takeover       | on a broker with accounts (ids bound, `edge.broker.Accounts`): 100 readings queued for a stopped |
|                | ingestion, then the simulator's account connects with a clean session under every id ingestion |
|                | is known by, on both listeners, MQTT 3.1.1 and 5; then 3 rounds of the same while it runs      |
| takeover-unbound | the control: the same attack on an anonymous broker (ids not bound)                         |
| failover       | two ingestion processes in a shared-subscription group; kill -9 one while 6,000 readings flow, |
|                | measure what waits in its session, restart it under the same id                              |

Each attack runs on an enterprise of its own, next to 100 honest single readings from another machine of it. For
each: `tries` (attack messages sent), `published` (readings sent, honest and attack), `stored`, `dead_lettered`
(dead letters stored for it), `lost` (readings that should be stored and are not), `duplicated` (rows stored
that should not be, or twice), whether ingestion was still alive after it, and what the attack was after (an
alarm raised, an ack applied, rejections on the event topic, how long a big payload held the writer).
Prints one JSON document with the table.

    python bench/redteam.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from ingest_harness import free_port, machine_info, private_broker, workdir

from smartfactory.edge.broker import Accounts, start_mosquitto, write_password_file
from smartfactory.edge.mqtt import MqttClient
from smartfactory.errors import BrokerError
from smartfactory.services import start_simulator
from smartfactory.settings import INGEST_ID_FILE, BrokerAddress, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MessageClass, format_ts

Key = tuple[str, int]
#: In-control readings before an outlier: the live monitor learns from 500 clean ones (phase I).
PHASE1 = 600


class Ingest:
    """`smartfactory ingest` as a process, and read access to its SQLite store."""

    def __init__(
        self,
        address: BrokerAddress,
        folder: Path,
        *,
        client_id: str | None = None,
        group: str | None = None,
        mqtt_port: int | None = None,
        log_name: str = "ingest.log",
    ) -> None:
        self.store_url = f"sqlite:///{folder / 'redteam.db'}"
        self.client_id = f"smartfactory-redteam-{uuid.uuid4().hex[:6]}" if client_id is None else client_id
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
        env["SMARTFACTORY_DATA_DIR"] = str(folder)
        if mqtt_port is not None:
            env["SMARTFACTORY_INGEST__MQTT_PORT"] = str(mqtt_port)
        self.log_path = folder / log_name
        self.log = self.log_path.open("ab")
        extra = [*(["--client-id", self.client_id] if self.client_id else []), *(["--group", group] if group else [])]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "smartfactory", "ingest", "--mqtt-url", address.url(masked=False),
             "--store", self.store_url, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip

    def started(self, timeout: float = 60.0) -> bool:
        return wait_for(lambda: "ingesting" in self.output() or not self.alive(), timeout) and self.alive()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def final(self) -> dict[str, Any]:
        lines = [x for x in self.output().splitlines() if x.startswith("stopped: ")]
        return dict(json.loads(lines[-1].removeprefix("stopped: "))) if lines else {}

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def alive(self) -> bool:
        return self.process.poll() is None

    def query(self, work: Callable[[SqliteStorage], Any]) -> Any:
        store = SqliteStorage(self.store_url)
        try:
            return work(store)
        finally:
            store.close()

    def _rows(self, enterprise: str, sql: str) -> list[Any]:
        prefix = enterprise + "/"
        where = "substr(s.topic, 1, ?) = ?"
        return list(self.query(lambda st: st._query(sql.format(where=where), [len(prefix), prefix])))

    def readings(self, enterprise: str) -> dict[Key, float]:
        rows = self._rows(
            enterprise,
            "SELECT s.topic, r.ts, r.value FROM readings r JOIN series s ON r.series_id = s.id WHERE {where}",
        )
        return {(topic, ts): value for topic, ts, value in rows}

    def count(self, enterprise: str) -> int:
        """Rows stored, duplicates included (the primary key should make a duplicate row impossible)."""
        sql = "SELECT COUNT(*) FROM readings r JOIN series s ON r.series_id = s.id WHERE {where}"
        return int(self._rows(enterprise, sql)[0][0])

    def letters(self, enterprise: str) -> int:
        return len([d for d in self.query(lambda s: s.read_deadletters()) if d.topic.startswith(enterprise)])

    def stop(self) -> int:
        if self.alive():
            self.process.terminate()
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait(10)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


class Sender:
    def __init__(self, address: BrokerAddress) -> None:
        self.client = MqttClient(
            address, client_id=f"smartfactory-redteam-pub-{uuid.uuid4().hex[:6]}", max_outstanding=500
        )
        self.client.connect()

    def send(self, messages: list[tuple[str, bytes]], timeout: float = 120.0) -> None:
        for topic, payload in messages:
            self.client.publish(topic, payload, qos=1, timeout=timeout)
        self.client.wait_published(timeout)

    def close(self) -> None:
        self.client.close()


def reading(series: str, ts: int, value: float) -> tuple[str, bytes]:
    return series, json.dumps({"value": value, "ts": ts}).encode()


def honest(enterprise: str, start_ms: int, count: int = 100) -> dict[Key, float]:
    values = np.random.default_rng(len(enterprise)).normal(20.0, 0.1, count)
    return {(f"{enterprise}/p/a/l/honest/telemetry/t", start_ms + i): float(v) for i, v in enumerate(values)}


def barrier(ingest: Ingest, sender: Sender, enterprise: str) -> bool:
    """A state message after everything else: once it is stored, every message before it was handled."""
    machine = f"barrier-{uuid.uuid4().hex[:6]}"
    body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
    sender.send([(f"{enterprise}/p/a/l/{machine}/state", body)])
    return wait_for(lambda: any(s.machine.endswith(machine) for s in ingest.query(lambda st: st.read_states())))


def row(
    name: str, tries: int, published: int, expected: dict[Key, float], ingest: Ingest, enterprise: str, **extra: Any
) -> dict[str, Any]:
    stored = ingest.readings(enterprise)
    rows = ingest.count(enterprise)
    lost = len([k for k, v in expected.items() if stored.get(k) != v])
    duplicated = len([k for k in stored if k not in expected]) + (rows - len(stored))
    return {
        "attack": name,
        "tries": tries,
        "published": published,
        "stored": rows,
        "dead_lettered": ingest.letters(enterprise),
        "lost": lost,
        "duplicated": duplicated,
        "ingest_alive": ingest.alive(),
        **extra,
    }


def poison(ingest: Ingest, sender: Sender) -> dict[str, Any]:
    enterprise = "rt-poison"
    now = int(time.time() * 1000) - 30_000
    topic = f"{enterprise}/p/a/l/poison/telemetry"
    n = PHASE1 + 10  # past phase I, so that limit learning runs on them (the crash was there)
    attacks = {
        "big": [1e308] * n,
        "alternating": [1e308 if i % 2 else -1e308 for i in range(n)],
        "extreme": [1.79e308 if i % 2 else -1.79e308 for i in range(n)],
    }
    messages = [
        (topic, json.dumps({"batch": [{"ts": now + i, "values": {k: v}} for i, v in enumerate(vs)]}).encode())
        for k, vs in attacks.items()
    ]
    good = honest(enterprise, now)
    sender.send(messages + [reading(s, ts, v) for (s, ts), v in good.items()])
    barrier(ingest, sender, enterprise)
    expected = dict(good)
    for k, vs in attacks.items():
        expected.update({(f"{topic}/{k}", now + i): v for i, v in enumerate(vs)})
    limits = ingest.query(lambda store: store.read_limits())
    learned = {v.series.rsplit("/", 1)[1] for v in limits if v.series.startswith(topic)}
    return row("poison", len(messages), len(expected), expected, ingest, enterprise, limits_learned=sorted(learned))


def long_id(ingest: Ingest, sender: Sender) -> dict[str, Any]:
    enterprise = "rt-long-" + "e" * 52
    sensor = "s" * 71
    series = f"{enterprise}/p/a/l/m/telemetry/{sensor}"
    now = int(time.time() * 1000) - 30_000
    values = [*np.random.default_rng(1).normal(5.0, 0.1, PHASE1), 500.0]
    attack = {(series, now + i): float(v) for i, v in enumerate(values)}
    good = honest(enterprise, now)
    sender.send([reading(s, ts, v) for (s, ts), v in {**attack, **good}.items()])
    barrier(ingest, sender, enterprise)
    alarms = [a for a in ingest.query(lambda s: s.read_alarms()) if a.series == series]
    acked = False
    if alarms:
        ack = {"alarm_id": alarms[0].alarm_id, "by": "redteam", "ts": format_ts(int(time.time() * 1000))}
        sender.send([(f"{enterprise}/p/a/l/m/ack/{sensor}", json.dumps(ack).encode())])
        barrier(ingest, sender, enterprise)
        acked = any(a.acked_by == "redteam" for a in ingest.query(lambda s: s.read_alarms()) if a.series == series)
    return row(
        "long-id", len(attack), len(attack) + len(good), {**attack, **good}, ingest, enterprise,
        series_chars=len(series), alarm_raised=bool(alarms),
        alarm_id_chars=len(alarms[0].alarm_id) if alarms else None, acknowledged=acked,
    )  # fmt: skip


def big_payload(ingest: Ingest, sender: Sender) -> dict[str, Any]:
    enterprise = "rt-big"
    now = int(time.time() * 1000) - 30_000
    topic = f"{enterprise}/p/a/l/big/telemetry/t"
    sizes_mb = (2, 10, 50)
    good = honest(enterprise, now)
    held = []
    refused = []
    for size in sizes_mb:
        body = b'{"value": 1, "ts": %d, "unit": "' % now + b"x" * (size * 1_000_000) + b'"}'
        # a sender of its own: the broker disconnects a client whose packet is over its max_packet_size
        big = MqttClient(sender.client.address, client_id=f"smartfactory-big-{size}", max_outstanding=1)
        big.connect()
        session = big.session
        big.publish(topic, body, qos=1, timeout=60)
        wait_for(lambda b=big, s=session: b.outstanding == 0 or b.session != s or not b.connected, 30)  # type: ignore[misc]
        refused.append(big.outstanding > 0)  # thrown out instead of acknowledged
        big.abort()  # never resent
        started = time.monotonic()  # from here: how long until ingestion stores the next reading
        probe = {(f"{enterprise}/p/a/l/honest/telemetry/probe", now + size): 1.0}
        sender.send([reading(s, ts, v) for (s, ts), v in probe.items()])
        wait_for(lambda p=probe: all(k in ingest.readings(enterprise) for k in p), timeout=120)  # type: ignore[misc]
        held.append(round(time.monotonic() - started, 2))
        good.update(probe)
    sender.send([reading(s, ts, v) for (s, ts), v in good.items() if not s.endswith("/probe")])
    barrier(ingest, sender, enterprise)
    return row(
        "big-payload", len(sizes_mb), len(good), good, ingest, enterprise,
        payload_mb=list(sizes_mb), refused_by_broker=refused, seconds_to_next_reading_stored=held,
        note="the broker refuses packets over 1 MiB + 64 KiB (max_packet_size), the MQTT 5 Maximum Packet Size "
        "ingestion announces (max_payload_bytes + 64 KiB)",
    )  # fmt: skip


def cmd_fuzz(ingest: Ingest, sender: Sender, address: BrokerAddress, folder: Path) -> dict[str, Any]:
    settings = load_settings(mqtt_url=address.url(masked=False), data_dir=folder, sim={"speed": 5.0})
    running = start_simulator(settings)
    try:
        machine = running.simulation.machines[0]
        signal = next(iter(machine.live.sensors))
        commands = [
            {"fault": "drift", "sensor": signal, "params": {"rate": 1e308}},
            {"fault": "variance", "sensor": signal, "params": {"factor": 1e308}},
            {"fault": "breakdown", "params": {"duration": 1e308}},
            {"fault": "slowdown", "params": {"factor": 1e308}},
            {"fault": "shift", "sensor": signal, "params": {"size": 1e308}},
        ]
        cmd = machine.path.topic(MessageClass.CMD)
        sender.send([(cmd, json.dumps({"action": "inject", **c}).encode()) for c in commands])

        def rejected() -> list[Any]:
            return [e for e in ingest.query(lambda s: s.read_events()) if e.kind == "rejected"]

        wait_for(lambda: len(rejected()) >= len(commands), timeout=60)
        published_before = running.stats.telemetry
        wait_for(lambda: running.stats.telemetry > published_before + 5, timeout=30)
        alive = running.thread is not None and running.thread.is_alive() and running.error is None
        broken = [str(m.path) for m in running.simulation.machines if m.run.broken is not None]
        applied = [e for e in ingest.query(lambda s: s.read_events()) if e.kind == "fault"]
        enterprise = machine.path.enterprise
        huge = ingest._rows(
            enterprise,
            "SELECT COUNT(*) FROM readings r JOIN series s ON r.series_id = s.id WHERE {where} AND ABS(r.value) > 1e9",
        )[0][0]
    finally:
        running.stop()
    return {
        "attack": "cmd-fuzz",
        "tries": len(commands),
        "published": len(commands),
        "stored": len(rejected()),
        "dead_lettered": 0,
        "lost": len(commands) - len(rejected()),
        "duplicated": 0,
        "ingest_alive": ingest.alive(),
        "note": "stored = rejection events on the event topic (stored by ingestion); lost = commands not answered",
        "simulator_alive": alive,
        "machines_broken": broken,
        "faults_applied": len(applied),
        "absurd_values_stored": int(huge),
    }


def future_reading(ingest: Ingest, sender: Sender) -> dict[str, Any]:
    enterprise = "rt-future"
    series = f"{enterprise}/p/a/l/m/telemetry/t"
    now = int(time.time() * 1000) - 30_000
    future = {(series, now + 23 * 3_600_000): 1.0}
    values = [*np.random.default_rng(2).normal(10.0, 0.1, PHASE1), 10.0 + 450 * 0.1]
    attack = {(series, now + i): float(v) for i, v in enumerate(values)}
    good = honest(enterprise, now)
    sender.send([reading(s, ts, v) for (s, ts), v in {**future, **attack, **good}.items()])
    barrier(ingest, sender, enterprise)
    alarms = [a for a in ingest.query(lambda s: s.read_alarms()) if a.series == series]
    expected = {**future, **attack, **good}
    return row(
        "future-reading", 1, len(expected), expected, ingest, enterprise,
        outlier_alarm_raised=any(a.ts_ms == now + PHASE1 for a in alarms),
    )  # fmt: skip


#: Accounts of the takeover broker (a private one, loopback only: throwaway passwords).
ACCOUNTS = {"ingest": "ingest-redteam-0123", "simulator": "simulator-redteam-0123"}


def takeover_attempts(addresses: list[BrokerAddress], ids: list[str]) -> dict[str, int]:
    """Clean-session connections under each id, on each listener, MQTT 3.1.1 and 5: how many were accepted."""
    outcome = {"accepted": 0, "refused": 0}
    for address in addresses:
        for client_id in ids:
            for protocol in ("3.1.1", "5"):
                client = MqttClient(address, client_id=client_id, protocol=protocol)
                try:
                    client.connect(timeout=1)
                except BrokerError:
                    outcome["refused"] += 1
                    continue
                client.close()
                outcome["accepted"] += 1
    return outcome


def takeover(folder: Path, *, bound: bool) -> dict[str, Any]:
    """The simulator's account against ingestion's persistent session: wipe its queue, kick it off."""
    name = "takeover" if bound else "takeover-unbound"
    sub = folder / name
    sub.mkdir()
    main_port, bound_port = free_port(), free_port()
    accounts = Accounts(write_password_file(sub / "passwd", ACCOUNTS), bound_port=bound_port) if bound else None
    broker = start_mosquitto(BrokerAddress("127.0.0.1", main_port), sub / "broker", accounts=accounts)
    user = (lambda u: BrokerAddress("127.0.0.1", main_port, u, ACCOUNTS[u])) if bound else (lambda u: broker.address)
    sim_side = [user("simulator"), replace(user("simulator"), port=bound_port)] if bound else [broker.address]
    enterprise = "acme"
    try:
        first = Ingest(user("ingest"), sub, client_id="", mqtt_port=bound_port if bound else None)
        first.started()
        ingest_id = (sub / INGEST_ID_FILE).read_text().strip()  # the default id, made at the first start
        first.stop()
        sender = Sender(user("simulator"))
        queued = honest(enterprise, int(time.time() * 1000) - 30_000)
        sender.send([reading(s, ts, v) for (s, ts), v in queued.items()])
        ids = [ingest_id, "ingest"] if bound else [ingest_id]
        offline = takeover_attempts(sim_side, ids)
        again = Ingest(user("ingest"), sub, client_id="", mqtt_port=bound_port if bound else None, log_name="2.log")
        again.started()
        barrier(again, sender, enterprise)
        kept = len([k for k in queued if k in again.readings(enterprise)])
        lost_before = again.output().count("lost the broker")
        online = takeover_attempts(sim_side, ids)
        online.update({k: online[k] + v for k, v in takeover_attempts(sim_side, ids).items()})
        online.update({k: online[k] + v for k, v in takeover_attempts(sim_side, ids).items()})
        more = honest(enterprise, int(time.time() * 1000) - 20_000)
        more = {(s.replace("/honest/", "/honest2/"), ts): v for (s, ts), v in more.items()}
        sender.send([reading(s, ts, v) for (s, ts), v in more.items()])
        barrier(again, sender, enterprise)
        kicked = again.output().count("lost the broker") - lost_before
        result = row(
            name, offline["accepted"] + offline["refused"] + online["accepted"] + online["refused"],
            len(queued) + len(more), {**queued, **more}, again, enterprise,
            queued_kept=f"{kept} of {len(queued)}", attempts_offline=offline, attempts_online=online,
            ingest_disconnected_by_attempts=kicked,
        )  # fmt: skip
        sender.close()
        again.stop()
        return result
    finally:
        broker.stop()


def failover(address: BrokerAddress, folder: Path) -> dict[str, Any]:
    """kill -9 one of two group members while 6,000 readings flow; what waits for it; restart it under its id."""
    sub = folder / "failover"
    sub.mkdir()
    group = "rt-group"
    a = Ingest(address, sub, client_id="smartfactory-rt-a", group=group, log_name="a.log")
    b = Ingest(address, sub, client_id="smartfactory-rt-b", group=group, log_name="b.log")
    started = a.started() and b.started()
    assert started, a.output() + b.output()
    enterprise = "rt-failover"
    published = honest(enterprise, int(time.time() * 1000) - 60_000, count=6000)
    sent = [0]
    sender = Sender(address)

    def publish() -> None:
        for (series, ts), value in published.items():
            sender.client.publish(*reading(series, ts, value), qos=1, timeout=120)
            sent[0] += 1
            time.sleep(0.001)
        sender.client.wait_published(120)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    wait_for(lambda: sent[0] >= 2000 and b.count(enterprise) > 0)  # both members busy, two thirds still to come
    a.kill()
    sent_at_kill = sent[0]
    thread.join(180)
    tries = 0
    while tries < 40:  # barriers until one reaches the live member: then it has written everything it was handed
        tries += 1
        machine = f"barrier-{uuid.uuid4().hex[:6]}"
        body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
        sender.send([(f"{enterprise}/p/a/l/{machine}/state", body)])
        if wait_for(lambda m=machine: any(s.machine.endswith(m) for s in b.query(lambda st: st.read_states())), 5):
            break
    held = len(published) - b.count(enterprise)
    again = Ingest(address, sub, client_id="smartfactory-rt-a", group=group, log_name="a-again.log")
    again.started()
    wait_for(lambda: again.count(enterprise) >= len(published), timeout=120)
    stored_by_live = len(published) - held
    result = row(
        "failover", 1, len(published), published, again, enterprise,
        published_before_kill=sent_at_kill, published_after_kill=len(published) - sent_at_kill,
        stored_by_live_member_while_dead=stored_by_live, held_in_dead_members_session=held,
    )  # fmt: skip
    again.stop()
    b.stop()
    sender.close()
    final = again.final()
    redelivered = int(final.get("redelivered", 0))
    after_kill = len(published) - sent_at_kill
    result.update(
        redelivered_to_it_after_restart=redelivered,
        share_of_later_messages_held_for_it=round((held - redelivered) / after_kill, 3) if after_kill else None,
        stored_by_it_after_restart=final.get("stored"),
        duplicates_at_it_after_restart=final.get("duplicates"),
        note="what mosquitto did with the dead member's share: held in its persistent session (messages in flight "
        "to it, flagged as redeliveries) until it came back under its id; the rest went to the live member",
    )
    return result


def main() -> None:
    table: list[dict[str, Any]] = []
    with workdir("sf-redteam-") as folder, private_broker(folder) as broker:
        ingest = Ingest(broker.address, folder)
        sender = Sender(broker.address)
        try:
            log = folder / "ingest.log"
            wait_for(lambda: "ingesting" in log.read_text(errors="replace") or not ingest.alive(), timeout=60)
            for attack in (poison, long_id, big_payload, future_reading):
                table.append(attack(ingest, sender))
            table.append(cmd_fuzz(ingest, sender, broker.address, folder))
            table.append(takeover(folder, bound=True))
            table.append(takeover(folder, bound=False))
            table.append(failover(broker.address, folder))
        finally:
            sender.close()
            code = ingest.stop()
        lines = (folder / "ingest.log").read_text(errors="replace").splitlines()
    final = next((json.loads(x.removeprefix("stopped: ")) for x in lines if x.startswith("stopped: ")), {})
    keys = (
        "received", "stored", "rejected", "rejected_again", "contained", "series", "spc_disabled", "spc_cannot_learn",
        "alarms",
    )  # fmt: skip
    out = {
        "machine": machine_info(),
        "ingest_exit_code": code,
        "table": table,
        "ingest_final_health": {k: final.get(k) for k in keys},
        "ingest_errors_logged": [x[:300] for x in lines if " ERROR " in x][:5],
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
