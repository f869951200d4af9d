"""The simulator's ground-truth OEE equals OEE computed from the messages it published (what storage gets)."""

from __future__ import annotations

import pytest

from smartfactory import kpi
from smartfactory.ingest.decode import Decoder
from smartfactory.model import DeadLetter
from smartfactory.plant import Plant
from smartfactory.sim.loader import Catalog
from smartfactory.sim.runner import run
from smartfactory.sim.scenario import parse_scenario
from smartfactory.sim.truth import oee_inputs, simulate_truth, truth_document
from smartfactory.wire import MachinePath
from tests.sim.conftest import HOUR, T0, MakeSim

SCENARIO = parse_scenario(
    """
    events:
      - {at: 20m, machine: imm-01, inject: breakdown, params: {duration: 25m}}
      - {at: 1h, machine: filler-01, inject: slowdown, params: {factor: 1.5}}
      - {at: 2h, machine: filler-01, clear: slowdown}
      - {at: 3h, machine: cnc-01, inject: shift, sensor: diameter, params: {size: 0.02}}
    """
)


def test_oee_from_published_messages_equals_the_ground_truth(make_sim: MakeSim) -> None:
    sim = make_sim(seed=21, start_ms=T0 - 2 * HOUR, record_truth=True)  # 06:00: early shift, lunch at 10:00
    sim.schedule(SCENARIO, sim.start_ms)
    decoder = Decoder(max_future_s=1e9, max_age_s=1e9)
    changes: list[kpi.StateChange] = []
    parts: list[kpi.PartEvent] = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        decoded = decoder.decode(topic, payload, T0)
        assert not isinstance(decoded, DeadLetter)
        for c in decoded.states:  # exactly what a storage query would return
            changes.append(
                kpi.StateChange(
                    machine=c.machine,
                    ts_ms=c.ts_ms,
                    state=c.state,
                    reason=c.reason,
                    line=MachinePath.parse(c.machine).line_id,
                )
            )
        for p in decoded.parts:
            parts.append(kpi.PartEvent(p.machine, MachinePath.parse(p.machine).line_id, p.ts_ms, p.good))

    run(sim, publish, speed=0, duration_s=6 * 3600, clock=lambda: (T0 + 100 * HOUR) / 1000)
    since, until = sim.start_ms, sim.now_ms
    ideal, calendar, settings = oee_inputs(sim)
    stored = kpi.compute_oee(
        kpi.intervals_from_changes(changes, until), parts, ideal, since, until, calendar=calendar, settings=settings
    )
    truth = sim.ground_truth()
    assert stored == truth
    plant = truth.plant
    assert plant.total_count > 12_000
    assert plant.scrap_count > 0
    assert plant.oee is not None
    assert 0.5 < plant.oee < 0.95
    assert plant.losses.breakdowns >= 25 * 60  # the injected breakdown at least
    assert plant.planned_downtime_s == pytest.approx(4 * 30 * 60)  # the lunch break × 4 machines


def test_simulate_truth_needs_no_broker_and_matches_a_published_run(
    make_sim: MakeSim, catalog: Catalog, default_plant: Plant
) -> None:
    published = make_sim(seed=3, record_truth=True)
    run(published, lambda t, p, r: None, speed=0, duration_s=3 * 3600, clock=lambda: (T0 + 100 * HOUR) / 1000)
    sim, truth = simulate_truth(default_plant, catalog, seed=3, start_ms=T0, duration_s=3 * 3600)
    assert truth == published.ground_truth()
    document = truth_document(sim)
    assert document["since_ms"] == T0
    assert document["until_ms"] == T0 + 3 * HOUR
    rows = document["rows"]
    assert isinstance(rows, list)
    assert {row["level"] for row in rows} == {"machine", "line", "plant"}
