"""The Machine base class: declarations, overrides, what sensors show in each state, faults, verdicts."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.sim import Characteristic, Machine, Sensor, StateModel
from smartfactory.sim.checks import check_machine_type


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
    recipes: ClassVar[dict[str, Any]] = {
        "clogged": {"fan": ("shift", {"size": -100.0}), "temp": ("drift", {"rate": 1.0})}
    }


def test_overrides_change_fields_and_typos_are_errors() -> None:
    oven = Oven("o", sensors={"temp": {"nominal": 180.0}}, quality={"weight": {"usl": 11.0}}, states={"mtbf_s": 5})
    assert oven.sensor_specs["temp"].nominal == 180.0
    assert Oven.sensors["temp"].nominal == 200.0  # the class is untouched
    assert oven.quality_specs["weight"].usl == 11.0
    assert oven.state_model.mtbf_s == 5
    with pytest.raises(ConfigError, match="no sensor 'tmp'"):
        Oven("o", sensors={"tmp": {"nominal": 1.0}})
    with pytest.raises(ConfigError, match="unknown setting"):
        Oven("o", sensors={"temp": {"nominall": 1.0}})
    with pytest.raises(ConfigError, match="unknown setting"):
        Oven("o", states={"mtbf": 1.0})


def test_while_not_producing_sensors_head_for_their_idle_level() -> None:
    oven = Oven("o")
    assert oven.sample(0.0) == {"temp": 200.0, "fan": pytest.approx(1500.0, abs=30), "slow": 50.0}
    oven.settle(0.0)
    oven.state = "down"
    oven.tick = 1
    values = oven.sample(100.0)  # one time constant later
    assert values["temp"] == pytest.approx(20.0 + 180.0 * 0.36788, abs=0.01)
    assert values["fan"] == 0.0  # stops at once, no noise
    assert "slow" not in values  # sampled every 5th tick only
    oven.tick = 5
    assert "slow" in oven.sample(105.0)


def test_wear_grows_with_parts_since_the_tool_change_and_judging_uses_the_limits() -> None:
    oven = Oven("o")
    assert oven.measure(0.0) == {"weight": 10.0}
    oven.tool_parts = 6
    part = oven.measure(1.0)
    assert part == {"weight": pytest.approx(10.6)}
    assert oven.judge(part) is False
    assert oven.judge({"weight": 10.5}) is True  # the limits themselves are inside
    assert oven.judge({"weight": 9.49}) is False


def test_faults_act_on_their_signal_until_cleared() -> None:
    oven = Oven("o")
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


def test_bad_injections_say_what_exists() -> None:
    oven = Oven("o")
    with pytest.raises(SimulatorError, match="no sensor or characteristic 'hum'"):
        oven.inject("shift", "hum", {"size": 1.0}, 0.0)
    with pytest.raises(SimulatorError, match="needs --sensor"):
        oven.inject("shift", None, {"size": 1.0}, 0.0)
    with pytest.raises(SimulatorError, match="known: shift"):
        oven.inject("melt", None, {}, 0.0)
    assert oven.inject("variance", None, {"factor": 2.0}, 0.0) == ["temp", "fan", "slow", "weight"]


def test_dropout_on_a_characteristic_leaves_it_unmeasured() -> None:
    oven = Oven("o")
    oven.inject("dropout", "weight", {}, 0.0)
    assert oven.measure(1.0) == {}


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
