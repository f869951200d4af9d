"""Machine types for the scale benchmarks: a condition-monitoring rack with N analogue channels (N = 1…64).

The shipped types (simulators/*.py) declare 2–4 telemetry sensors each, and a plant file may change a sensor
but not add one. A scale scenario of M machines × S sensors with S chosen freely therefore uses these types:
`sensor_rack_S` is a data logger wired to S probes of one machine, sampled together (one grouped telemetry message
per instant, like every simulated machine). Channels cycle through four kinds of probe so that values and units
look like a plant's: bearing temperature (°C), hydraulic pressure (bar), vibration velocity (mm/s) and motor
current (A), each with in-control Gaussian noise. The rack never stops (no state model events), so its
telemetry rate is exactly S × its sampling rate.

This folder is a bench-local simulators folder: `bench/plant_generator.py --sensors S` writes plants that use
it, and the simulator reads it with `SMARTFACTORY_SIM__DIR=bench/simulators` (or `Catalog` from
`smartfactory.sim.loader.discover(Path("bench/simulators"))`).
"""

from __future__ import annotations

from smartfactory.sim import Machine, Sensor, StateModel

#: (name prefix, unit, nominal, sd, decimals) of the probe kinds a rack cycles through.
PROBES = (
    ("bearing_temp", "°C", 48.0, 0.3, 2),
    ("hyd_pressure", "bar", 160.0, 0.8, 1),
    ("vibration", "mm/s", 2.1, 0.07, 3),
    ("motor_current", "A", 11.5, 0.15, 2),
)
WIDTHS = range(1, 65)


def channels(width: int) -> dict[str, Sensor]:
    """The `width` sensors of a rack: `bearing_temp_01`, `hyd_pressure_02`, … (kinds in turn)."""
    out: dict[str, Sensor] = {}
    for index in range(width):
        prefix, unit, nominal, sd, decimals = PROBES[index % len(PROBES)]
        out[f"{prefix}_{index + 1:02d}"] = Sensor(unit, nominal=nominal, sd=sd, decimals=decimals)
    return out


def _rack(width: int) -> type[Machine]:
    doc = f"Condition-monitoring rack with {width} analogue channel(s), sampled together (bench scale scenario)."
    return type(
        f"SensorRack{width}",
        (Machine,),
        {
            "__doc__": doc,
            "type_name": f"sensor_rack_{width}",
            "sample_interval_s": 1.0,
            "ideal_cycle_s": 60.0,
            "sensors": channels(width),
            "state_model": StateModel(),  # every stop mechanism off: the rack runs all the time
        },
    )


# One module-level class per width: the loader finds Machine subclasses defined in this module.
for _width in WIDTHS:
    globals()[f"SensorRack{_width}"] = _rack(_width)
del _width
