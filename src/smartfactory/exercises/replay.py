"""The live monitor replayed over a stored exercise run, with settings of the student's choosing.

Everything ingestion's monitor saw, in time order, one simulated second at a time, as ingestion and
`tests/ingest/plant_replay.py` feed it: the machines' births (their stored facts), the state changes up to that
second, the readings of that second (part characteristics included), then the periodic `tick`. Limits come from
the plant's shipped limits file (as ingestion uses it) or are learned in the replay's own phase I; stored limits
versions are not resumed, since their thresholds were designed with the settings the data was ingested with.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartfactory.ingest.monitor import MonitorStage, load_limits_file
from smartfactory.model import Alarm, Reading
from smartfactory.spc.streaming import Limits
from smartfactory.storage import Storage

STEP_MS = 1000


@dataclass(frozen=True)
class MonitorSettings:
    """The settings an alarm-budget answer chooses (the names of `spc.*` in docs/settings.md)."""

    budget_per_hour: float = 0.5
    warmup_s: float = 60.0
    clear_after_points: int = 50


def shipped_limits(sim_dir: Path, plant: str) -> dict[str, Limits]:
    """The plant's shipped limits file (SIM__DIR/limits/PLANT.toml), as ingestion loads it; {} when absent."""
    path = sim_dir / "limits" / f"{Path(plant).stem}.toml"
    return load_limits_file(path) if path.is_file() else {}


def replay_monitor(
    store: Storage, settings: MonitorSettings, *, configured: Mapping[str, Limits] | None = None
) -> list[Alarm]:
    """Every alarm the monitor raises or escalates over the whole stored run, in time order."""
    stage = MonitorStage(
        budget_per_hour=settings.budget_per_hour,
        warmup_s=settings.warmup_s,
        clear_after_points=settings.clear_after_points,
        configured=configured,
        infos=store.read_machine_info(),
        record_events=True,
    )
    states = sorted(store.read_states(), key=lambda c: c.ts_ms)
    readings: list[Reading] = list(heapq.merge(*store.iter_readings(), key=lambda r: r.ts_ms))
    if not readings:
        return []
    now = readings[0].ts_ms - readings[0].ts_ms % STEP_MS
    end = readings[-1].ts_ms + 1
    r = s = 0
    while now < end:
        now += STEP_MS
        first_state = s
        while s < len(states) and states[s].ts_ms < now:
            s += 1
        if s > first_state:
            stage.states(states[first_state:s])
        first_reading = r
        while r < len(readings) and readings[r].ts_ms < now:
            r += 1
        if r > first_reading:
            stage.observe(readings[first_reading:r])
        stage.tick(now)
    return [e.alarm for e in stage.take_events() if e.kind in ("raise", "escalate")]
