"""The simulator's Sparkplug B side (`smartfactory simulate --format sparkplug`): the same plant, the same messages,
as Sparkplug B edge nodes.

It is a sink like `PlantPublisher` (call it as `publish(topic, payload, retain)` with the wire-v1 messages the
runner emits). The translation is `sparkplug.translate` (shared with `bridge opcua --format sparkplug`), the edge
nodes' connections, bdSeq, rebirths and QoS are `edge.sparkplug.SparkplugEdgeNodes`; this module declares the
plant's machines up front (each device's metrics from its `MachineInfo` and live units) and keeps the control plane:

- one edge node per line (`sparkplug.mapping`: group = enterprise, edge node = `site:area:line`), one MQTT
  connection each, with the NDEATH as last will; one device per machine;
- device metrics: every signal of the machine (Double, `engUnit`), and the String metrics `_sf/state`,
  `_sf/quality`, `_sf/event`, `_sf/status` that carry the other wire-v1 payloads, so the store gets the same
  readings, states, parts, events and machine facts as from `--format uns`.

Commands stay on the UNS: `smartfactory inject` reads the machines' retained `…/status` births, publishes JSON on
`…/cmd` and waits for the answer on `…/event`. So with `control=True` (the default) a `PlantPublisher` keeps that
control plane: per machine its status birth and last will, its `…/cmd` subscription and its `…/event` messages.
Those JSON messages reach ingestion too; the store keeps each event and machine fact once (idempotent writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from smartfactory.edge.sparkplug import SparkplugEdgeNodes
from smartfactory.settings import BrokerAddress
from smartfactory.sim.engine import PlacedMachine
from smartfactory.sim.publisher import MAX_OUTSTANDING, PlantPublisher
from smartfactory.sparkplug.mapping import DEFAULT_MAPPING, SparkplugMapping
from smartfactory.sparkplug.translate import EMBEDDED, MAX_METRICS, embedded_metric, telemetry_values
from smartfactory.wire import MessageClass


class SparkplugPublisher(SparkplugEdgeNodes):
    """The plant as Sparkplug B edge nodes (one per line); call it like `publish(topic, payload, retain)`."""

    def __init__(
        self,
        address: BrokerAddress,
        machines: Sequence[PlacedMachine],
        *,
        qos: int = 1,
        keepalive: int = 30,
        max_outstanding: int = MAX_OUTSTANDING,
        on_command: Callable[[str, bytes], None] | None = None,
        clock: Callable[[], float] = time.time,
        mapping: SparkplugMapping = DEFAULT_MAPPING,
        control: bool = True,
        bd_seq: int | None = None,
        max_metrics: int = MAX_METRICS,
        connect_timeout: float = 5.0,
    ) -> None:
        super().__init__(
            address,
            qos=qos,
            keepalive=keepalive,
            max_outstanding=max_outstanding,
            clock=clock,
            mapping=mapping,
            bd_seq=bd_seq,
            max_metrics=max_metrics,
            connect_timeout=connect_timeout,
        )
        self.machines = machines
        self.control: PlantPublisher | None = None
        if control:
            self.control = PlantPublisher(
                address,
                machines,
                qos=qos,
                keepalive=keepalive,
                max_outstanding=max_outstanding,
                on_command=on_command,
                clock=clock,
            )
        for placed in machines:
            self.add_machine(placed.path, placed.info, placed.units)

    def connect(self, timeout: float = 5.0) -> None:
        """Connect the control plane and every edge node and publish the births; on failure close what was opened."""
        try:
            if self.control is not None:
                self.control.connect(timeout)
            super().connect(timeout)
        except BaseException:
            self.close(offline=False)
            raise

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        if self.control is not None:
            route = self.route(topic)
            if route is not None and route.cls in (MessageClass.STATUS, MessageClass.EVENT):
                self.control(topic, payload, retain)
        super().__call__(topic, payload, retain)

    @property
    def outstanding(self) -> int:
        return super().outstanding + (self.control.outstanding if self.control is not None else 0)

    def wait_published(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        done = super().wait_published(timeout)
        if self.control is not None:
            done = self.control.wait_published(max(0.0, deadline - time.monotonic())) and done
        return done

    def release(self) -> None:
        super().release()
        if self.control is not None:
            self.control.release()

    def close(self, *, offline: bool = True, flush_timeout: float = 5.0) -> None:
        """Each node's NDEATH and disconnect, then the control plane (machines offline)."""
        super().close(offline=offline, flush_timeout=flush_timeout)
        if self.control is not None:
            self.control.close(offline=offline, flush_timeout=flush_timeout)

    def abort(self) -> None:
        """Drop every connection without a DISCONNECT: the broker publishes each node's NDEATH (and machine's will)."""
        super().abort()
        if self.control is not None:
            self.control.abort()


__all__ = ["EMBEDDED", "MAX_METRICS", "SparkplugPublisher", "embedded_metric", "telemetry_values"]
