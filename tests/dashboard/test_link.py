"""The dashboard's MQTT link against a real broker: ingestion health, acknowledgements, and the whole ack loop."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from dashboard.link import BrokerLink
from streamlit.testing.v1 import AppTest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import BrokerError
from smartfactory.model import Alarm
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import AckPayload
from tests.dashboard.conftest import APP, TEMP, seed_store

pytestmark = pytest.mark.integration


class Inbox:
    def __init__(self, address: BrokerAddress, topic_filter: str) -> None:
        self.messages: list[Message] = []
        self.arrived = threading.Event()
        self.client = MqttClient(address, on_message=self._on)
        self.client.subscribe(topic_filter, qos=1)
        self.client.connect(5)

    def _on(self, message: Message) -> None:
        self.messages.append(message)
        self.arrived.set()


def test_status_reads_the_retained_health_messages(broker: RunningBroker) -> None:
    publisher = MqttClient(broker.address)
    publisher.connect(5)
    now = int(time.time() * 1000)
    body = {"worker": "w1", "ts": now, "stored": 1234, "rejected_total": 2, "lag_ms": 40}
    publisher.publish("_sf/health/w1", json.dumps(body).encode(), qos=1, retain=True)
    publisher.close()
    link = BrokerLink(broker.address)
    try:
        status = link.status()
        assert status.connected
        assert [w.worker for w in status.workers] == ["w1"]
        assert status.workers[0].counters["stored"] == 1234
        assert status.workers[0].age_s(now + 3000) == pytest.approx(3.0)
    finally:
        link.close()


def test_acknowledge_publishes_an_ack_payload_on_the_sensors_ack_topic(broker: RunningBroker) -> None:
    inbox = Inbox(broker.address, "+/+/+/+/+/ack/+")
    link = BrokerLink(broker.address)
    try:
        alarm = Alarm("a1", TEMP, 1000, ("WE1",), 70.0)
        assert link.acknowledge([alarm], "ana") == 1
        assert inbox.arrived.wait(5)
        message = inbox.messages[0]
        assert message.topic == "acme/plant1/machining/line-1/cnc-01/ack/spindle_temp"
        payload = AckPayload.model_validate_json(message.payload)
        assert (payload.alarm_id, payload.by) == ("a1", "ana")
    finally:
        link.close()
        inbox.client.close()


def test_acknowledge_without_a_broker_raises_a_clear_error() -> None:
    from tests.conftest import free_port

    link = BrokerLink(BrokerAddress("127.0.0.1", free_port()), connect_timeout=0.5)
    status = link.status()
    assert not status.connected
    assert status.error is not None
    with pytest.raises(BrokerError, match="cannot reach the MQTT broker"):
        link.acknowledge([Alarm("a1", TEMP, 1000, ("WE1",), 70.0)], "ana")


def test_acknowledging_in_the_ui_reaches_the_store_through_ingestion(
    dashboard_store: Path, broker: RunningBroker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seed_store(dashboard_store)
    url = broker.address.url(masked=False)
    monkeypatch.setenv("SMARTFACTORY_MQTT_URL", url)
    ingest = start_ingest(
        load_settings(
            mqtt_url=url,
            store=f"sqlite:///{dashboard_store}",
            data_dir=tmp_path,
            ingest={"client_id": f"dash-ingest-{tmp_path.name[-10:]}", "flush_interval": 0.05},
        )
    )
    try:
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
        app.switch_page("app_pages/alarms.py")
        app.run()
        app.text_input(key="ack_by").set_value("lecturer").run()
        app.button(key="ack|a1").click().run()
        assert not app.exception
        assert "Sent 1 acknowledgement(s) as 'lecturer'" in "\n".join(s.value for s in app.success)
        store = SqliteStorage(f"sqlite:///{dashboard_store}")
        deadline = time.monotonic() + 10
        acked = None
        while time.monotonic() < deadline and acked is None:
            acked = next((a for a in store.read_alarms() if a.alarm_id == "a1" and a.acked_ms is not None), None)
            time.sleep(0.05)
        store.close()
        assert acked is not None
        assert acked.acked_by == "lecturer"
        app.run()
        table = app.table[0].value  # the active alarms
        assert list(table["status"]) == ["acknowledged"]
        assert list(table["acknowledged by"]) == ["lecturer"]
    finally:
        ingest.stop()
