"""Client-id takeover (issue 13): any account could connect with ingestion's client id and a clean session, which
wiped ingestion's persistent session (100 of 100 queued readings lost) and kicked ingestion off at every try.

Both broker configurations bind client ids to accounts: the compose stack's deploy/mosquitto/mosquitto.conf (run
for real, with the password file and ACL its entrypoint writes) and the one `edge.broker` generates with
`Accounts`. Ingestion connects on the bound listener, where the broker names its session after the account; the
simulator's account then tries every id ingestion could be known by, with a clean session, on both listeners.
Real mosquitto, real SQLite, ingestion as in `smartfactory ingest` (its default client id: made and kept in the data
folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smartfactory.edge.broker import Accounts, RunningBroker, start_mosquitto, write_password_file
from smartfactory.edge.mqtt import MqttClient
from smartfactory.errors import BrokerError
from smartfactory.services import start_ingest
from smartfactory.settings import INGEST_ID_FILE, BrokerAddress, Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.conftest import MOSQUITTO, ROOT, free_port
from tests.ingest.conftest import expected_readings, stored_readings, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        MOSQUITTO is None or shutil.which("mosquitto_passwd") is None,
        reason="needs mosquitto and mosquitto_passwd (CI installs them: apt-get install mosquitto)",
    ),
]

PASSWORDS = {
    "MQTT_INGEST_PASSWORD": "ingest0123456789",
    "MQTT_SIM_PASSWORD": "simulator0123456789",
    "MQTT_DASHBOARD_PASSWORD": "dashboard0123456789",
    "MQTT_OPERATOR_PASSWORD": "operator0123456789",
}
MACHINE = "acme/plant1/machining/line-1/cnc-01"  # inside the compose simulator account's ACL


@dataclass
class BoundBroker:
    """A broker with accounts: `main` is everyone's listener, `bound` ingestion's (client id = username)."""

    main: int
    bound: int
    process: subprocess.Popen[bytes] | None = None
    running: RunningBroker | None = None

    def address(self, user: str, password: str, *, bound: bool = False) -> BrokerAddress:
        return BrokerAddress("127.0.0.1", self.bound if bound else self.main, user, password)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        if self.running is not None:
            self.running.stop()


def compose_broker(folder: Path) -> BoundBroker:
    """deploy/mosquitto as the compose stack runs it: entrypoint.sh writes passwd and ACL, mosquitto.conf with its
    paths and ports moved into `folder` (loopback only)."""
    secrets, data = folder / "secrets", folder / "data"
    data.mkdir(parents=True)
    env = {**os.environ, **PASSWORDS, "SECRETS_DIR": str(secrets)}
    script = ROOT / "deploy" / "mosquitto" / "entrypoint.sh"
    subprocess.run(["sh", str(script), "--generate-only"], env=env, check=True, capture_output=True, timeout=30)
    broker = BoundBroker(free_port(), free_port())
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    assert "listener 1883\n" in conf
    assert "listener 1884\n" in conf
    conf = (
        conf.replace("/mosquitto/secrets", str(secrets))
        .replace("/mosquitto/data/", f"{data}/")
        .replace("listener 1883\n", f"listener {broker.main} 127.0.0.1\n")
        .replace("listener 1884\n", f"listener {broker.bound} 127.0.0.1\n")
        .replace("/deploy/mosquitto/conf.d", str(ROOT / "deploy" / "mosquitto" / "conf.d"))
        .replace("log_dest stdout", f"log_dest file {data / 'mosquitto.log'}")
    )
    (folder / "mosquitto.conf").write_text(conf + f"\nuser {os.environ.get('USER') or 'root'}\n")
    assert MOSQUITTO is not None
    broker.process = subprocess.Popen([MOSQUITTO, "-c", str(folder / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    assert wait_until(lambda: _answers(broker.main) and _answers(broker.bound), timeout=10)
    return broker


def generated_broker(folder: Path) -> BoundBroker:
    """The broker `edge.broker` generates with `Accounts` (no ACL: every account may use every topic)."""
    users = {"ingest": PASSWORDS["MQTT_INGEST_PASSWORD"], "simulator": PASSWORDS["MQTT_SIM_PASSWORD"]}
    bound = free_port()
    accounts = Accounts(write_password_file(folder / "passwd", users), bound_port=bound)
    running = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), folder / "broker", accounts=accounts)
    assert wait_until(lambda: _answers(bound), timeout=10)
    return BoundBroker(running.address.port, bound, running=running)


def _answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["compose", "generated"])
def bound_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BoundBroker]:
    broker = compose_broker(tmp_path / "compose") if request.param == "compose" else generated_broker(tmp_path / "gen")
    yield broker
    broker.stop()


def ingest_settings(broker: BoundBroker, folder: Path) -> Settings:
    """Ingestion as in compose: the ingest account, its own session on the bound port, the default client id."""
    return load_settings(
        mqtt_url=broker.address("ingest", PASSWORDS["MQTT_INGEST_PASSWORD"]).url(masked=False),
        store=f"sqlite:///{folder / 'ingest.db'}",
        data_dir=folder,
        spc={"rules": "none"},
        ingest={"mqtt_port": broker.bound, "health_interval": 0.2},
    )


def readings(count: int) -> list[tuple[str, bytes]]:
    start = int(time.time() * 1000) - 10_000
    topic = f"{MACHINE}/telemetry/spindle_temp"
    return [(topic, json.dumps({"value": i + 0.5, "ts": format_ts(start + i)}).encode()) for i in range(count)]


def publish_as_simulator(broker: BoundBroker, messages: list[tuple[str, bytes]]) -> None:
    address = broker.address("simulator", PASSWORDS["MQTT_SIM_PASSWORD"])
    client = MqttClient(address, client_id=f"smartfactory-sim-test-{uuid.uuid4().hex[:6]}")
    client.connect()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, timeout=30)
        assert client.wait_published(30)
    finally:
        client.close()


def takeover_attempts(broker: BoundBroker, ingest_id: str) -> dict[str, str]:
    """The simulator's account connects with a clean session under every id ingestion is known by, on both ports
    and both protocol versions; what the broker said to each."""
    outcome = {}
    for client_id in (ingest_id, "ingest"):
        for bound in (False, True):
            for protocol in ("3.1.1", "5"):
                address = broker.address("simulator", PASSWORDS["MQTT_SIM_PASSWORD"], bound=bound)
                client = MqttClient(address, client_id=client_id, protocol=protocol)
                key = f"{client_id}@{'bound' if bound else 'main'}/{protocol}"
                try:
                    client.connect(timeout=1)
                except BrokerError:
                    outcome[key] = "refused"
                    continue
                client.close()
                outcome[key] = "accepted"
    return outcome


def barrier_stored(broker: BoundBroker, store_url: str) -> bool:
    """A state message published after everything else is stored: everything before it was handled."""
    machine = f"barrier-{uuid.uuid4().hex[:6]}"
    topic = f"acme/plant1/machining/line-1/{machine}/state"
    publish_as_simulator(broker, [(topic, json.dumps({"state": "idle", "ts": int(time.time() * 1000)}).encode())])

    def stored() -> bool:
        store = SqliteStorage(store_url)
        try:
            return any(s.machine.endswith(machine) for s in store.read_states())
        finally:
            store.close()

    return wait_until(stored)


def test_another_account_cannot_wipe_ingestions_queued_readings(bound_broker: BoundBroker, tmp_path: Path) -> None:
    settings = ingest_settings(bound_broker, tmp_path)
    running = start_ingest(settings)  # creates the session (named "ingest" by the broker), then goes away
    ingest_id = running.service.client.client_id
    assert ingest_id.startswith("smartfactory-ingest-")
    assert len(ingest_id) == len("smartfactory-ingest-") + 16
    assert (tmp_path / INGEST_ID_FILE).read_text().strip() == ingest_id  # kept for every restart
    assert running.stop()

    queued = readings(100)
    publish_as_simulator(bound_broker, queued)  # waits in ingestion's session while it is down
    outcome = takeover_attempts(bound_broker, ingest_id)
    # ids sent on the main port must begin with smartfactory-: the broker-side name of the session is refused
    assert outcome["ingest@main/3.1.1"] == outcome["ingest@main/5"] == "refused"
    # everything else is accepted, but as a session of its own (another id, or the simulator's own name)
    assert outcome[f"{ingest_id}@main/5"] == outcome[f"{ingest_id}@bound/5"] == "accepted"

    restarted = start_ingest(settings)  # the same id again, from the data folder
    assert restarted.service.client.client_id == ingest_id
    try:
        assert barrier_stored(bound_broker, settings.store)
    finally:
        assert restarted.stop()
    assert stored_readings(settings.store) == expected_readings(queued)  # 100 of 100 kept


def test_takeover_attempts_do_not_kick_ingestion_off(bound_broker: BoundBroker, tmp_path: Path) -> None:
    settings = ingest_settings(bound_broker, tmp_path)
    running = start_ingest(settings)
    client = running.service.client
    session = client.session
    try:
        for _ in range(2):
            takeover_attempts(bound_broker, client.client_id)
        assert client.connected
        assert client.session == session  # never disconnected, so never reconnected
        published = readings(100)
        publish_as_simulator(bound_broker, published)
        assert barrier_stored(bound_broker, settings.store)
        assert client.session == session
    finally:
        assert running.stop()
    assert stored_readings(settings.store) == expected_readings(published)


def test_without_the_binding_the_same_attack_wipes_the_session(tmp_path: Path) -> None:
    """The control: an anonymous broker (ids not bound to accounts) and the attack of the issue. If this stopped
    losing the queued readings, the tests above would no longer show anything."""
    plain = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), tmp_path / "plain")
    try:
        settings = load_settings(
            mqtt_url=plain.address.url(masked=False),
            store=f"sqlite:///{tmp_path / 'ingest.db'}",
            data_dir=tmp_path,
            spc={"rules": "none"},
        )
        running = start_ingest(settings)
        ingest_id = running.service.client.client_id
        assert running.stop()
        queued = readings(100)
        publish_anonymously(plain.address, queued)
        attacker = MqttClient(plain.address, client_id=ingest_id)  # a clean session under ingestion's id
        attacker.connect()
        attacker.close()
        restarted = start_ingest(settings)
        try:
            machine = f"barrier-{uuid.uuid4().hex[:6]}"
            body = json.dumps({"state": "idle", "ts": int(time.time() * 1000)}).encode()
            publish_anonymously(plain.address, [(f"{MACHINE[:-7]}/{machine}/state", body)])
            assert wait_until(lambda: restarted.service.counters.received >= 1)
            assert wait_until(lambda: not len(restarted.service.inbox))
        finally:
            assert restarted.stop()
        assert stored_readings(settings.store) == {}  # all 100 went with the wiped session
    finally:
        plain.stop()


def publish_anonymously(address: BrokerAddress, messages: list[tuple[str, bytes]]) -> None:
    client = MqttClient(address, client_id=f"smartfactory-pub-{uuid.uuid4().hex[:6]}")
    client.connect()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1, timeout=30)
        assert client.wait_published(30)
    finally:
        client.close()
