"""A volumetric bottle filler on a packaging line."""

from smartfactory.sim import Machine, Sensor


class Filler(Machine):
    """Filling line: fill weight, conveyor speed, motor current."""

    sample_interval_s = 0.5
    sensors = {
        "fill_weight": Sensor(unit="g", nominal=500.0, sd=1.5),
        "conveyor_speed": Sensor(unit="m/min", nominal=42.0, sd=0.3, phi=0.6, decimals=2),
        "motor_current": Sensor(unit="A", nominal=11.0, sd=0.25, phi=0.4, decimals=2),
    }
