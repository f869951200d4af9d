"""The simulator's own OEE for a run: the reference that OEE computed from stored data must match.

The engine tells a `kpi.GroundTruthRecorder` every state change and every part exactly as it publishes them,
under the ids the read side uses (machine = full machine path, line = `MachinePath.line_id`, `area/line`), so
`compute_oee(stored intervals, stored parts, ...)` and `ground_truth_oee(...)` run the same engine on the same
history. Use `oee_inputs` for the ideal cycle times, calendar and OEE settings of the storage side.

    sim, truth = simulate_truth(plant, catalog, seed=7, start_ms=t0, duration_s=8 * 3600)
    truth.plant.oee
"""

from __future__ import annotations

import json
from pathlib import Path

from smartfactory.kpi import OeeReport, OeeSettings, ShiftCalendar
from smartfactory.plant import Plant
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.scenario import Scenario


def ground_truth_oee(sim: Simulation, since_ms: int | None = None, until_ms: int | None = None) -> OeeReport:
    """OEE of what the simulation really did in `[since_ms, until_ms)` (default: from its start to now)."""
    return sim.ground_truth(since_ms, until_ms)


def simulate_truth(
    plant: Plant,
    catalog: Catalog,
    *,
    seed: int,
    start_ms: int,
    duration_s: float,
    scenario: Scenario | None = None,
    auto_stops: bool = True,
    shifts: bool = True,
) -> tuple[Simulation, OeeReport]:
    """Run a plant for `duration_s` without publishing anything; return the simulation and its OEE.

    The same seed, start and duration give the same history as a published run (the records do not depend on
    the speed), so this is the ground truth of `smartfactory simulate --seed S` over the same window.
    """
    sim = Simulation(
        plant, catalog, seed=seed, start_ms=start_ms, auto_stops=auto_stops, shifts=shifts, record_truth=True
    )
    if scenario is not None:
        sim.schedule(scenario, start_ms)
    until = start_ms + round(duration_s * 1000)
    step = 3_600_000
    while sim.now_ms < until:
        sim.advance(min(until, sim.now_ms + step))  # records are dropped: only the ground truth is kept
    return sim, sim.ground_truth(start_ms, until)


def oee_inputs(sim: Simulation) -> tuple[dict[str, float], ShiftCalendar | None, OeeSettings]:
    """Ideal cycle times per machine path, the calendar and the OEE settings the simulation ran with."""
    return sim.ideal_cycle_times(), sim.calendar, sim.plant.oee


def truth_document(sim: Simulation, live_start_ms: int | None = None) -> dict[str, object]:
    """The ground truth as JSON-ready data: `rows` for the whole run (backfill included), and `live_rows` from
    `live_start_ms` (the end of a backfill) on; rows as in `OeeReport.to_dicts()`."""
    report = sim.ground_truth()
    document: dict[str, object] = {
        "since_ms": report.since_ms,
        "until_ms": report.until_ms,
        "seed": sim.seed,
        "plant": sim.plant.name,
        "ideal_cycle_s": sim.ideal_cycle_times(),
        "rows": report.to_dicts(),
    }
    if live_start_ms is not None:
        document["live_since_ms"] = live_start_ms
        document["live_rows"] = sim.ground_truth(live_start_ms, report.until_ms).to_dicts()
    return document


def write_truth(path: Path, sim: Simulation, live_start_ms: int | None = None) -> None:
    """Write `truth_document` to `path`."""
    path.write_text(json.dumps(truth_document(sim, live_start_ms), indent=2))
