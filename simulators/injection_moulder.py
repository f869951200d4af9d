"""A hydraulic injection moulding machine making PP bottle caps (one file = one machine type)."""

from smartfactory.sim import Characteristic, Context, Machine, Sensor, StateModel


class InjectionMoulder(Machine):
    """Injection moulding: melt and mould temperature; per shot injection pressure, cycle time, part weight."""

    sample_interval_s = 2.0
    ideal_cycle_s = 24.0
    sensors = {
        # the barrel heaters hold the melt temperature even while the machine stands; their controller is slow, so
        # one reading is much like the last (AR(1) noise, φ = 0.7): plain Shewhart limits on it raise false alarms
        "melt_temp": Sensor("°C", nominal=232.0, sd=0.8, phi=0.7, decimals=1),
        # the mould cools towards the 28 °C chilled water when no hot plastic arrives
        "mould_temp": Sensor("°C", nominal=45.0, sd=0.3, decimals=1, idle=28.0, tau_s=1200),
    }
    quality = {
        # the cap's weight is the moulder's critical characteristic: a slow part (one every 26 s) whose small shifts
        # must still be found within minutes, so it gets 8 times the default share of the part alarm budget
        "part_weight": Characteristic("g", target=48.5, sd=0.1, lsl=48.1, usl=48.9, decimals=3, alarm_weight=8),
        "injection_pressure": Characteristic("bar", target=850.0, sd=6.0, decimals=1),  # peak per shot
        "cycle_time": Characteristic("s", target=24.0, sd=0.0, decimals=2),  # measured: see measure()
    }
    state_model = StateModel(
        mtbf_s=14 * 3600,
        mttr_s=40 * 60,
        small_stop_every_s=3 * 3600,
        small_stop_s=150,
        small_stop_reason="jam",  # a cap stuck in the mould
        changeover_every_parts=1200,  # a colour change every 1200 shots
        changeover_s=30 * 60,
        speed_loss=0.08,
    )

    def measure(self, ctx: Context) -> dict[str, float]:
        values = super().measure(ctx)
        cold = ctx.sensors["mould_temp"].nominal - ctx.level("mould_temp")
        if "part_weight" in values:  # a cold mould freezes the flow early: short, light parts (start-up scrap)
            values["part_weight"] = round(values["part_weight"] - 0.03 * cold, 3)
        if "injection_pressure" in values:  # ... and needs more pressure to fill
            values["injection_pressure"] = round(values["injection_pressure"] + 4.0 * cold, 1)
        if "cycle_time" in values:
            values["cycle_time"] = round(ctx.last_cycle_s, 2)
        return values
