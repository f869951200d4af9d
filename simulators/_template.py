"""TEMPLATE: copy this file to simulators/my_machine.py, rename the class, edit the sensors.

Files starting with an underscore are not loaded, so this template never shows up as a machine.
The class name becomes the type name in snake_case (MyMachine → my_machine); put that type in a plant file
(simulators/plants/*.toml) and run `smartfactory simulators list` to check it was found.
docs/simulator-tutorial.md walks through it step by step.
"""

from smartfactory.sim import Characteristic, Context, Machine, Sensor, StateModel


class MyMachine(Machine):
    """One line that says what this machine is (shown by `smartfactory simulators list`)."""

    sample_interval_s = 1.0  # seconds between two samples of the sensors
    ideal_cycle_s = 30.0  # the fastest possible time for one part (OEE's ideal cycle time)
    sensors = {
        # name: Sensor(unit, nominal level while producing, noise sd, and optionally:
        #   idle=level while stopped, tau_s=how fast it gets there, every_s=slower sampling, phi=autocorrelation)
        "temperature": Sensor("°C", nominal=40.0, sd=0.5, idle=22.0, tau_s=600),
        "speed": Sensor("rpm", nominal=1200.0, sd=4.0, idle=0.0, idle_sd=0.0, low=0.0),
    }
    quality = {
        # measured on every finished part; outside [lsl, usl] the part is scrap
        "length": Characteristic("mm", target=100.0, sd=0.05, lsl=99.8, usl=100.2),
    }
    # how it stops: mean time between failures, repair time, small stops (all seconds; 0 = never)
    state_model = StateModel(mtbf_s=8 * 3600, mttr_s=20 * 60, small_stop_every_s=3600, small_stop_s=60)

    def sample(self, ctx: Context) -> dict[str, float]:
        values = super().sample(ctx)  # nominal or idle level + noise + injected faults
        # Add your own behaviour here (ctx: t_s, state, parts_made, level(sensor), ...), for example:
        # if "temperature" in values:
        #     values["temperature"] += 0.5 * ctx.level("speed") / 1200
        return values
