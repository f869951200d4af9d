"""Assembly: build each part of the pipeline from settings. Used by the CLI commands and by `demo` alike."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory.errors import BrokerError, ConfigError
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.ingest.service import IngestService
from smartfactory.mqtt import MqttClient, ProtocolVersion, Will
from smartfactory.settings import PROJECT_ROOT, Settings, parse_mqtt_url
from smartfactory.sim.loader import discover
from smartfactory.sim.plant import load_plant, resolve_plant_file
from smartfactory.sim.runner import Simulation, run, status_payload
from smartfactory.storage import Storage, open_store
from smartfactory.wire import MessageClass

log = logging.getLogger(__name__)
DASHBOARD_APP = PROJECT_ROOT / "dashboard" / "app.py"


def open_configured_store(settings: Settings) -> Storage:
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    return open_store(settings.store, token=token)


@dataclass
class RunningIngest:
    service: IngestService
    store: Storage

    def stop(self) -> None:
        self.service.stop()
        self.store.close()


def start_ingest(settings: Settings) -> RunningIngest:
    """Connect with a persistent session (MQTT 5 where the broker speaks it, else 3.1.1) and start ingesting."""
    address = parse_mqtt_url(settings.mqtt_url)
    store = open_configured_store(settings)
    monitor = MonitorStage(phase1_points=settings.spc.phase1_points, rules=settings.spc.rules)
    versions: tuple[ProtocolVersion, ...] = ("5", "3.1.1")
    for version in versions:
        client = MqttClient(
            address,
            client_id=settings.ingest.client_id,
            persistent=True,
            protocol=version,
            manual_ack=True,
            keepalive=settings.mqtt.keepalive,
        )
        service = IngestService(client, store, settings.ingest, monitor=monitor, qos=settings.mqtt.qos)
        client.set_message_handler(service.on_message)  # before connect: queued messages arrive at once
        try:
            client.connect(settings.mqtt.connect_timeout)
        except BrokerError as exc:
            log.debug("MQTT %s not accepted (%s)", version, exc)
            if version == versions[-1]:
                store.close()
                raise
            continue
        service.start()
        return RunningIngest(service, store)
    raise AssertionError("unreachable")


@dataclass
class RunningSimulator:
    simulation: Simulation
    client: MqttClient
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    sent: int = 0

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(10)
        ts = int(time.time() * 1000)
        for placed in self.simulation.machines:
            self.client.publish(placed.path.topic(MessageClass.STATUS), status_payload("offline", ts), retain=True)
        self.client.close()


def build_simulation(settings: Settings, start_ms: int | None = None) -> Simulation:
    catalog = discover(settings.sim.dir)
    for problem in catalog.problems:
        log.error("simulator problem: %s", problem)
    plant = load_plant(resolve_plant_file(settings.sim.plant, settings.sim.dir))
    return Simulation(plant, catalog, seed=settings.sim.seed, start_ms=start_ms or int(time.time() * 1000))


def start_simulator(
    settings: Settings, *, duration_s: float | None = None, max_messages: int | None = None
) -> RunningSimulator:
    simulation = build_simulation(settings)
    address = parse_mqtt_url(settings.mqtt_url)
    first = simulation.machines[0].path
    # One connection for the whole plant; its last will marks the first machine offline, and stop() marks all.
    will = Will(first.topic(MessageClass.STATUS), status_payload("offline"), qos=1, retain=True)
    client = MqttClient(
        address,
        client_id=f"smartfactory-sim-{uuid.uuid4().hex[:8]}",
        will=will,
        keepalive=settings.mqtt.keepalive,
    )
    client.connect(settings.mqtt.connect_timeout)
    qos = settings.mqtt.qos
    running = RunningSimulator(simulation, client)

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        client.publish(topic, payload, qos=qos, retain=retain)

    def on_command(message: object) -> None:
        simulation.apply_command(message.topic, message.payload, publish)  # type: ignore[attr-defined]

    client.set_message_handler(on_command)
    for placed in simulation.machines:
        client.subscribe(placed.path.topic(MessageClass.CMD), qos=1)
        client.publish(
            placed.path.topic(MessageClass.STATUS),
            status_payload("online", int(time.time() * 1000)),
            qos=1,
            retain=True,
        )

    def loop() -> None:
        running.sent = run(
            simulation,
            publish,
            speed=settings.sim.speed,
            duration_s=duration_s,
            max_messages=max_messages,
            stop=running.stop_event,
        )

    running.thread = threading.Thread(target=loop, name="simulator", daemon=True)
    running.thread.start()
    return running


def dashboard_command(settings: Settings) -> list[str]:
    if not DASHBOARD_APP.is_file():
        raise ConfigError(f"the dashboard app is missing at {DASHBOARD_APP}; run from a source checkout")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.address",
        settings.dashboard.host,
        "--server.port",
        str(settings.dashboard.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


def start_dashboard(settings: Settings) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMARTFACTORY_STORE": settings.store, "SMARTFACTORY_MQTT_URL": settings.mqtt_url}
    return subprocess.Popen(dashboard_command(settings), env=env, stdout=subprocess.DEVNULL)


def data_path(settings: Settings, *parts: str) -> Path:
    path = settings.data_dir.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
