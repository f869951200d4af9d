"""TEMPLATE: copy this file to simulators/my_machine.py, rename the class, edit the sensors.

Files starting with an underscore are not loaded, so this template never shows up as a machine.
The class name becomes the type name in snake_case (MyMachine → my_machine); put that type in a plant file
(simulators/plants/*.toml) and run `smartfactory simulators list` to check it was found.
"""

from smartfactory.sim import Machine, Sensor


class MyMachine(Machine):
    """One line that says what this machine is (shown by `smartfactory simulators list`)."""

    sample_interval_s = 1.0  # seconds between two samples of all sensors
    sensors = {
        # name: Sensor(unit, nominal value, noise standard deviation, AR(1) coefficient 0..<1)
        "temperature": Sensor(unit="°C", nominal=40.0, sd=0.5, phi=0.5),
    }

    def sample(self, t_s: float) -> dict[str, float]:
        values = super().sample(t_s)  # nominal + noise + injected faults
        # Add your own behaviour here, for example a slow daily cycle:
        # values["temperature"] += 2.0 * math.sin(2 * math.pi * t_s / 86_400)
        return values
