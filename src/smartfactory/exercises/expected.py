"""What a `smartfactory simulate` run sent, per series, recomputed from its seed and start (the simulator is
deterministic: the same seed and start give the same readings whatever the speed, `sim/engine.py`).

The run is rebuilt by the assembly (`services.build_simulation`, as `simulate` builds it: the plant's random
stops and its calendar on, no scenario) and advanced without publishing; every reading of every sampling instant
and every part counts once per series and timestamp, as the store keeps it.
"""

from __future__ import annotations

from collections import defaultdict

from smartfactory.services import build_simulation
from smartfactory.settings import Settings
from smartfactory.sim.records import Sample

STEP_MS = 300_000


def sent_per_series(
    settings: Settings, *, seed: int, start_ms: int, until_ms: int, plant: str | None = None
) -> dict[str, int]:
    """Readings per series id that a run of `[start_ms, until_ms)` published."""
    sim = build_simulation(settings, start_ms, seed=seed, plant=plant, record_truth=False)
    topics = [m.telemetry_topic + "/" for m in sim.machines]
    seen: dict[str, set[int]] = defaultdict(set)
    while sim.now_ms < until_ms:
        for record in sim.advance(min(until_ms, sim.now_ms + STEP_MS)):
            if isinstance(record, Sample):
                prefix = topics[record.machine]
                for key in record.values:
                    seen[prefix + key].add(record.ts)
    return {series: len(stamps) for series, stamps in sorted(seen.items())}
