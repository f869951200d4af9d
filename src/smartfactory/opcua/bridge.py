"""OPC UA → MQTT: subscribe to an OPC UA server's nodes and publish what changes in wire format v1.

One subscription (publishing interval `publishing_ms`) holds one monitored item per node of the node map
(browsed from a smartfactory server, or read from a file: `nodemap.py`), with the sampling interval
`sampling_ms`, an absolute `deadband` (0: every change) and a queue of `queue_size` changes per item, oldest
dropped first. Every `flush_s` the changes received are turned into messages:

- process and count signals → one `MachineTelemetry` per machine (a `batch` when several instants arrived),
  each value at its SourceTimestamp;
- a new `PartId` → one `QualityPayload` with the characteristics and the verdict written at the part's time
  (held up to `hold_s` for the ones still on their way, as they arrive on separate monitored items);
- a new `State` → a retained `StatePayload` with the `StateReason` of the same instant (held the same way).

On every connect the bridge publishes each machine's birth (retained `…/status` online with the `MachineInfo` of
the node map); on a loss it publishes `offline` for each.

A restart of the server: the bridge notices (the session's keep-alive, a probe every `probe_s`), publishes the
machines offline, and reconnects with back-off (`RECONNECT`) until the server answers, then browses again and
re-creates the subscription. An OPC UA server keeps no history for its subscribers: what changed while no
session was there is lost. The bridge says so: each outage is logged with the source-time gap it leaves and is
counted (`BridgeStats.outages`, `lost_s`). A value seen again after a reconnect (a subscription's first
notification repeats the current value) is not published twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from asyncua import Client, ua
from asyncua.common import subscription as asyncua_subscription

from smartfactory.errors import ConfigError
from smartfactory.opcua.browse import browse_plant, resolve
from smartfactory.opcua.nodemap import MachineNodes, NodeMap
from smartfactory.opcua.security import Security, apply_to_client
from smartfactory.opcua.server import quiet_asyncua
from smartfactory.retry import RetryPolicy
from smartfactory.wire import (
    MachinePath,
    MessageClass,
    QualityPayload,
    StatePayload,
    StatusPayload,
    format_ts,
    telemetry_json,
)

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes, bool], None]
T = TypeVar("T")
#: Pause before reconnect attempt n: 0.5 s doubling to 5 s, up to half of it off at random (retry.py).
RECONNECT = RetryPolicy(initial=0.5, factor=2.0, max=5.0, jitter=0.5, retries=None)
#: asyncua ≥ 2 can queue a subscription's changes for one reader (its iterator mode); older ones call a handler.
_QUEUED = "queue_maxsize" in inspect.signature(Client.create_subscription).parameters
#: Changes that queue may hold before new ones are dropped (the reader keeps up unless the loop is starved).
EVENT_QUEUE = 200_000
#: The session timeout asked for: asyncua's server grants at most 10 minutes.
SESSION_TIMEOUT_MS = 600_000
_STATES = frozenset({"running", "idle", "setup", "down", "planned"})
_VERDICTS = frozenset({"good", "scrap"})


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    endpoint: str
    security: Security = field(default_factory=Security)
    node_map: NodeMap | None = None
    sampling_ms: float = 0.0
    publishing_ms: float = 100.0
    deadband: float = 0.0
    queue_size: int = 100
    flush_s: float = 0.1
    hold_s: float = 1.0
    timeout_s: float = 4.0
    probe_s: float = 1.0
    reconnect: RetryPolicy = RECONNECT


@dataclass
class BridgeStats:
    """What the bridge did; `lost_s` adds up the time without a session (from noticing a loss to subscribing
    again), `last_gap` describes the newest outage."""

    changes: int = 0
    readings: int = 0
    parts: int = 0
    states: int = 0
    messages: int = 0
    repeated: int = 0
    bad: int = 0
    incomplete: int = 0
    connects: int = 0
    outages: int = 0
    lost_s: float = 0.0
    connected: bool = False
    last_gap: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Item:
    machine: int
    role: str  # "signal" | "state" | "state_reason" | "part_id" | "verdict"
    name: str
    kind: str = "process"


@dataclass
class _MachineState:
    """What is known of one machine across reconnects."""

    nodes: MachineNodes
    path: MachinePath
    last_ts: dict[str, int] = field(default_factory=dict)  # role:name → newest source ms published or held
    #: companions of a part or state change, by source time: characteristics, verdicts, state reasons
    chars: dict[int, dict[str, float]] = field(default_factory=dict)
    verdicts: dict[int, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    parts: list[tuple[int, str, float]] = field(default_factory=list)  # (ts, part id, held since)
    states: list[tuple[int, str, float]] = field(default_factory=list)


class _Lost(Exception):
    pass


class _Handler:
    """asyncua's subscription handler: changes go to the bridge, a bad status change marks the session lost."""

    def __init__(self, bridge: OpcUaBridge) -> None:
        self.bridge = bridge

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.bridge._on_change(data.monitored_item.ClientHandle, data.monitored_item.Value)

    def status_change_notification(self, status: Any) -> None:
        self.bridge._on_status(status)


