"""Assembly: build each part of the pipeline from settings. Used by the CLI commands and by `demo` alike."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from smartfactory.classroom.namespace import Namespace, relocate
from smartfactory.edge.broker import packet_limit
from smartfactory.edge.mqtt import MqttClient, ProtocolVersion, Will
from smartfactory.errors import BrokerError, ConfigError
from smartfactory.ingest.monitor import MonitorStage, load_limits_file, watch_patterns
from smartfactory.ingest.service import IngestService
from smartfactory.ingest.sparkplug import HostState, mapping_of
from smartfactory.ingest.spool import Spool
from smartfactory.settings import PROJECT_ROOT, BrokerAddress, Settings, ensure_ingest_client_id, parse_mqtt_url
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import discover
from smartfactory.sim.plant import load_plant, resolve_plant_file
from smartfactory.sim.progress import ProgressBar
from smartfactory.sim.publisher import PlantPublisher
from smartfactory.sim.runner import RunStats, plan_start, run
from smartfactory.sim.scenario import Scenario, load_scenario, resolve_scenario_file
from smartfactory.sim.sparkplug_publisher import SparkplugPublisher
from smartfactory.storage import Storage
from smartfactory.stores import open_configured_store  # store opening lives in stores.py (no sim imports)
from smartfactory.wire import HEALTH_PREFIX, HealthPayload

if TYPE_CHECKING:
    from smartfactory.opcua.security import Security
    from smartfactory.opcua.server import PlantServer

log = logging.getLogger(__name__)
T = TypeVar("T")
DASHBOARD_APP = PROJECT_ROOT / "dashboard" / "app.py"


@dataclass
class RunningIngest:
    service: IngestService
    store: Storage
    host_state: HostState | None = None  # the Sparkplug host's STATE connection (ingest.sparkplug)

    def stop(self, timeout: float = 10.0) -> bool:
        """Write and acknowledge everything received, then disconnect; False if that did not finish in time (then
        `service.stop_note` says so, and the store is closed once the abandoned writer is out of it, never under
        it: closing it at once gave "Cannot operate on a closed database")."""
        try:
            return self.service.stop(timeout)
        finally:
            if self.host_state is not None:
                self.host_state.stop()
            self.service.when_writer_done(self.store.close)


def spool_directory(settings: Settings) -> Path:
    """The spool of this worker: one folder per client id under `ingest.spool_dir` (default DATA_DIR/spool)."""
    root = settings.ingest.spool_dir or settings.data_dir / "spool"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in settings.ingest.client_id)
    return root / safe


def build_monitor(settings: Settings, store: Storage) -> MonitorStage | None:
    """The live monitor (docs/spc.md, "The live monitor"), designed to `spc.budget_per_hour` over the plant the store
    knows (its machines' births). Limits: the limits file (`spc.limits_file`, else the plant's shipped one under
    `SIM__DIR/limits/`), else the newest stored version, else learned.

    Rules "none" means no monitor at all (for a bulk backfill), not a monitor that checks nothing.
    """
    spc = settings.spc
    if spc.rules == "none":
        return None
    limits_file = spc.limits_file
    if limits_file is None and spc.shipped_limits:
        shipped = settings.sim.dir / "limits" / f"{Path(settings.sim.plant).stem}.toml"
        limits_file = shipped if shipped.is_file() else None
    configured = load_limits_file(limits_file) if limits_file is not None else {}
    try:
        stored = {v.series: v for v in store.read_limits()}
        infos = store.read_machine_info()
    except Exception as exc:  # an unreachable store: start from nothing, births and phase I fill it in
        log.warning("could not read stored limits and machine facts (%s); the monitor starts without them", exc)
        stored, infos = {}, {}
    return MonitorStage(
        detector=spc.detector,
        budget_per_hour=spc.budget_per_hour,
        phase1_points=spc.phase1_points,
        phase1_max_s=spc.phase1_max_s,
        warmup_s=spc.warmup_s,
        subgroup_size=spc.subgroup_size,
        rules=spc.rules,
        clear_after_s=spc.clear_after_s,
        clear_after_points=spc.clear_after_points,
        watch=watch_patterns(spc.watch),
        configured=configured,
        stored=stored,
        infos=infos,
        background_design=True,  # a growing plant's new designs are solved off the writer thread
    )


def start_ingest(settings: Settings) -> RunningIngest:
    """Connect with a persistent session (MQTT 5 where the broker speaks it, else 3.1.1) and start ingesting.

    The spool is opened first (a second worker with the same client id fails here, before it could take the
    session over); a spool left by an earlier run is replayed as soon as the store answers.
    """
    settings = ensure_ingest_client_id(settings)  # an empty id: the one kept in DATA_DIR (made at the first start)
    address = parse_mqtt_url(settings.mqtt_url)
    # The session's own connection: in compose on port 1884, where the broker names it after the account (so no
    # other account can resume or end it, and no second connection of this account may go there).
    own = address if settings.ingest.mqtt_port is None else replace(address, port=settings.ingest.mqtt_port)
    ingest = settings.ingest
    spool = Spool(spool_directory(settings), segment_bytes=ingest.spool_segment_bytes, max_bytes=ingest.spool_max_bytes)
    try:
        store = open_configured_store(settings)
    except BaseException:
        spool.close()
        raise
    monitor = build_monitor(settings, store)
    lost = HealthPayload(worker=ingest.client_id, state="lost").to_bytes()
    will = Will(f"{HEALTH_PREFIX}/{ingest.client_id}", lost, qos=0, retain=True)
    versions: tuple[ProtocolVersion, ...] = ("5", "3.1.1")
    for version in versions:
        client = MqttClient(
            own,
            client_id=ingest.client_id,
            persistent=True,
            protocol=version,
            manual_ack=True,
            keepalive=settings.mqtt.keepalive,
            will=will,
            fast_read=settings.mqtt.fast_reader,
            # a payload just over the limit still arrives (and is dead-lettered); much bigger ones are never sent
            max_packet_size=packet_limit(ingest.max_payload_bytes),
        )
        service = IngestService(
            client,
            store,
            ingest,
            monitor=monitor,
            qos=settings.mqtt.qos,
            spool=spool,
            sparkplug_mapping=mapping_of(settings.sparkplug),
        )
        client.set_message_handler(service.on_message)  # before connect: queued messages arrive at once
        try:
            client.connect(settings.mqtt.connect_timeout)
        except BrokerError as exc:
            log.debug("MQTT %s not accepted (%s)", version, exc)
            if version == versions[-1]:
                store.close()
                spool.close()
                raise
            continue
        service.start()
        host_state = _start_host_state(settings, address, version) if ingest.sparkplug else None
        return RunningIngest(service, store, host_state)
    raise AssertionError("unreachable")


def _start_host_state(settings: Settings, address: BrokerAddress, version: ProtocolVersion) -> HostState | None:
    """The Sparkplug host's retained STATE, on a connection of its own (MQTT has one will per connection and the
    ingest connection's reports the worker's health). Ingestion goes on without it when it cannot connect."""

    def make_client(will: Will) -> MqttClient:
        return MqttClient(
            address,
            client_id=f"{settings.ingest.client_id}-spb-state",
            protocol=version,
            keepalive=settings.mqtt.keepalive,
            will=will,
        )

    state = HostState(settings.ingest.sparkplug_host_id, make_client)
    try:
        state.start(settings.mqtt.connect_timeout)
    except BrokerError as exc:
        log.warning("no Sparkplug STATE for host %r (%s); ingestion goes on", settings.ingest.sparkplug_host_id, exc)
        state.client.abort()
        return None
    return state


class SimOutputs:
    """Several simulator outputs (MQTT, an OPC UA server) behind one `publish(topic, payload, retain)`."""

    def __init__(self, *outputs: PlantPublisher | SparkplugPublisher | PlantServer) -> None:
        self.outputs = outputs

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        for output in self.outputs:
            output(topic, payload, retain)

    def release(self) -> None:
        for output in self.outputs:
            output.release()

    def close(self) -> None:
        for output in self.outputs:
            output.close()


@dataclass
class RunningSimulator:
    """A simulated plant publishing in a background thread; `stop()` marks every machine offline."""

    simulation: Simulation
    publisher: PlantPublisher | SparkplugPublisher | SimOutputs
    stats: RunStats = field(default_factory=RunStats)
    scenario: Scenario | None = None
    speed: float = 1.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    @property
    def sent(self) -> int:
        """Telemetry messages published so far."""
        return self.stats.telemetry

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(2)
            if self.thread.is_alive():  # waiting for an absent broker: give up on what it holds
                self.publisher.release()
                self.thread.join(10)
        self.publisher.close()


def _first(*values: T | None) -> T:
    """The first value that is not None (explicit argument, then scenario, then settings)."""
    for value in values:
        if value is not None:
            return value
    raise ValueError("no value given")


def build_simulation(
    settings: Settings,
    start_ms: int | None = None,
    *,
    scenario: Scenario | None = None,
    seed: int | None = None,
    plant: str | None = None,
    record_truth: bool = False,
    namespace: str | None = None,
) -> Simulation:
    """The simulated plant of the settings; a scenario and explicit arguments override them (in that order).
    `namespace` ("lab/student-07") replaces the plant file's enterprise and site (classroom mode)."""
    catalog = discover(settings.sim.dir)
    for problem in catalog.problems:
        log.error("simulator problem: %s", problem)
    plant_name = plant or (scenario.plant if scenario is not None else None) or settings.sim.plant
    the_seed = _first(seed, scenario.seed if scenario is not None else None, settings.sim.seed)
    the_plant = load_plant(resolve_plant_file(plant_name, settings.sim.dir))
    if namespace is not None:
        the_plant = relocate(the_plant, Namespace.parse(namespace))
    return Simulation(
        the_plant,
        catalog,
        seed=the_seed,
        start_ms=start_ms if start_ms is not None else int(time.time() * 1000),
        auto_stops=scenario is None or scenario.auto_stops is not False,
        shifts=scenario is None or scenario.shifts is not False,
        record_truth=record_truth,
    )


