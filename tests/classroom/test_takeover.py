"""Client ids bound to accounts on the class broker (issues 13 and 15): mosquitto lets any account connect under
any client id, and a client connecting under an id in use takes that session over (a clean session ends it, queue
and all). The class broker `classroom init` writes binds ids to accounts: ingestion and every plant machine connect
to the session port, where the broker names each session after its account, and every id sent must begin with
`smartfactory-`, which no username does. Here a running class (the real mosquitto from the generated
configuration, ingestion, two plants) is attacked by student A under every id ingestion and student B's plant are
known by, on both ports, MQTT 3.1.1 and 5, clean sessions; and the control shows the same attack does take
ingestion over on the class broker without the binding."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from smartfactory.classroom.broker import start_class_broker
from smartfactory.classroom.roster import INGEST_USER, ClassDir
from smartfactory.classroom.session import ClassSession, StartOptions, account_url, start_class
from smartfactory.edge.mqtt import MqttClient, ProtocolVersion
from smartfactory.errors import BrokerError
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, load_settings
from smartfactory.sim.publisher import PlantPublisher
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.classroom.conftest import make_class
from tests.conftest import HAVE_MOSQUITTO, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not HAVE_MOSQUITTO, reason="classroom mode runs the real mosquitto 2 (CI installs it)"),
]
PROTOCOLS: tuple[ProtocolVersion, ...] = ("3.1.1", "5")
SETTLE_S = 2.5  # longer than a kicked-off client's first reconnect (edge.mqtt.RECONNECT: 1 s, jitter 0.5)


def attack(
    folder: ClassDir, user: str, ids: Iterable[str], ports: Iterable[int], timeout: float = 3.0
) -> dict[str, str]:
    """`user` connects with a clean session under each id, on each port and protocol; what the broker said."""
    password = folder.accounts()[user].password
    outcome = {}
    for client_id in ids:
        for port in ports:
            for protocol in PROTOCOLS:
                client = MqttClient(
                    BrokerAddress("127.0.0.1", port, user, password), client_id=client_id, protocol=protocol
                )
                try:
                    client.connect(timeout=timeout)
                    outcome[f"{client_id}@{port}/{protocol}"] = "accepted"
                    time.sleep(0.05)  # a takeover would have happened at the CONNECT already
                except BrokerError:
                    outcome[f"{client_id}@{port}/{protocol}"] = "refused"
                client.close(flush_timeout=0.5)
    return outcome


def plant_clients(session: ClassSession, student: str) -> list[MqttClient]:
    publisher = session.plants[student].publisher
    assert isinstance(publisher, PlantPublisher)
    return publisher.clients


def markers(namespace: str, count: int) -> list[tuple[str, bytes]]:
    start = int(time.time() * 1000) - 5_000
    topic = f"{namespace}/area/line/marker-{uuid.uuid4().hex[:6]}/telemetry/t"
    return [(topic, json.dumps({"value": i + 0.5, "ts": format_ts(start + i)}).encode()) for i in range(count)]


def stored_values(store_url: str, series: str) -> list[float]:
    store = SqliteStorage(store_url)
    try:
        return sorted(store.read_series(series)["value"].to_list())
    finally:
        store.close()


def test_a_student_can_neither_kick_off_nor_take_over_ingestion_or_another_students_plant(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "class", students=2, class_seed=7)
    info = folder.info()
    settings = load_settings(spc={"rules": "none"})
    session = start_class(folder, settings, StartOptions(dashboard=False), say=lambda _: None)
    try:
        assert session.ingest is not None
        ingest = session.ingest.service.client
        b_clients = plant_clients(session, "student-02")
        a_clients = plant_clients(session, "student-01")
        assert wait_until(lambda: ingest.connected and all(c.connected for c in b_clients + a_clients))
        before = {"ingest": ingest.session, **{c.client_id: c.session for c in b_clients}}
        ingest_id = ingest.client_id
        assert ingest_id.startswith("smartfactory-ingest-")
        ports = (info.port, info.session_port)
        names = [INGEST_USER, "student-02.m1", f"student-02.m{len(b_clients)}"]  # the sessions' broker-side names
        outcome = attack(folder, "student-01", names, ports, timeout=1.0)
        outcome |= attack(folder, "student-01", [ingest_id, *(c.client_id for c in b_clients)], ports)
        # the broker-side names of the sessions do not begin with smartfactory-: refused on either port
        for name in names:
            for port in (info.port, info.session_port):
                assert outcome[f"{name}@{port}/3.1.1"] == outcome[f"{name}@{port}/5"] == "refused"
        # the ids the clients send are accepted, but as a session of the attacker's own: on the main port under that
        # id (no session of the session port is named so), on the session port renamed to "student-01"
        assert outcome[f"{ingest_id}@{info.port}/5"] == outcome[f"{ingest_id}@{info.session_port}/5"] == "accepted"
        assert all(said == "accepted" for key, said in outcome.items() if key.split("@")[0] not in names)

        time.sleep(SETTLE_S)
        after = {"ingest": ingest.session, **{c.client_id: c.session for c in b_clients}}
        assert after == before, "a connection was kicked off (and came back as a new session)"
        assert ingest.connected
        assert all(c.connected for c in b_clients)

        # ingestion's persistent session: stopped, it keeps collecting; the attack again; nothing of it is lost
        assert session.ingest.stop()
        session.ingest = None
        queued = markers("lab/student-02", 50)
        b_account = folder.accounts()["student-02"]
        publisher = MqttClient(BrokerAddress("127.0.0.1", info.port, "student-02", b_account.password))
        publisher.connect()
        for topic, payload in queued:
            publisher.publish(topic, payload, qos=1)
        assert publisher.wait_published(30)
        publisher.close()
        attack(folder, "student-01", [ingest_id], ports)
        attack(folder, "student-01", [INGEST_USER], ports, timeout=1.0)
        session.ingest = start_ingest(
            session.settings.model_copy(update={"mqtt_url": account_url(info, folder.service("ingest"))})
        )
        assert session.ingest.service.client.session_present  # the broker still held ingestion's session
        series = queued[0][0]
        expected = sorted(json.loads(p)["value"] for _, p in queued)
        assert wait_until(lambda: stored_values(session.settings.store, series) == expected, timeout=30)
    finally:
        session.stop(lambda _: None)


def test_control_without_the_binding_a_student_takes_ingestion_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The class broker with the binding lines taken out: the same attack kicks ingestion off. If this stopped
    happening, the test above would no longer show anything."""
    folder = make_class(tmp_path / "class", students=1, class_seed=7)
    info = folder.info()
    conf = folder.broker_conf.read_text().splitlines()
    binding = ("clientid_prefixes", "auto_id_prefix", "use_username_as_clientid", f"listener {info.session_port} ")
    unbound = [line for line in conf if not line.startswith(binding)]
    assert len(unbound) == len(conf) - 4
    folder.broker_conf.write_text("\n".join(unbound) + "\n")
    read_info = ClassDir.info
    monkeypatch.setattr(ClassDir, "info", lambda self: dataclasses.replace(read_info(self), session_port=0))
    broker = start_class_broker(folder)  # (it would wait for the session port, which is gone)
    try:
        ingest_account = folder.service("ingest")
        address = BrokerAddress("127.0.0.1", info.port, ingest_account.username, ingest_account.password)
        running = start_ingest(
            load_settings(
                mqtt_url=address.url(masked=False),
                store=f"sqlite:///{tmp_path / 'control.db'}",
                data_dir=tmp_path / "data",
                spc={"rules": "none"},
                ingest={"client_id": ingest_account.client_id},
            )
        )
        try:
            client = running.service.client
            before = client.session
            attack(folder, "student-01", [ingest_account.client_id], (info.port,))
            assert wait_until(lambda: client.session != before, timeout=SETTLE_S + 5), "ingestion was not kicked off"
        finally:
            running.stop()
    finally:
        broker.stop()