def _ms(value: ua.DataValue, now_ms: int) -> int:
    stamp: datetime | None = value.SourceTimestamp or value.ServerTimestamp
    if stamp is None:
        return now_ms
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


class OpcUaBridge:
    """Runs until `stop` is set: connect, subscribe, publish, and after a loss do it all again."""

    def __init__(self, options: BridgeOptions, publish: Publish, *, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.publish = publish
        self.clock = clock
        self.stats = BridgeStats()
        self._machines: dict[str, _MachineState] = {}
        self._order: list[_MachineState] = []
        self._items: dict[int, _Item] = {}
        self._pending: list[tuple[int, ua.DataValue]] = []
        self._lost = asyncio.Event()
        self._outage: dict[str, Any] | None = None
        self._newest_ms: int | None = None
        self._consumer: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        quiet_asyncua(client=True)
        backoff = self.options.reconnect.backoff()
        while not stop.is_set():
            # asyncua's own health probe fails after `watchdog_intervall` s: a busy server may answer slower than
            # its default 1 s, which would end a healthy session; a dead one closes the socket anyway
            client = Client(
                self.options.endpoint, timeout=self.options.timeout_s, watchdog_intervall=self.options.timeout_s
            )
            client.session_timeout = SESSION_TIMEOUT_MS
            try:
                await self._session(client, stop)
                backoff.reset()
            except ConfigError:
                raise
            except Exception as exc:  # OSError, TimeoutError, asyncua's UaError and ConnectionError, _Lost, …
                self._note_loss(exc)
            finally:
                await self._close(client)
            if stop.is_set():
                break
            pause = backoff.next()
            log.info("reconnecting to %s in %.1f s", self.options.endpoint, pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        self._flush(final=True)

    async def _session(self, client: Client, stop: asyncio.Event) -> None:
        opts = self.options
        await apply_to_client(client, opts.security)
        await asyncio.wait_for(client.connect(), opts.timeout_s * 3)
        node_map = opts.node_map if opts.node_map is not None else await browse_plant(client)
        if not node_map.machines:
            raise ConfigError(
                f"{opts.endpoint} serves no smartfactory machines to browse: give the bridge a node map (--nodes)"
            )
        requests = await self._requests(client, node_map)
        self._lost.clear()
        subscription, consumer = await self._subscribe(client)
        self._consumer = consumer
        results = await subscription.create_monitored_items(requests)
        failed = [r for r in results if isinstance(r, ua.StatusCode)]
        if failed:
            log.warning("%d of %d nodes could not be monitored (first: %s)", len(failed), len(results), failed[0])
        self.stats.connects += 1
        self.stats.connected = True
        self._births()
        self.connected.set()
        if self._outage is not None:
            self._outage["resumed_ms"] = int(self.clock() * 1000)
            log.warning("reconnected to %s after %.1f s", opts.endpoint, self._outage_wall_s())
        else:
            log.info("bridging %s: %d machines, %d nodes", opts.endpoint, len(node_map.machines), len(requests))
        probe = client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State))
        last_probe = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self._lost), opts.flush_s)
            self._flush()
            if self._lost.is_set():
                raise _Lost("the server reported the subscription lost")
            if time.monotonic() - last_probe >= opts.probe_s:
                last_probe = time.monotonic()
                await asyncio.wait_for(probe.read_value(), opts.timeout_s)

    async def _subscribe(self, client: Client) -> tuple[Any, asyncio.Task[None] | None]:
        """asyncua ≥ 2 hands changes over in a queue (one task of ours reads it); older versions call a handler,
        which asyncua 2 would run in a task per change: at thousands of changes a second that is the cost."""
        if not _QUEUED:
            return await client.create_subscription(self.options.publishing_ms, _Handler(self)), None
        subscription = await client.create_subscription(
            self.options.publishing_ms,
            None,
            queue_maxsize=EVENT_QUEUE,
            overflow=asyncua_subscription.OverflowPolicy.DROP_NEWEST,
        )
        return subscription, asyncio.create_task(self._consume(subscription))

    async def _consume(self, subscription: Any) -> None:
        async for event in subscription:
            data = getattr(event, "data", None)
            if data is not None:
                self._on_change(data.monitored_item.ClientHandle, data.monitored_item.Value)
            elif getattr(event, "notification", None) is not None:
                self._on_status(event.notification)

    async def _requests(self, client: Client, node_map: NodeMap) -> list[ua.MonitoredItemCreateRequest]:
        opts = self.options
        namespaces: dict[str, int] = {}
        requests: list[ua.MonitoredItemCreateRequest] = []
        self._items = {}
        for nodes in node_map.machines:
            state = self._machines.get(nodes.path)
            if state is None:
                state = _MachineState(nodes, nodes.machine_path)
                self._machines[nodes.path] = state
                self._order.append(state)
            state.nodes = nodes
            index = self._order.index(state)
            wanted: list[tuple[str, _Item]] = [
                (s.node, _Item(index, "signal", name, s.kind)) for name, s in nodes.signals.items()
            ]
            for role in ("state", "state_reason", "part_id", "verdict"):
                text = getattr(nodes, role)
                if text is not None:
                    wanted.append((text, _Item(index, role, role)))
            for text, item in wanted:
                handle = len(self._items) + 1
                self._items[handle] = item
                deadband = opts.deadband if item.role == "signal" else 0.0  # a state, a part id: every write
                requests.append(self._request(await resolve(client, text, namespaces), handle, opts, deadband))
        return requests

    @staticmethod
    def _request(nodeid: ua.NodeId, handle: int, opts: BridgeOptions, deadband: float) -> ua.MonitoredItemCreateRequest:
        params = ua.MonitoringParameters()
        params.ClientHandle = handle
        params.SamplingInterval = opts.sampling_ms
        params.QueueSize = opts.queue_size
        params.DiscardOldest = True
        change = ua.DataChangeFilter()
        if deadband > 0:  # OPC 10000-4, DataChangeFilter: with a deadband the trigger is status and value alone
            change.Trigger = ua.DataChangeTrigger.StatusValue
            change.DeadbandType = ua.DeadbandType.Absolute
            change.DeadbandValue = deadband
        else:  # every new SourceTimestamp is a reading, even one with the value of the one before
            change.Trigger = ua.DataChangeTrigger.StatusValueTimestamp
        params.Filter = change
        target = ua.ReadValueId()
        target.NodeId = nodeid
        target.AttributeId = ua.AttributeIds.Value
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = target
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = params
        return request

    async def _close(self, client: Client) -> None:
        if self._consumer is not None:
            self._consumer.cancel()
            self._consumer = None
        was = self.stats.connected
        self.stats.connected = False
        self.connected.clear()
        self._flush(final=True)  # what this session received, before the next one numbers its items anew
        if was:
            self._offline()
        try:
            await asyncio.wait_for(client.disconnect(), 2.0)
        except Exception as exc:  # the server is gone: closing the session cannot succeed, nor need it
            log.debug("disconnect after the loss: %s", exc)

    # ------------------------------------------------------------------ outages

    def _note_loss(self, exc: BaseException) -> None:
        if self.stats.connected or (self._outage is None and self.stats.connects):
            self.stats.outages += 1
            self._outage = {"lost_ms": int(self.clock() * 1000), "last_data_ms": self._newest_ms, "reason": str(exc)}
            log.warning("lost the OPC UA server %s: %s", self.options.endpoint, exc or type(exc).__name__)
        else:
            log.warning("cannot reach the OPC UA server %s: %s", self.options.endpoint, exc or type(exc).__name__)

    def _outage_wall_s(self) -> float:
        if self._outage is None:
            return 0.0
        resumed = int(self._outage.get("resumed_ms", int(self.clock() * 1000)))
        return (resumed - int(self._outage["lost_ms"])) / 1000

    def _close_outage(self, first_ms: int) -> None:
        """The first new value after an outage: report the gap that no subscription saw, in wall-clock time (no
        session) and in the server's source time (from the newest value before to the first after)."""
        outage, self._outage = self._outage, None
        if outage is None:
            return
        wall_s = (int(outage["resumed_ms"]) - int(outage["lost_ms"])) / 1000
        self.stats.lost_s += wall_s
        last = outage["last_data_ms"]
        gap_s = (first_ms - last) / 1000 if last is not None else None
        self.stats.last_gap = {**outage, "first_data_ms": first_ms, "no_session_s": wall_s, "source_gap_s": gap_s}
        if gap_s is None or gap_s < 0:
            log.warning(
                "data gap: no session for %.1f s; the server's values start again at %s%s. An OPC UA server keeps "
                "no history for its subscribers: what changed meanwhile is lost",
                wall_s,
                format_ts(first_ms),
                " (its clock went back: it restarted)" if gap_s is not None else "",
            )
            return
        log.warning(
            "data gap: no session for %.1f s, no values carried between %s and %s (%.1f s of source time). An OPC "
            "UA server keeps no history for its subscribers: what changed meanwhile is lost",
            wall_s,
            format_ts(last),
            format_ts(first_ms),
            gap_s,
        )

    # ------------------------------------------------------------------ notifications

    def _on_change(self, handle: int, value: ua.DataValue) -> None:
        self._pending.append((handle, value))

    def _on_status(self, status: Any) -> None:
        code = getattr(status, "Status", None)
        if code is None or not code.is_good():
            self._lost.set()

    def _flush(self, *, final: bool = False) -> None:
        pending, self._pending = self._pending, []
        now_ms = int(self.clock() * 1000)
        samples: dict[int, dict[int, dict[str, float]]] = {}
        for handle, value in pending:
            item = self._items.get(handle)
            if item is None:
                continue
            self.stats.changes += 1
            status = value.StatusCode
            if (status is not None and not status.is_good()) or value.Value is None or value.Value.Value is None:
                self.stats.bad += 1
                continue
            machine = self._order[item.machine]
            ts = _ms(value, now_ms)
            key = f"{item.role}:{item.name}"
            if ts == machine.last_ts.get(key):
                self.stats.repeated += 1  # the current value repeated by a new subscription: already carried
                continue
            machine.last_ts[key] = ts
            if self._outage is not None and "resumed_ms" in self._outage:
                self._close_outage(ts)
            self._newest_ms = ts if self._newest_ms is None else max(self._newest_ms, ts)
            raw = value.Value.Value
            if item.role == "signal":
                if not isinstance(raw, int | float) or isinstance(raw, bool) or not math.isfinite(raw):
                    self.stats.bad += 1  # wire v1 carries finite numbers only
                    continue
                if item.kind == "quality":
                    _keep(machine.chars, ts, {})[item.name] = float(raw)
                else:
                    samples.setdefault(item.machine, {}).setdefault(ts, {})[item.name] = float(raw)
            elif item.role == "verdict":
                _keep(machine.verdicts, ts, str(raw))
            elif item.role == "state_reason":
                _keep(machine.reasons, ts, str(raw))
            elif item.role == "part_id" and str(raw):
                machine.parts.append((ts, str(raw), time.monotonic()))
            elif item.role == "state" and str(raw):
                machine.states.append((ts, str(raw), time.monotonic()))
        for index, by_ts in samples.items():
            self._telemetry(self._order[index], by_ts)
        for machine in self._order:
            self._parts(machine, final)
            self._states(machine, final)

    def _send(self, topic: str, payload: bytes, retain: bool) -> None:
        self.publish(topic, payload, retain)
        self.stats.messages += 1

    def _telemetry(self, machine: _MachineState, by_ts: dict[int, dict[str, float]]) -> None:
        instants = sorted(by_ts.items())
        names = {name for _, values in instants for name in values}
        units = {n: s.unit for n, s in machine.nodes.signals.items() if n in names and s.unit}
        for start in range(0, len(instants), 1000):
            chunk = instants[start : start + 1000]
            self._send(machine.path.topic(MessageClass.TELEMETRY), telemetry_json(chunk, units or None), False)
        self.stats.readings += sum(len(values) for _, values in instants)

    def _parts(self, machine: _MachineState, final: bool) -> None:
        waiting: list[tuple[int, str, float]] = []
        expected = [n for n, s in machine.nodes.signals.items() if s.kind == "quality"]
        for ts, part_id, since in machine.parts:
            chars = machine.chars.get(ts, {})
            verdict = machine.verdicts.get(ts)
            complete = verdict is not None and all(n in chars for n in expected)
            if not complete and not final and time.monotonic() - since < self.options.hold_s:
                waiting.append((ts, part_id, since))
                continue
            if verdict not in _VERDICTS:
                self.stats.incomplete += 1
                log.warning("%s: part %s came without a good/scrap verdict; not published", machine.path, part_id)
                continue
            if not complete:
                self.stats.incomplete += 1
            try:
                part = QualityPayload.model_validate(
                    {"part_id": part_id, "ts": ts, "measurements": chars, "verdict": verdict}
                )
            except ValueError as exc:  # e.g. a part id longer than a wire label (100 characters)
                self.stats.bad += 1
                log.warning("%s: part %r is not a valid wire v1 part: %s", machine.path, part_id[:120], exc)
                continue
            self._send(machine.path.topic(MessageClass.QUALITY), part.to_bytes(), False)
            self.stats.parts += 1
        machine.parts = waiting

    def _states(self, machine: _MachineState, final: bool) -> None:
        waiting: list[tuple[int, str, float]] = []
        has_reason = machine.nodes.state_reason is not None
        for ts, state, since in machine.states:
            reason = machine.reasons.get(ts)
            if has_reason and reason is None and not final and time.monotonic() - since < self.options.hold_s:
                waiting.append((ts, state, since))
                continue
            if state not in _STATES:
                self.stats.bad += 1
                continue
            try:
                payload = StatePayload.model_validate({"state": state, "ts": ts, "reason": reason or None})
            except ValueError:  # a reason longer than a wire label
                payload = StatePayload.model_validate({"state": state, "ts": ts})
            self._send(machine.path.topic(MessageClass.STATE), payload.to_bytes(), True)
            self.stats.states += 1
        machine.states = waiting

    def _births(self) -> None:
        now = int(self.clock() * 1000)
        for machine in self._order:
            birth = StatusPayload(status="online", ts=now, info=machine.nodes.info())
            self._send(machine.path.topic(MessageClass.STATUS), birth.to_bytes(), True)

    def _offline(self) -> None:
        now = int(self.clock() * 1000)
        for machine in self._order:
            gone = StatusPayload(status="offline", ts=now)
            self._send(machine.path.topic(MessageClass.STATUS), gone.to_bytes(), True)


#: Instants of companion values kept per machine (the newest; a part's arrive within `hold_s` of it).
KEEP_INSTANTS = 1000


def _keep(by_ts: dict[int, T], ts: int, value: T) -> T:
    """`by_ts[ts]`, set to `value` when new (a verdict, a reason) or left (a dict of characteristics)."""
    if ts not in by_ts:
        by_ts[ts] = value
        if len(by_ts) > KEEP_INSTANTS:
            del by_ts[next(iter(by_ts))]
    elif not isinstance(value, dict):
        by_ts[ts] = value
    return by_ts[ts]


async def _first(*events: asyncio.Event) -> None:
    """Return as soon as one of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
