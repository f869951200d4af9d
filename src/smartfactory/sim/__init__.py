"""Simulators: the `Machine` base class students extend, signal behaviours, the loader, the engine and runner.

A machine type is one short file in `simulators/` (see `simulators/_template.py` and
docs/simulator-tutorial.md)::

    from smartfactory.sim import Characteristic, Context, Drift, Machine, Sensor, StateModel

Hooks receive a read-only `Context`; faults and permanent behaviours are behaviour objects (`Drift`, `Shift`,
`Cycle`, ...). The engine (`Simulation`) is pure and deterministic; `runner.run` paces it against a clock and
`publisher.PlantPublisher` puts it on MQTT. `ground_truth_oee` is the simulator's own OEE for a run.
"""

from smartfactory.sim.live import Context
from smartfactory.sim.machine import Characteristic, Machine, Sensor, StateModel
from smartfactory.sim.signals import (
    AR1,
    Behaviour,
    Cycle,
    Drift,
    Dropout,
    GrowingVariance,
    Shift,
    Spikes,
    Stuck,
    Variance,
    Warmup,
    cycle,
    drift,
    warmup,
)

__all__ = [
    "AR1",
    "Behaviour",
    "Characteristic",
    "Context",
    "Cycle",
    "Drift",
    "Dropout",
    "GrowingVariance",
    "Machine",
    "Sensor",
    "Shift",
    "Spikes",
    "StateModel",
    "Stuck",
    "Variance",
    "Warmup",
    "cycle",
    "drift",
    "warmup",
]
