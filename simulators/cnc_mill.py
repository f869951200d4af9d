"""A 3-axis CNC milling centre."""

from smartfactory.sim import Machine, Sensor


class CncMill(Machine):
    """CNC mill: spindle temperature, vibration, spindle speed and power."""

    sample_interval_s = 1.0
    sensors = {
        "spindle_temp": Sensor(unit="°C", nominal=62.0, sd=0.6, phi=0.8, decimals=2),
        "vibration_rms": Sensor(unit="mm/s", nominal=2.2, sd=0.15, phi=0.3),
        "spindle_speed": Sensor(unit="rpm", nominal=12_000.0, sd=25.0, decimals=0),
        "power": Sensor(unit="kW", nominal=7.5, sd=0.2, phi=0.5, decimals=2),
    }
