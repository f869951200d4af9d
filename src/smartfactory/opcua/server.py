"""The plant as an OPC UA server, fed by the simulator's wire v1 messages (`publish(topic, payload, retain)`).

`PlantServer` is called like the MQTT publisher (`sim/publisher.PlantPublisher`), so `services.start_simulator`
hands it the same messages; it needs no part of the simulator. The layout of the address space is in
`naming.py`. asyncua is asynchronous: the server runs in a thread of its own with its own event loop, and each
message becomes one batch of writes handed to that loop (`run_coroutine_threadsafe`). At most `max_pending`
batches wait there: beyond that a publish blocks (back-pressure on the simulator, as a slow broker would), and
after `block_s` seconds the batch is dropped and counted.

Every value is written with the simulated time as its SourceTimestamp, so a client sees when a reading was made,
not when it was served. Until its first reading a variable is Null with status `BadWaitingForInitialData`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from asyncua import Node, Server, ua

from smartfactory.errors import ConfigError, WireError
from smartfactory.opcua import naming
from smartfactory.opcua.security import Security, apply_to_server, user_manager
from smartfactory.opcua.units import engineering_unit
from smartfactory.wire import (
    MachineInfo,
    MachinePath,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    ReadingPayload,
    StatePayload,
    StatusPayload,
    Topic,
)

log = logging.getLogger(__name__)
#: Batches of writes that may wait for the server's loop before a publish blocks.
MAX_PENDING = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Update = tuple[ua.NodeId, ua.DataValue]


def source_time(ts_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ts_ms)


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Host and port of `opc.tcp://HOST:PORT[/path]`; `ConfigError` for anything else."""
    parts = urlparse(endpoint)
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise ConfigError(f"an OPC UA endpoint looks like opc.tcp://127.0.0.1:4840, not {endpoint!r}")
    try:
        port = parts.port or 4840
    except ValueError:
        raise ConfigError(f"the port of {endpoint!r} is not a number") from None
    return parts.hostname, port


def _value(value: float | str | int | None, variant: ua.VariantType, ts_ms: int | None) -> ua.DataValue:
    source = source_time(ts_ms) if ts_ms is not None else None
    return ua.DataValue(ua.Variant(value, variant), ua.StatusCode(ua.StatusCodes.Good), source)


@dataclass
class _Machine:
    """The node ids of one machine and its part counters (kept on the publishing side)."""

    path: MachinePath
    signals: dict[str, ua.NodeId] = field(default_factory=dict)
    fixed: dict[str, ua.NodeId] = field(default_factory=dict)
    parts: list[int] = field(default_factory=lambda: [0, 0, 0])  # total, good, scrap


