"""Plant files: the shipped default plant, type defaults, overrides, and errors that name the problem."""

from __future__ import annotations

import pytest

from smartfactory.errors import ConfigError
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.plant import Plant, parse_plant, resolve_plant_file
from smartfactory.sim.records import Sample
from tests.sim.conftest import SIMULATORS, T0


def test_default_plant_has_three_machine_types_on_two_lines(default_plant: Plant, catalog: Catalog) -> None:
    lines = {m.path.line for m in default_plant.machines}
    types = {m.type for m in default_plant.machines}
    assert lines == {"line-1", "line-2"}
    assert types == {"cnc_mill", "injection_moulder", "filler"}
    assert default_plant.calendar is not None
    assert len(default_plant.calendar.shifts) == 3
    assert default_plant.oee.small_stop_s == 300
    sim = Simulation(default_plant, catalog, seed=1, start_ms=T0)
    sensors = {m.path.machine: set(m.machine.units) for m in sim.machines}
    assert {"spindle_temp", "vibration_rms", "spindle_speed", "power", "diameter"} <= sensors["cnc-01"]
    assert {"melt_temp", "injection_pressure", "cycle_time", "part_weight"} <= sensors["imm-01"]
    assert {"fill_weight", "conveyor_speed", "motor_current", "reject_count"} <= sensors["filler-01"]
    cnc2 = sim.by_path["acme/plant1/machining/line-1/cnc-02"].machine
    assert cnc2.sensor_specs["spindle_temp"].nominal == 43.0  # the plant file's override
    assert sim.ideal_cycle_times()["acme/plant1/packaging/line-2/filler-01"] == 1.0


PLANT = """
[plant]
enterprise = "e"
site = "s"
[types.cnc_mill]
ideal_cycle_s = 40
[types.cnc_mill.states]
mtbf_s = 100
[types.cnc_mill.sensors.power]
nominal = 5.0
sd = 0.3
[[machines]]
area = "a"
line = "l"
name = "m1"
type = "cnc_mill"
[machines.sensors.power]
nominal = 6.0
[[machines]]
area = "a"
line = "l"
name = "m2"
type = "cnc_mill"
ideal_cycle_s = 50
sample_interval_s = 5
[machines.quality.diameter]
usl = 25.02
"""


def test_type_defaults_apply_to_every_machine_and_machine_entries_win(catalog: Catalog) -> None:
    plant = parse_plant(PLANT)
    assert plant.calendar is None
    m1, m2 = plant.machines
    assert m1.sensors == {"power": {"nominal": 6.0, "sd": 0.3}}
    assert m1.states == {"mtbf_s": 100}
    assert m1.ideal_cycle_s == 40
    assert m2.ideal_cycle_s == 50
    assert m2.quality == {"diameter": {"usl": 25.02}}
    sim = Simulation(plant, catalog, seed=1, start_ms=T0)
    assert sim.machines[1].machine.quality_specs["diameter"].usl == 25.02
    assert sim.machines[1].machine.sensor_specs["power"].nominal == 5.0
    assert [m.machine.interval_s for m in sim.machines] == [1.0, 5.0]
    ticks = [r.ts - T0 for r in sim.advance(T0 + 10_000) if isinstance(r, Sample) and r.machine == 1 and r.tick]
    assert ticks == [0, 5_000]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plant]\nnmae = 'x'\n[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'", r"unknown key\(s\) \['nmae'\]"),
        ("[[machines]]\narea='a'\nline='l'\nname='m'", "lacks 'type'"),
        ("[[machines]]\narea='a'\nline='l/2'\nname='m'\ntype='t'", "line: level 'l/2'"),
        ("[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'\n" * 2, "appears twice"),
        ("[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'\nideal_cycle_s = -1", "positive number"),
        ("[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'\n[machines.states]\nmtbf = 1", "unknown key"),
        ("[calendar]\nshifts = [{name='x', start='25:00', end='06:00'}]", "HH:MM"),
        ("plant = [", "not valid TOML"),
        ("[plant]\nname = 'empty'", "defines no"),
    ],
)
def test_plant_file_errors_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_plant(text, "p.toml")


def test_plant_names_resolve_to_files_and_unknown_names_list_the_choices() -> None:
    assert resolve_plant_file("default", SIMULATORS).name == "default.toml"
    with pytest.raises(ConfigError, match="available: default"):
        resolve_plant_file("nope", SIMULATORS)


def test_bad_sensor_overrides_name_the_plant_file(catalog: Catalog) -> None:
    plant = parse_plant(PLANT.replace("nominal = 6.0", "nominl = 6.0"), "mine.toml")
    with pytest.raises(ConfigError, match=r"mine.toml: m1 sensor power: unknown setting\(s\) \['nominl'\]"):
        Simulation(plant, catalog, seed=1, start_ms=T0)
