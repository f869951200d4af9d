"""A 3-axis CNC milling centre finishing a 25 mm bearing seat (one file = one machine type)."""

from smartfactory.sim import Characteristic, Context, Drift, GrowingVariance, Machine, Sensor, StateModel


class CncMill(Machine):
    """CNC mill: spindle temperature, vibration, speed and power; a machined diameter per part."""

    sample_interval_s = 1.0
    ideal_cycle_s = 55.0  # seconds per part at the programmed feeds and speeds
    sensors = {
        # a warm spindle runs at ~41 °C; standing still it cools towards the 24 °C hall in ~15 min
        "spindle_temp": Sensor("°C", nominal=41.0, sd=0.15, decimals=2, idle=24.0, tau_s=900),
        # vibration velocity RMS (ISO 10816-3 zone A/B for a small machine tool)
        "vibration_rms": Sensor("mm/s", nominal=1.8, sd=0.08, idle=0.05, idle_sd=0.01, low=0.0),
        "spindle_speed": Sensor("rpm", nominal=9000.0, sd=6.0, decimals=0, idle=0.0, idle_sd=0.0, low=0.0),
        "power": Sensor("kW", nominal=7.2, sd=0.18, decimals=2, idle=0.6, idle_sd=0.02, low=0.0),
    }
    quality = {
        # Ø25 mm ±15 µm; σ = 4 µm gives Cp = 1.25. The tool wears 0.01 µm per part; the controller corrects the
        # tool offset for that expected wear every 10 parts, so in control the mean stays within 0.1 µm of target.
        "diameter": Characteristic(
            "mm", target=25.0, sd=0.004, lsl=24.985, usl=25.015, wear_per_part=0.00001, wear_offset_parts=10
        ),
    }
    state_model = StateModel(
        mtbf_s=10 * 3600,
        mttr_s=45 * 60,
        small_stop_every_s=2.5 * 3600,
        small_stop_s=120,
        small_stop_reason="jam",  # chips wrapped round the tool, a part not clamped
        tool_life_parts=320,
        tool_change_s=240,
        speed_loss=0.06,
    )
    recipes = {
        # a worn tool: the diameter grows, the spindle vibrates and draws more power
        "tool_wear": {
            "diameter": Drift(per_hour=0.012),
            "vibration_rms": Drift(per_hour=0.6),
            "power": Drift(per_hour=0.5),
        },
        # a damaged spindle bearing: vibration gets noisier and the spindle warmer
        "bearing_damage": {
            "vibration_rms": GrowingVariance(per_hour=4.0),
            "spindle_temp": Drift(per_hour=3.0),
        },
    }

    def measure(self, ctx: Context) -> dict[str, float]:
        values = super().measure(ctx)
        if "diameter" in values:
            # thermal growth: a cold spindle cuts 0.5 µm larger per °C below its working temperature
            cold = ctx.sensors["spindle_temp"].nominal - ctx.level("spindle_temp")
            values["diameter"] = round(values["diameter"] + 0.0005 * cold, 4)
        return values
