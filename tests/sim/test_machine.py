"""The Machine base class and its engine side: declarations, overrides, what sensors show in each state, faults,
verdicts, the read-only context hooks get, and the facts a birth message carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.sim import Characteristic, Context, Cycle, Drift, Machine, Sensor, Shift, StateModel
from smartfactory.sim.checks import check_machine_type, check_specs
from smartfactory.sim.live import LiveMachine


class Oven(Machine):
    """A test oven."""

    sample_interval_s = 1.0
    sensors: ClassVar[dict[str, Any]] = {
        "temp": Sensor("°C", nominal=200.0, sd=0.0, idle=20.0, tau_s=100.0),
        "fan": Sensor("rpm", nominal=1500.0, sd=5.0, idle=0.0, idle_sd=0.0, low=0.0),
        "slow": Sensor("%", nominal=50.0, every_s=5.0),
    }
    quality: ClassVar[dict[str, Any]] = {
        "weight": Characteristic("g", target=10.0, sd=0.0, lsl=9.5, usl=10.5, wear_per_part=0.1)
    }
    recipes: ClassVar[dict[str, Any]] = {"clogged": {"fan": Shift(size=-100.0), "temp": Drift(rate=1.0)}}


def make_oven(**overrides: Any) -> LiveMachine:
    return LiveMachine(Oven(), "o", **overrides)


def test_overrides_change_fields_and_typos_are_errors() -> None:
    live = make_oven(sensors={"temp": {"nominal": 180.0}}, quality={"weight": {"usl": 11.0}}, state_model={"mtbf_s": 5})
    assert live.sensors["temp"].nominal == 180.0
    assert Oven.sensors["temp"].nominal == 200.0  # the class is untouched
    assert live.quality["weight"].usl == 11.0
    assert live.state_model.mtbf_s == 5
    with pytest.raises(ConfigError, match="no sensor 'tmp'"):
        make_oven(sensors={"tmp": {"nominal": 1.0}})
    with pytest.raises(ConfigError, match="unknown setting"):
        make_oven(sensors={"temp": {"nominall": 1.0}})
    with pytest.raises(ConfigError, match="unknown setting"):
        make_oven(state_model={"mtbf": 1.0})


def test_while_not_producing_sensors_head_for_their_idle_level() -> None:
    live = make_oven()
    assert live.sample(0.0) == {"temp": 200.0, "fan": pytest.approx(1500.0, abs=30), "slow": 50.0}
    live.settle(0.0)
    live.state = "down"
    live.tick = 1
    values = live.sample(100.0)  # one time constant later
    assert values["temp"] == pytest.approx(20.0 + 180.0 * 0.36788, abs=0.01)
    assert values["fan"] == 0.0  # stops at once, no noise
    assert "slow" not in values  # sampled every 5th tick only
    live.tick = 5
    assert "slow" in live.sample(105.0)


def test_wear_grows_with_parts_since_the_tool_change_and_judging_uses_the_limits() -> None:
    live = make_oven(quality={"weight": {"lsl": 9.6}})
    assert live.measure(0.0) == {"weight": 10.0}
    live.tool_parts = 6
    part = live.measure(1.0)
    assert part == {"weight": pytest.approx(10.6)}
    assert live.judge(part) is False
    assert live.judge({"weight": 10.5}) is True  # the limits themselves are inside
    assert live.judge({"weight": 9.59}) is False  # the plant file's lsl, not the class's 9.5


def test_wear_compensation_corrects_the_expected_wear_every_n_parts_but_not_a_faster_one() -> None:
    live = make_oven(quality={"weight": {"wear_offset_parts": 4, "usl": 100.0}})
    means = []
    for parts in range(12):
        live.tool_parts = parts
        means.append(live.measure(float(parts))["weight"])
    assert means == pytest.approx([10.0, 10.1, 10.2, 10.3] * 3)  # a sawtooth of 4 parts, never the whole tool life
    live.inject("shift", "weight", {"size": 0.5}, 12.0)  # a fault is not what the controller expects: it stays
    live.tool_parts = 13
    assert live.measure(13.0)["weight"] == pytest.approx(10.6)
    bad = Characteristic("g", target=1.0, sd=0.1, wear_offset_parts=-1, alarm_weight=0.0)
    fields = [p.split(": ")[1].split(" ")[0] for p in check_specs({}, {"w": bad})]
    assert fields == ["wear_offset_parts", "alarm_weight"]


def test_alarm_weight_reaches_the_birth_only_where_it_is_not_the_default() -> None:
    live = make_oven(quality={"weight": {"alarm_weight": 4.0}})
    info = live.info("oven")
    assert info.signals["weight"].alarm_weight == 4.0
    assert info.signals["temp"].alarm_weight is None  # default 1: left out of the birth
    assert "alarm_weight" not in info.signals["temp"].model_dump(exclude_none=True)
    assert check_specs({"t": Sensor("°C", nominal=1.0, alarm_weight=-2.0)}, {}) == [
        "sensor 't': alarm_weight must be a positive number (default 1), is -2.0"
    ]


def test_faults_act_on_their_signal_until_cleared() -> None:
    oven = make_oven()
    assert oven.inject("shift", "temp", {"size": 7.0}, 0.0) == ["temp"]
    assert oven.sample(1.0)["temp"] == 207.0
    assert oven.inject("clogged", None, {"k": 2.0}, 1.0) == ["fan", "temp"]
    oven.run_s = 11.0  # ten operating seconds after the compound fault started
    oven.tick = 2
    values = oven.sample(11.0)
    assert values["temp"] == pytest.approx(207.0 + 2.0 * 1.0 * 11.0)  # the drift started at run_s 0
    assert oven.fault_names == ["shift", "clogged"]
    assert oven.clear("shift") == ["shift"]
    assert oven.sample(12.0)["temp"] == pytest.approx(200.0 + 22.0)
    assert oven.clear() == ["clogged"]
    assert oven.sample(13.0)["temp"] == 200.0


def test_recipes_are_behaviour_objects_scaled_by_k_and_the_declaration_is_untouched() -> None:
    live = make_oven()
    assert live.inject("clogged", "temp", {"k": 3.0}, 0.0) == ["temp"]
    live.run_s, live.tick = 10.0, 1
    assert live.sample(10.0)["temp"] == pytest.approx(200.0 + 3.0 * 10.0)
    assert Oven.recipes["clogged"]["temp"] == Drift(rate=1.0)  # the class's declaration did not change
    assert Drift(per_hour=0.012).scaled(2.0) == Drift(per_hour=0.024)
    with pytest.raises(SimulatorError, match="takes only k"):
        live.inject("clogged", None, {"size": 1.0}, 0.0)


def test_bad_injections_say_what_exists() -> None:
    oven = make_oven()
    with pytest.raises(SimulatorError, match="no sensor or characteristic 'hum'"):
        oven.inject("shift", "hum", {"size": 1.0}, 0.0)
    with pytest.raises(SimulatorError, match="needs --sensor"):
        oven.inject("shift", None, {"size": 1.0}, 0.0)
    with pytest.raises(SimulatorError, match="known: shift"):
        oven.inject("melt", None, {}, 0.0)
    assert oven.inject("variance", None, {"factor": 2.0}, 0.0) == ["temp", "fan", "slow", "weight"]


def test_dropout_on_a_characteristic_leaves_it_unmeasured() -> None:
    live = make_oven()
    live.inject("dropout", "weight", {}, 0.0)
    assert live.measure(1.0) == {}


class Probe(Machine):
    """Records what its hooks see, and counts."""

    sensors: ClassVar[dict[str, Any]] = {"temp": Sensor("°C", nominal=50.0, idle=20.0, tau_s=10.0)}
    quality: ClassVar[dict[str, Any]] = {"len": Characteristic("mm", target=5.0, sd=0.0, lsl=4.0, usl=6.0)}
    behaviours: ClassVar[dict[str, Any]] = {"temp": Cycle(amplitude=2.0, period_s=40.0)}

    def setup(self) -> None:
        self.seen: list[tuple[float, str, int, float]] = []

    def sample(self, ctx: Context) -> dict[str, float]:
        values = super().sample(ctx)
        self.seen.append((ctx.t_s, ctx.state, ctx.parts_made, ctx.level("temp")))
        values["parts"] = float(ctx.parts_made)
        return values

    def judge(self, ctx: Context, measurements: Mapping[str, float]) -> bool:
        return ctx.parts_made % 2 == 0 and super().judge(ctx, measurements)


def test_hooks_get_a_read_only_context_and_the_engine_keeps_the_state() -> None:
    live = LiveMachine(Probe(), "p", sensors={"temp": {"nominal": 60.0}})
    probe = live.machine
    assert isinstance(probe, Probe)
    live.parts_made = 3
    values = live.sample(10.0)  # the permanent cycle: +2 at a quarter period
    assert values == {"temp": pytest.approx(62.0), "parts": 3.0}
    assert probe.seen == [(10.0, "running", 3, 60.0)]  # the plant file's nominal, not the class's 50
    assert live.judge({"len": 5.0}) is False  # the type's own verdict: odd parts are scrap
    live.parts_made = 4
    assert live.judge({"len": 5.0}) is True
    ctx = live.ctx
    for attribute in ("state", "run_s", "parts_made", "t_s", "sensors"):
        with pytest.raises(AttributeError):
            setattr(ctx, attribute, None)
    with pytest.raises(TypeError):
        ctx.sensors["temp"] = Sensor("K", 1.0)  # type: ignore[index]
    # nothing of the engine shares the student's namespace
    assert not {"inject", "clear", "settle", "state", "run_s", "tick", "parts_made"} & set(dir(probe))


def test_a_birth_carries_the_machine_facts_with_the_plant_files_changes() -> None:
    live = make_oven(quality={"weight": {"usl": 11.0}}, ideal_cycle_s=12.0, sample_interval_s=2.0)
    info = live.info("oven")
    assert (info.machine_type, info.ideal_cycle_s, info.sample_interval_s) == ("oven", 12.0, 2.0)
    assert set(info.signals) == {"temp", "fan", "slow", "weight"}
    weight = info.signals["weight"]
    assert (weight.kind, weight.unit, weight.lsl, weight.usl, weight.target, weight.decimals) == (
        "quality",
        "g",
        9.5,
        11.0,
        10.0,
        4,
    )
    assert (info.signals["fan"].kind, info.signals["fan"].unit, info.signals["fan"].lsl) == ("process", "rpm", None)


def test_old_style_declarations_are_reported_with_what_to_write() -> None:
    class Old(Machine):
        sensors: ClassVar[dict[str, Any]] = {"t": Sensor("°C", 1.0)}
        recipes: ClassVar[dict[str, Any]] = {"hot": {"t": ("drift", {"per_hour": 1.0})}}

        def sample(self, t_s: float) -> dict[str, float]:  # type: ignore[override]
            return {}

    problems = " | ".join(check_machine_type(Old))
    assert "write 't': Drift(...) instead of the tuple" in problems
    assert "sample(self, t_s) is the old hook: write sample(self, ctx)" in problems
    with pytest.warns(DeprecationWarning, match="rename `states = StateModel"):

        class Older(Machine):
            sensors: ClassVar[dict[str, Any]] = {"t": Sensor("°C", 1.0)}
            states = StateModel(mtbf_s=60.0)

    assert Older.state_model.mtbf_s == 60.0


def test_the_declaration_check_finds_what_students_get_wrong() -> None:
    class Broken(Machine):
        sample_interval_s = 0.0
        sensors: ClassVar[dict[str, Any]] = {"a/b": Sensor("x" * 40, 1.0, phi=1.0), "same": Sensor("", 0.0)}
        quality: ClassVar[dict[str, Any]] = {
            "same": Characteristic("mm", target=5.0, sd=0.1),
            "d": Characteristic("mm", target=5.0, sd=0.1, lsl=5.0, usl=4.0),
        }

    problems = " | ".join(check_machine_type(Broken))
    for expected in (
        "sample_interval_s must be > 0",
        "'a/b' cannot be a topic level",
        "longer than 32 characters",
        "phi must lie in [0, 1)",
        "'same' is both a sensor and a characteristic",
        "LSL 5.0 must be below the target 5.0",
        "USL 4.0 must be above the target 5.0",
    ):
        assert expected in problems
    assert check_machine_type(Oven) == []

    class Empty(Machine):
        pass

    assert check_machine_type(Empty) == ["declares no sensors and no quality characteristics"]


def test_state_model_defaults_switch_stops_off() -> None:
    model = StateModel()
    assert model.mtbf_s == 0
    assert model.small_stop_every_s == 0
    assert model.tool_life_parts == 0