class PlantServer:
    """An OPC UA server of simulated machines; call it like `publish(topic, payload, retain)`."""

    def __init__(
        self,
        endpoint: str,
        machines: Iterable[tuple[MachinePath, MachineInfo | None]],
        *,
        security: Security | None = None,
        max_pending: int = MAX_PENDING,
        block_s: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self.host, self.port = parse_endpoint(endpoint)
        self.security = security or Security()
        self._initial = list(machines)
        self._machines: dict[str, _Machine] = {}
        self._slots = threading.Semaphore(max_pending)
        self._block_s = block_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._closing = False
        self._ns = 0
        self._folders: dict[str, Node] = {}
        self._lock = threading.Lock()
        #: values written, messages dropped (server away or too slow), messages of unknown machines or signals
        self.written = 0
        self.dropped = 0
        self.unknown = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> None:
        """Start the server thread and wait until it listens; raise `ConfigError` when it cannot."""
        self._thread = threading.Thread(target=self._thread_main, name="opcua-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ConfigError(f"the OPC UA server at {self.endpoint} did not start within {timeout:g} s")
        if self._error is not None:
            raise ConfigError(f"the OPC UA server at {self.endpoint} could not start: {self._error}") from None

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start(); a failure after start is logged
            self._error = exc
            if self._ready.is_set():
                log.exception("the OPC UA server stopped")
            self._ready.set()
        finally:
            self._loop = None
            loop.close()

    async def _serve(self) -> None:
        quiet_asyncua()
        server = Server(user_manager=user_manager(self.security))
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}/")
        server.set_server_name("smartfactory plant")
        await apply_to_server(server, self.security)
        self._ns = await server.register_namespace(naming.NAMESPACE_URI)
        self._server = server
        for path, info in self._initial:
            await self._add_machine(path, info)
        self._stop = asyncio.Event()
        await server.start()
        log.info("OPC UA server on %s (%d machines, %s)", self.endpoint, len(self._machines), self.security.describe())
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await server.stop()

    def release(self) -> None:
        """Stop waiting for a server that does not keep up: what cannot be handed over any more is dropped."""
        self._closing = True

    def close(self, *, offline: bool = True, timeout: float = 10.0) -> None:
        """Mark every machine offline (`Status`), then stop the server and its thread."""
        self._closing = True
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        if offline:
            now = int(time.time() * 1000)
            updates = [(m.fixed[naming.STATUS], _value("offline", ua.VariantType.String, now)) for m in self._all()]
            self._submit(updates, wait=1.0)
        with contextlib.suppress(RuntimeError):  # the loop may just have ended by itself
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
        if self.dropped:
            log.warning("the OPC UA server dropped %d messages it could not serve in time", self.dropped)

    def abort(self) -> None:
        """Stop at once (tests): clients see the connection end without a goodbye."""
        self.close(offline=False)

    def _all(self) -> list[_Machine]:
        with self._lock:
            return list(self._machines.values())

    # ------------------------------------------------------------------ address space

    async def _folder(self, levels: tuple[str, ...]) -> Node:
        assert self._server is not None
        if not levels:
            return self._server.nodes.objects
        key = naming.folder_key(levels)
        known = self._folders.get(key)
        if known is None:
            parent = await self._folder(levels[:-1])
            known = await parent.add_folder(ua.NodeId(key, self._ns), ua.QualifiedName(levels[-1], self._ns))
            self._folders[key] = known
        return known

    async def _add_machine(self, path: MachinePath, info: MachineInfo | None) -> None:
        key = naming.machine_key(path)
        with self._lock:
            if key in self._machines:
                return
        ns = self._ns
        parent = await self._folder((path.enterprise, path.site, path.area, path.line))
        obj = await parent.add_object(ua.NodeId(key, ns), ua.QualifiedName(path.machine, ns))
        machine = _Machine(path)
        if info is not None:
            await self._add_property(obj, key, naming.MACHINE_TYPE, info.machine_type, ua.VariantType.String)
            if info.ideal_cycle_s is not None:
                await self._add_property(obj, key, naming.IDEAL_CYCLE_TIME, info.ideal_cycle_s, ua.VariantType.Double)
            if info.sample_interval_s is not None:
                await self._add_property(
                    obj, key, naming.SAMPLE_INTERVAL, info.sample_interval_s, ua.VariantType.Double
                )
            for name, signal in info.signals.items():
                if name in naming.MACHINE_VARIABLES:
                    log.warning("%s: signal %r has the name of a machine variable; it is not served", path, name)
                    continue
                var_key = naming.variable_key(path, name)
                var = await obj.add_variable(
                    ua.NodeId(var_key, ns), ua.QualifiedName(name, ns), ua.Variant(0.0, ua.VariantType.Double)
                )
                await self._add_property(var, var_key, naming.SIGNAL_KIND, signal.kind, ua.VariantType.String)
                if signal.unit:
                    eu = engineering_unit(signal.unit)
                    units = ua.EUInformation(
                        eu.namespace_uri,
                        eu.unit_id,
                        ua.LocalizedText(eu.display_name),
                        ua.LocalizedText(eu.description),
                    )
                    await self._add_property(
                        var,
                        var_key,
                        naming.ENGINEERING_UNITS,
                        units,
                        ua.VariantType.ExtensionObject,
                        standard=True,
                        datatype=ua.NodeId(ua.ObjectIds.EUInformation),
                    )
                if signal.lsl is not None and signal.usl is not None:
                    await self._add_property(
                        var,
                        var_key,
                        naming.EU_RANGE,
                        ua.Range(signal.lsl, signal.usl),
                        ua.VariantType.ExtensionObject,
                        standard=True,
                        datatype=ua.NodeId(ua.ObjectIds.Range),
                    )
                machine.signals[name] = var.nodeid
        for name in naming.MACHINE_VARIABLES:
            counter = name in (naming.PARTS_TOTAL, naming.PARTS_GOOD, naming.PARTS_SCRAP)
            initial = ua.Variant(0, ua.VariantType.UInt32) if counter else ua.Variant("", ua.VariantType.String)
            var = await obj.add_variable(
                ua.NodeId(naming.variable_key(path, name), ns), ua.QualifiedName(name, ns), initial
            )
            machine.fixed[name] = var.nodeid
        assert self._server is not None
        waiting = ua.DataValue(
            ua.Variant(None, ua.VariantType.Null), ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)
        )
        for nodeid in [*machine.signals.values(), *machine.fixed.values()]:
            await self._server.write_attribute_value(nodeid, waiting)
        with self._lock:
            self._machines[key] = machine

    async def _add_property(
        self,
        owner: Node,
        owner_key: str,
        name: str,
        value: object,
        variant: ua.VariantType,
        *,
        standard: bool = False,
        datatype: ua.NodeId | None = None,
    ) -> None:
        browse_ns = 0 if standard else self._ns
        await owner.add_property(
            ua.NodeId(naming.property_key(owner_key, name), self._ns),
            ua.QualifiedName(name, browse_ns),
            value,
            variant,
            datatype,
        )

    # ------------------------------------------------------------------ the sink

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        """Serve one wire v1 message: its values become writes with the message's timestamps."""
        try:
            parsed = Topic.parse(topic)
        except WireError:
            self.unknown += 1
            return
        machine = self._machines.get(naming.machine_key(parsed.path))
        if machine is None:
            if parsed.cls is MessageClass.STATUS:
                try:
                    birth = StatusPayload.from_bytes(payload)
                except ValueError:
                    self.unknown += 1
                    return
                if birth.info is not None:
                    self._submit_machine(parsed.path, birth.info)
                    return
            self.unknown += 1
            return
        try:
            updates = self._updates(machine, parsed, payload)
        except ValueError as exc:  # pydantic's ValidationError too: never stop the simulator over one message
            self.unknown += 1
            log.warning("not served over OPC UA: %s (%s)", topic, exc)
            return
        if updates:
            self._submit(updates, wait=self._block_s)

    def _updates(self, machine: _Machine, topic: Topic, payload: bytes) -> list[Update]:
        double, string = ua.VariantType.Double, ua.VariantType.String
        out: list[Update] = []
        cls = topic.cls
        if cls is MessageClass.TELEMETRY:
            if topic.name is not None:
                one = ReadingPayload.from_bytes(payload)
                samples = [(one.ts, {topic.name: one.value})]
            else:
                samples = [(s.ts, s.values) for s in MachineTelemetry.from_bytes(payload).samples()]
            for ts, values in samples:
                for name, value in values.items():
                    nodeid = machine.signals.get(name)
                    if nodeid is None:
                        self.unknown += 1
                        continue
                    out.append((nodeid, _value(float(value), double, ts)))
        elif cls is MessageClass.QUALITY:
            part = QualityPayload.from_bytes(payload)
            for name, value in part.measurements.items():
                nodeid = machine.signals.get(name)
                if nodeid is None:
                    self.unknown += 1
                    continue
                out.append((nodeid, _value(float(value), double, part.ts)))
            counts = machine.parts
            counts[0] += 1
            counts[1 if part.verdict == "good" else 2] += 1
            fixed = machine.fixed
            out.append((fixed[naming.VERDICT], _value(part.verdict, string, part.ts)))
            for name, count in zip((naming.PARTS_TOTAL, naming.PARTS_GOOD, naming.PARTS_SCRAP), counts, strict=True):
                out.append((fixed[name], _value(count, ua.VariantType.UInt32, part.ts)))
            out.append((fixed[naming.PART_ID], _value(part.part_id, string, part.ts)))  # last: the part is complete
        elif cls is MessageClass.STATE:
            state = StatePayload.from_bytes(payload)
            out.append((machine.fixed[naming.STATE_REASON], _value(state.reason or "", string, state.ts)))
            out.append((machine.fixed[naming.STATE], _value(state.state, string, state.ts)))
        elif cls is MessageClass.STATUS:
            status = StatusPayload.from_bytes(payload)
            out.append((machine.fixed[naming.STATUS], _value(status.status, string, status.ts)))
        return out  # events (ground truth) and commands are not machine data: not served

    def _submit_machine(self, path: MachinePath, info: MachineInfo) -> None:
        loop = self._loop
        if loop is None or self._closing:
            return
        future = asyncio.run_coroutine_threadsafe(self._add_machine(path, info), loop)
        try:
            future.result(self._block_s)
        except (concurrent.futures.TimeoutError, RuntimeError) as exc:
            log.warning("could not add %s to the OPC UA server: %s", path, exc)

    def _submit(self, updates: list[Update], *, wait: float) -> None:
        loop = self._loop
        deadline = time.monotonic() + wait
        while not self._slots.acquire(timeout=0.2):
            if self._closing or loop is None or time.monotonic() > deadline:
                self.dropped += 1
                return
        if loop is None:
            self._slots.release()
            self.dropped += 1
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._write(updates), loop)
        except RuntimeError:  # the loop is closed
            self._slots.release()
            self.dropped += 1
            return
        future.add_done_callback(lambda _: self._slots.release())

    async def _write(self, updates: list[Update]) -> None:
        server = self._server
        if server is None:
            return
        for nodeid, value in updates:
            await server.write_attribute_value(nodeid, value)
        self.written += len(updates)

    # ------------------------------------------------------------------ for benchmarks and tests

    def node_id(self, path: MachinePath, name: str) -> ua.NodeId:
        """The node id of a machine's signal or machine variable."""
        return ua.NodeId(naming.variable_key(path, name), self._ns)

    def write_now(self, updates: list[Update]) -> None:
        """Write `updates` and wait until they are served (a benchmark's feed)."""
        loop = self._loop
        if loop is None:
            raise ConfigError("the OPC UA server is not running")
        asyncio.run_coroutine_threadsafe(self._write(updates), loop).result(30)


def quiet_asyncua(*, client: bool = False) -> None:
    """asyncua logs every publish and request at INFO (formatting whole responses) and each failed reconnect
    attempt at WARNING: keep it to errors unless the application itself is at DEBUG (our own logs say what
    happened)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        if client:  # a lost server makes the client's publish loop log tracebacks: the bridge reports the loss
            logging.getLogger("asyncua.client").setLevel(logging.CRITICAL)
