"""Make an exercise's data: a seeded plant run as fast as possible through the real pipeline into a SQLite store.

Simulator → a private mosquitto on a free loopback port (the in-process amqtt broker when mosquitto is not
installed) → ingestion (decode, validate, the live monitor unless switched off) → SQLite, all assembled by
`smartfactory.services` as `smartfactory demo` does. The run starts at a fixed simulated instant
(`Plan.start_ms`), so the same seed gives the same store on any machine; faults come from a scenario file written
for the run. When the plan hides the ground truth (`hide_events`) the store is written to a scratch file and copied
without the fault events (`exercises.copy`), which go to the truth file instead.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smartfactory.edge.broker import RunningBroker, mosquitto_binary, start_amqtt, start_mosquitto
from smartfactory.errors import SmartfactoryError
from smartfactory.exercises.copy import copy_store
from smartfactory.model import FaultEvent
from smartfactory.services import RunningIngest, RunningSimulator, start_ingest, start_simulator
from smartfactory.settings import load_settings, parse_mqtt_url
from smartfactory.storage import open_store

log = logging.getLogger(__name__)
#: Monday 5 January 2026, 00:00 UTC: exercises start on this day (a fixed day keeps them reproducible).
DAY_MS = 1_767_571_200_000


@dataclass(frozen=True)
class Fault:
    """A scenario event: at `at_s` after the start inject `fault` (or clear with `fault=None, clear=True`)."""

    at_s: float
    machine: str
    fault: str | None
    sensor: str | None = None
    params: dict[str, float | str] = field(default_factory=dict)
    clear: bool = False

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at_s, "machine": self.machine}
        if self.clear:
            out["clear"] = self.fault or True
        else:
            out["inject"] = self.fault
        if self.sensor:
            out["sensor"] = self.sensor
        if self.params:
            out["params"] = dict(self.params)
        return out


@dataclass(frozen=True)
class Plan:
    """One run: seed, start (epoch ms), length, the plant's random stops and calendar, faults, SPC on or off."""

    seed: int
    start_ms: int
    duration_s: float
    faults: Sequence[Fault] = ()
    auto_stops: bool = False
    shifts: bool = False
    spc: bool = True
    hide_events: bool = False
    plant: str = "default"

    @property
    def end_ms(self) -> int:
        return self.start_ms + round(self.duration_s * 1000)

    def scenario_yaml(self, name: str) -> str:
        document = {
            "name": name,
            "description": f"exercise {name}",
            "auto_stops": self.auto_stops,
            "shifts": self.shifts,
            "events": [f.entry() for f in self.faults],
        }
        return yaml.safe_dump(document, sort_keys=False)


@dataclass
class Produced:
    """What a run left: the store's URL, the fault events (ground truth), the simulator's own OEE rows."""

    store: str
    events: list[FaultEvent]
    oee_truth: list[dict[str, Any]]
    readings: int
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _broker(url: str, folder: Path) -> RunningBroker:
    address = parse_mqtt_url(url)
    if mosquitto_binary() is not None:
        return start_mosquitto(address, folder / "mosquitto")
    return start_amqtt(address)


def _drain(ingest: RunningIngest, sim: RunningSimulator, timeout_s: float) -> None:
    """Wait until ingestion has stored every reading the simulator sent and nothing more arrives."""
    counters = ingest.service.counters
    deadline = time.monotonic() + timeout_s
    while counters.stored + counters.duplicates < sim.stats.readings:
        if time.monotonic() > deadline or not ingest.service.running:
            raise SmartfactoryError(
                f"ingestion stored {counters.stored} of {sim.stats.readings} readings within {timeout_s:.0f} s"
            )
        time.sleep(0.05)
    seen = -1
    while counters.received != seen and time.monotonic() < deadline:  # parts, states, events still arriving
        seen = counters.received
        time.sleep(0.3)


def produce(name: str, plan: Plan, target: Path, *, timeout_s: float = 600.0) -> Produced:
    """Run `plan` into the SQLite file `target` (replaced if present); return the ground truth of the run."""
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"sf-exercise-{name}-") as scratch_dir:
        scratch = Path(scratch_dir)
        scenario = scratch / "scenario.yaml"
        scenario.write_text(plan.scenario_yaml(name), encoding="utf-8")
        written = scratch / "full.db" if plan.hide_events else target
        for stale in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
            stale.unlink(missing_ok=True)
        url = f"mqtt://127.0.0.1:{_free_port()}"
        settings = load_settings(
            mqtt_url=url,
            store=f"sqlite:///{written.resolve()}",
            data_dir=scratch,
            ingest={"client_id": f"exercise-{name}-{plan.seed}", "flush_interval": 0.05},
            spc={"detector": "budget"} if plan.spc else {"rules": "none"},
            sim={"plant": plan.plant},
        )
        broker = _broker(url, scratch)
        ingest: RunningIngest | None = None
        sim: RunningSimulator | None = None
        try:
            ingest = start_ingest(settings)
            sim = start_simulator(
                settings,
                duration_s=plan.duration_s,
                scenario=str(scenario),
                backfill_s=0.0,
                speed=0.0,
                seed=plan.seed,
                plant=plan.plant,
                start_ms=plan.start_ms,
                record_truth=True,
            )
            if sim.thread is not None:
                sim.thread.join()
            if sim.error is not None:
                raise SmartfactoryError(f"the simulator stopped: {sim.error}")
            _drain(ingest, sim, timeout_s)
            oee_truth = sim.simulation.ground_truth(plan.start_ms, plan.end_ms).to_dicts()
            readings = sim.stats.readings
        finally:
            if sim is not None:
                sim.stop()
            if ingest is not None:
                ingest.stop()
            broker.stop()
        store = open_store(f"sqlite:///{written.resolve()}")
        try:
            events = store.read_events()
        finally:
            store.close()
        if plan.hide_events:
            copy_store(f"sqlite:///{written.resolve()}", f"sqlite:///{target.resolve()}", events=False)
    return Produced(f"sqlite:///{target.resolve()}", events, oee_truth, readings, time.monotonic() - started)
