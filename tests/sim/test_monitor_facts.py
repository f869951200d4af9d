"""What the simulator tells the live monitor: time constants and slow sampling in the birth, an autocorrelated
sensor, and fault events that name the signals they affect."""

from __future__ import annotations

import numpy as np

from smartfactory.plant import Plant
from smartfactory.sim.encode import Encoder
from smartfactory.sim.engine import Action, Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.records import EventRec, Sample
from smartfactory.wire import EventPayload
from tests.sim.conftest import MIN, T0


def simulation(plant: Plant, catalog: Catalog, only: str) -> Simulation:
    machines = tuple(m for m in plant.machines if m.path.machine == only)
    return Simulation(
        plant.model_copy(update={"machines": machines}), catalog, seed=4, start_ms=T0, auto_stops=False,
        shifts=False, record_truth=False,
    )  # fmt: skip


def test_births_declare_time_constants_and_slow_sampling(catalog: Catalog, default_plant: Plant) -> None:
    cnc = simulation(default_plant, catalog, "cnc-01").machines[0].info.signals
    assert cnc["spindle_temp"].tau_s == 900.0  # cools towards the hall while stopped: the monitor waits for it
    assert cnc["power"].tau_s is None  # back at once
    assert cnc["spindle_temp"].interval_s is None  # every sample
    filler = simulation(default_plant, catalog, "filler-01").machines[0].info.signals
    assert (filler["reject_count"].kind, filler["reject_count"].interval_s) == ("count", 60.0)
    imm = simulation(default_plant, catalog, "imm-01").machines[0].info.signals
    assert imm["melt_temp"].tau_s is None  # held by the heaters while stopped (no idle level)
    assert imm["mould_temp"].tau_s == 1200.0


def test_the_melt_temperature_is_autocorrelated(catalog: Catalog, default_plant: Plant) -> None:
    sim = simulation(default_plant, catalog, "imm-01")
    records = sim.advance(T0 + 120 * MIN)
    x = np.array([r.values["melt_temp"] for r in records if isinstance(r, Sample) and "melt_temp" in r.values])
    d = x - x.mean()
    phi = float(np.dot(d[1:], d[:-1]) / np.dot(d, d))
    assert 0.65 < phi < 0.75  # φ = 0.7, n = 3600: a standard error of 0.012
    assert abs(float(x.std()) - 0.8) < 0.1  # the declared sd is the marginal one


def test_fault_events_name_the_signals_they_affect(catalog: Catalog, default_plant: Plant) -> None:
    sim = simulation(default_plant, catalog, "cnc-02")
    sim.at(T0 + MIN, Action(0, "inject", "tool_wear", None, {"k": 2}))
    sim.at(T0 + 2 * MIN, Action(0, "inject", "shift", "spindle_temp", {"sigmas": 3}))
    sim.at(T0 + 3 * MIN, Action(0, "inject", "breakdown", None, {"duration": "1m"}))
    records = sim.advance(T0 + 5 * MIN)
    events = [r for r in records if isinstance(r, EventRec)]
    faults = {e.fault: e.affects for e in events if e.kind == "fault"}
    assert faults == {
        "tool_wear": ("diameter", "vibration_rms", "power"),  # the recipe's signals
        "shift": ("spindle_temp",),
        "breakdown": (),  # a machine fault changes the state, not a signal
    }
    wire = {EventPayload.from_bytes(o.payload).fault: o for o in Encoder(sim.machines).encode(events)}
    assert EventPayload.from_bytes(wire["tool_wear"].payload).affects == ["diameter", "vibration_rms", "power"]
    assert EventPayload.from_bytes(wire["breakdown"].payload).affects is None
