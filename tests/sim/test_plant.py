"""Plant files: the shipped default plant, type defaults, overrides, and errors that name the problem."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.errors import ConfigError
from smartfactory.plant import (
    CharacteristicSettings,
    SensorSettings,
    StateSettings,
    load_limits_file,
    parse_plant,
    resolve_plant_file,
)
from smartfactory.plant import Plant as CorePlant
from smartfactory.sim import Characteristic, Sensor, StateModel
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.plant import Plant
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
    sensors = {m.path.machine: set(m.live.units) for m in sim.machines}
    assert {"spindle_temp", "vibration_rms", "spindle_speed", "power", "diameter"} <= sensors["cnc-01"]
    assert {"melt_temp", "injection_pressure", "cycle_time", "part_weight"} <= sensors["imm-01"]
    assert {"fill_weight", "conveyor_speed", "motor_current", "reject_count"} <= sensors["filler-01"]
    cnc2 = sim.by_path["acme/plant1/machining/line-1/cnc-02"].live
    assert cnc2.sensors["spindle_temp"].nominal == 43.0  # the plant file's override
    assert sim.ideal_cycle_times()["acme/plant1/packaging/line-2/filler-01"] == 1.0


PLANT = """
[plant]
enterprise = "e"
site = "s"
[types.cnc_mill]
ideal_cycle_s = 40
[types.cnc_mill.state_model]
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
    assert {k: v.changes() for k, v in m1.sensors.items()} == {"power": {"nominal": 6.0, "sd": 0.3}}
    assert m1.state_model.changes() == {"mtbf_s": 100}
    assert m2.state_model.changes() == {"mtbf_s": 100}
    assert m1.ideal_cycle_s == 40
    assert m2.ideal_cycle_s == 50
    assert {k: v.changes() for k, v in m2.quality.items()} == {"diameter": {"usl": 25.02}}
    sim = Simulation(plant, catalog, seed=1, start_ms=T0)
    assert sim.machines[1].live.quality["diameter"].usl == 25.02
    assert sim.machines[1].live.sensors["power"].nominal == 5.0
    assert sim.machines[0].live.state_model.mtbf_s == 100
    assert [m.live.interval_s for m in sim.machines] == [1.0, 5.0]
    # the older table name `states` still reads the same
    assert parse_plant(PLANT.replace(".state_model]", ".states]")) == plant
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
        (
            "[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'\n[machines.sensors.x]\nsd = '1'",
            r"machine #1 \(m\) \[sensors.x\]: sd must be a number, got '1'",
        ),
        ("[oee]\nsmall_stop_s = -1\n[[machines]]\narea='a'\nline='l'\nname='m'\ntype='t'", r"\[oee\]: small_stop_s"),
        ("[calendar]\ntimezone = 'Mars/Base'", "unknown time zone"),
        ("[calendar]\nshifts = [{name='x', start='06:00'}]", r"lacks 'end' \(give name, start and end"),
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


def test_bad_sensor_overrides_name_the_plant_file_and_the_machine(catalog: Catalog) -> None:
    with pytest.raises(
        ConfigError, match=r"mine.toml machine #1 \(m1\) \[sensors.power\]: unknown key\(s\) \['nominl'\]; allowed are"
    ):
        parse_plant(PLANT.replace("nominal = 6.0", "nominl = 6.0"), "mine.toml")
    # a sensor the type does not have is found when the plant meets the machine types
    plant = parse_plant(PLANT.replace("[machines.sensors.power]", "[machines.sensors.pwr]"), "mine.toml")
    with pytest.raises(ConfigError, match=r"mine.toml: m1: no sensor 'pwr' to override"):
        Simulation(plant, catalog, seed=1, start_ms=T0)


@pytest.mark.parametrize(
    ("settings", "spec"),
    [(SensorSettings, Sensor), (CharacteristicSettings, Characteristic), (StateSettings, StateModel)],
)
def test_the_plant_files_override_tables_know_every_field_of_the_simulators_specs(settings: type, spec: type) -> None:
    assert set(settings.model_fields) == {f.name for f in dataclasses.fields(spec)}


def test_the_plant_file_is_pure_data_importable_without_the_simulator() -> None:
    code = (
        "import sys, pathlib; from smartfactory.plant import load_plant, resolve_plant_file; "
        f"p = load_plant(resolve_plant_file('default', pathlib.Path({str(SIMULATORS)!r}))); "
        "assert not [m for m in sys.modules if m.startswith('smartfactory.sim')], sys.modules; "
        "print(len(p.machines), p.calendar is not None, p.oee.small_stop_s, p.machines[0].ideal_cycle_s)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["4", "True", "300.0", "55.0"]
    assert Plant is CorePlant  # sim.plant only re-exports it


def test_plant_find_names_one_machine_or_says_which_exist(default_plant: Plant) -> None:
    assert str(default_plant.find("cnc-02").path) == "acme/plant1/machining/line-1/cnc-02"
    assert default_plant.find("line-2/filler-01").type == "filler"
    with pytest.raises(ConfigError, match=r"is not in the plant .*cnc-01, cnc-02"):
        default_plant.find("cnc-09")


def test_limits_files_are_validated_with_what_to_fix(tmp_path: Path) -> None:
    series = "acme/plant1/machining/line-1/cnc-01/telemetry/diameter"
    path = tmp_path / "limits.toml"
    path.write_text(
        f'[limits."{series}"]\ncenter = 25.0\nsigma = 0.004\n[limits."{series}x"]\ncenter = 7\nsigma = 1\nnsigmas = 2\n'
    )
    limits = load_limits_file(path)
    assert (limits[series].center, limits[series].sigma, limits[series].nsigmas) == (25.0, 0.004, 3.0)
    assert limits[series + "x"].nsigmas == 2.0
    for text, message in [
        (f'[limits."{series}"]\ncenter = "x"\nsigma = 1', "center must be a number.*numeric center and sigma"),
        (f'[limits."{series}"]\ncenter = 1', "lacks 'sigma'"),
        (f'[limits."{series}"]\ncenter = 1\nsigma = 1\nsgima = 2', r"unknown key\(s\) \['sgima'\]"),
        ('[limits."cnc-01/diameter"]\ncenter = 1\nsigma = 1', "not a series id"),
        ("[limit]", r"unknown key\(s\) \['limit'\]"),
        ("limits = [", "cannot read the limits file|not valid TOML"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_limits_file(path)