def start_simulator(
    settings: Settings,
    *,
    duration_s: float | None = None,
    max_messages: int | None = None,
    scenario: str | None = None,
    backfill_s: float | None = None,
    speed: float | None = None,
    seed: int | None = None,
    plant: str | None = None,
    start_ms: int | None = None,
    progress: TextIO | None = None,
    record_truth: bool | None = None,
    namespace: str | None = None,
    opcua_endpoint: str | None = None,
    opcua_security: Security | None = None,
    mqtt: bool = True,
    wire_format: str = "uns",
    machine_addresses: Mapping[str, BrokerAddress] | None = None,
) -> RunningSimulator:
    """Connect every machine (own connection, own last will) and run the plant in a background thread.

    `speed` 0 runs as fast as possible. Explicit arguments win over the scenario's suggestions, which win over
    the settings. Without `start_ms` the start is planned so that no timestamp lies ahead of the wall clock
    (`runner.plan_start`). The ground truth is recorded for runs of known `duration_s` (or when asked).
    `wire_format` "sparkplug" publishes Sparkplug B instead of wire format v1 (docs/sparkplug.md).
    `machine_addresses` (machine path → broker address) connects each machine with an account of its own
    (classroom mode: the session port, where the broker names a session after its account).
    """
    if wire_format not in ("uns", "sparkplug"):
        raise ConfigError(f"unknown wire format {wire_format!r}: choose uns or sparkplug")
    if machine_addresses is not None and wire_format != "uns":
        raise ConfigError("an account per machine (classroom mode) needs wire format uns: one connection per machine")
    chosen = load_scenario(resolve_scenario_file(scenario, settings.sim.dir)) if scenario else None
    the_speed = _first(speed, chosen.speed if chosen else None, settings.sim.speed)
    backfill = _first(backfill_s, chosen.backfill_s if chosen else None, 0.0)
    if start_ms is None:
        start_ms = plan_start(int(time.time() * 1000), speed=the_speed, duration_s=duration_s, backfill_s=backfill)
    simulation = build_simulation(
        settings,
        start_ms,
        scenario=chosen,
        seed=seed,
        plant=plant,
        record_truth=duration_s is not None if record_truth is None else record_truth,
        namespace=namespace,
    )
    outputs: list[PlantPublisher | SparkplugPublisher | PlantServer] = []
    if opcua_endpoint is not None:  # `--opcua-endpoint`: the plant as an OPC UA server too (docs/opcua.md)
        from smartfactory.opcua.server import PlantServer  # asyncua takes a second to import: only when asked

        opcua = PlantServer(opcua_endpoint, [(m.path, m.info) for m in simulation.machines], security=opcua_security)
        opcua.start()
        outputs.append(opcua)
    if mqtt or not outputs:
        mqtt_out: PlantPublisher | SparkplugPublisher
        if wire_format == "sparkplug":  # one edge node per line, commands still on the UNS (docs/sparkplug.md)
            mqtt_out = SparkplugPublisher(
                parse_mqtt_url(settings.mqtt_url),
                simulation.machines,
                qos=settings.mqtt.qos,
                keepalive=settings.mqtt.keepalive,
                on_command=simulation.command,
                mapping=mapping_of(settings.sparkplug),
            )
        else:
            mqtt_out = PlantPublisher(
                parse_mqtt_url(settings.mqtt_url),
                simulation.machines,
                qos=settings.mqtt.qos,
                keepalive=settings.mqtt.keepalive,
                on_command=simulation.command,
                addresses=machine_addresses,
            )
        try:
            mqtt_out.connect(settings.mqtt.connect_timeout)
        except BaseException:
            for output in outputs:
                output.close()
            raise
        outputs.insert(0, mqtt_out)
    publisher = SimOutputs(*outputs) if opcua_endpoint is not None else mqtt_out
    running = RunningSimulator(simulation, publisher, scenario=chosen, speed=the_speed)
    bar = ProgressBar(progress) if progress is not None and backfill > 0 else None

    def loop() -> None:
        try:
            run(
                simulation,
                publisher,
                speed=the_speed,
                duration_s=duration_s,
                max_messages=max_messages,
                stop=running.stop_event,
                backfill_s=backfill,
                scenario=chosen,
                progress=bar,
                stats=running.stats,
            )
        except BaseException as exc:
            running.error = exc
            log.exception("the simulator stopped")
        finally:
            if bar is not None:
                bar.finish()

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
