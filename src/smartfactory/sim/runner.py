"""Run a plant: schedule every machine's samples in simulated time and publish them on the wire.

Simulated time starts at `start_ms` and advances by each machine's sample interval. With `speed` > 0 the runner
paces itself against the wall clock (speed 60 = one simulated hour per minute); with `speed` = 0 it runs as fast as
the broker takes messages. All sensors of one machine at one instant travel in one grouped telemetry message.
Every random choice comes from a per-machine generator derived from the seed and the machine's path, so the same
seed gives the same readings whatever else the plant holds.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import ValidationError

from smartfactory.errors import SimulatorError
from smartfactory.sim.loader import Catalog
from smartfactory.sim.machine import Machine
from smartfactory.sim.plant import Plant
from smartfactory.wire import (
    CommandPayload,
    EventPayload,
    MachinePath,
    MessageClass,
    StatusPayload,
    Topic,
    format_ts,
    payload_to_json,
)

log = logging.getLogger(__name__)

#: publish(topic, payload, retain)
Publish = Callable[[str, bytes, bool], None]


@dataclass(slots=True)
class PlacedMachine:
    path: MachinePath
    machine: Machine
    telemetry_topic: str
    units: dict[str, str]


def machine_rng(seed: int, path: MachinePath) -> np.random.Generator:
    """A generator that depends only on the seed and the machine's place in the plant."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(str(path).encode()),)))


class Simulation:
    def __init__(self, plant: Plant, catalog: Catalog, *, seed: int, start_ms: int) -> None:
        self.start_ms = start_ms
        self.machines: list[PlacedMachine] = []
        for spec in plant.machines:
            machine_type = catalog.get(spec.type)
            try:
                machine = machine_type.cls(spec.path.machine, machine_rng(seed, spec.path), spec.overrides)
            except Exception as exc:
                raise SimulatorError(f"machine {spec.path} ({machine_type.source}) failed to start: {exc}") from exc
            units = {name: s.unit for name, s in machine.sensor_specs.items()}
            self.machines.append(PlacedMachine(spec.path, machine, spec.path.topic(MessageClass.TELEMETRY), units))
        self.by_path = {str(m.path): m for m in self.machines}
        self._lock = threading.Lock()
        self.now_s = 0.0

    def samples(self) -> Iterator[tuple[float, PlacedMachine, dict[str, float]]]:
        """(simulated seconds, machine, values) in time order, forever."""
        heap = [(0.0, index) for index in range(len(self.machines))]
        heapq.heapify(heap)
        while heap:
            t_s, index = heapq.heappop(heap)
            placed = self.machines[index]
            with self._lock:
                self.now_s = t_s
                values = placed.machine.sample(t_s)
            yield t_s, placed, values
            heapq.heappush(heap, (t_s + placed.machine.sample_interval_s, index))

    def telemetry_message(self, placed: PlacedMachine, t_s: float, values: dict[str, float]) -> bytes:
        ts_ms = self.start_ms + round(t_s * 1000)
        return json.dumps(
            {"ts": format_ts(ts_ms), "values": values, "units": placed.units}, separators=(",", ":")
        ).encode()

    def apply_command(self, topic: str, payload: bytes, publish: Publish) -> None:
        """Obey an inject/clear command and publish the ground-truth event (exact simulated start time)."""
        try:
            target = Topic.parse(topic)
            command = CommandPayload.model_validate_json(payload)
        except (ValidationError, Exception) as exc:
            log.warning("ignored a bad command on %r: %s", topic, exc)
            return
        placed = self.by_path.get(str(target.path))
        if placed is None:
            return
        with self._lock:
            ts_ms = self.start_ms + round(self.now_s * 1000)
            params = {k: float(v) for k, v in command.params.items() if isinstance(v, int | float)}
            if command.action == "clear":
                faults = [f.name for f in placed.machine.faults] or ["all"]
                placed.machine.clear()
                events = [EventPayload(kind="repair", fault=name, ts=ts_ms) for name in faults]
            else:
                fault = command.fault or "shift"
                placed.machine.inject(fault, command.sensor, self.now_s, params)
                events = [EventPayload(kind="fault", fault=fault, sensor=command.sensor, params=params, ts=ts_ms)]
        for event in events:
            publish(placed.path.topic(MessageClass.EVENT), payload_to_json(event), False)
        log.info("%s on %s at %s", command.action, placed.path, format_ts(ts_ms))


def status_payload(status: Literal["online", "offline"], ts_ms: int | None = None) -> bytes:
    return payload_to_json(StatusPayload(status=status, ts=ts_ms))


def run(
    sim: Simulation,
    publish: Publish,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Publish samples until `duration_s` simulated seconds, `max_messages` or `stop`; return messages sent."""
    stop = stop or threading.Event()
    wall_start = time.monotonic()
    sent = 0
    for t_s, placed, values in sim.samples():
        if stop.is_set() or (duration_s is not None and t_s >= duration_s):
            break
        if max_messages is not None and sent >= max_messages:
            break
        if speed > 0:
            wait = wall_start + t_s / speed - time.monotonic()
            if wait > 0 and stop.wait(wait):
                break
        publish(placed.telemetry_topic, sim.telemetry_message(placed, t_s, values), False)
        sent += 1
    return sent
