"""A hydraulic injection moulding machine."""

from smartfactory.sim import Machine, Sensor


class InjectionMoulder(Machine):
    """Injection moulding: melt temperature, injection pressure, cycle time, part weight."""

    sample_interval_s = 2.0
    sensors = {
        "melt_temp": Sensor(unit="°C", nominal=230.0, sd=1.2, phi=0.7, decimals=1),
        "injection_pressure": Sensor(unit="bar", nominal=850.0, sd=8.0, phi=0.2, decimals=1),
        "cycle_time": Sensor(unit="s", nominal=28.0, sd=0.25),
        "part_weight": Sensor(unit="g", nominal=48.5, sd=0.12),
    }
