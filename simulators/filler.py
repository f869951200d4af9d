"""A rotary filler on the packaging line: 500 g bottles, checkweighed one by one (one file = one machine type)."""

from smartfactory.sim import Characteristic, Context, Machine, Sensor, StateModel


class Filler(Machine):
    """Bottle filler: fill weight per bottle, conveyor speed, motor current and rejects per minute."""

    sample_interval_s = 1.0
    ideal_cycle_s = 1.0  # 60 bottles a minute
    sensors = {
        "conveyor_speed": Sensor("m/min", nominal=18.0, sd=0.12, decimals=2, idle=0.0, idle_sd=0.0, low=0.0),
        "motor_current": Sensor("A", nominal=6.5, sd=0.12, decimals=2, idle=0.4, idle_sd=0.02),
        # bottles the checkweigher rejected in the last minute (a count: watch it on a c chart)
        "reject_count": Sensor("bottles/min", nominal=0.0, every_s=60.0, decimals=0, count=True),
    }
    quality = {
        # 500 g nominal quantity; filled slightly over so that hardly any bottle is short
        # the net content a customer (and the e-mark) checks: twice the default share of the part alarm budget
        "fill_weight": Characteristic("g", target=502.0, sd=2.0, lsl=495.0, usl=509.0, decimals=1, alarm_weight=2),
    }
    state_model = StateModel(
        mtbf_s=20 * 3600,
        mttr_s=30 * 60,
        small_stop_every_s=40 * 60,
        small_stop_s=60,
        small_stop_reason="jam",  # a bottle fallen over in the star wheel
        idle_every_s=90 * 60,
        idle_s=180,  # waiting for empty bottles or caps
        speed_loss=0.04,
    )

    def setup(self) -> None:
        self.counted_scrap = 0

    def sample(self, ctx: Context) -> dict[str, float]:
        values = super().sample(ctx)
        if "reject_count" in values:
            values["reject_count"] = float(ctx.parts_scrap - self.counted_scrap)
            self.counted_scrap = ctx.parts_scrap
        return values
