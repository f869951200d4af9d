"""Discovery of machine types: drop-in files, the template, broken files, duplicates, entry points."""

from __future__ import annotations

import shutil
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from smartfactory.errors import SimulatorError
from smartfactory.sim import loader
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import discover
from tests.sim.conftest import SIMULATORS, T0, one_machine_plant, write_simulator

GOOD = '''
"""A test kettle."""
from smartfactory.sim import Machine, Sensor


class Kettle(Machine):
    """An electric kettle."""

    sensors = {"water_temp": Sensor(unit="°C", nominal=95.0, sd=0.4, idle=20.0, tau_s=300)}
'''


def test_a_copied_template_is_a_working_machine_type(tmp_path: Path) -> None:
    shutil.copy(SIMULATORS / "_template.py", tmp_path / "my_machine.py")
    catalog = discover(tmp_path)
    assert catalog.problems == []
    assert list(catalog.types) == ["my_machine"]
    assert catalog.types["my_machine"].source == str(tmp_path / "my_machine.py")
    sim = Simulation(one_machine_plant("my_machine"), catalog, seed=1, start_ms=T0)
    assert sim.advance(T0 + 60_000)  # it runs and produces records


def test_files_starting_with_an_underscore_are_not_loaded() -> None:
    assert "my_machine" not in discover(SIMULATORS).types


def test_a_broken_file_is_reported_with_file_and_line_and_the_others_still_load(tmp_path: Path) -> None:
    write_simulator(tmp_path, "kettle.py", GOOD)
    write_simulator(tmp_path, "oops.py", "from smartfactory.sim import Machine\n\nx = 1\ny = 1 / 0\n")
    write_simulator(tmp_path, "syntax.py", "class Broken(:\n    pass\n")
    write_simulator(tmp_path, "nothing.py", "VALUE = 3\n")
    catalog = discover(tmp_path)
    assert list(catalog.types) == ["kettle"]
    problems = "\n".join(catalog.problems)
    assert f"{tmp_path / 'oops.py'}:4: ZeroDivisionError" in problems
    assert f"{tmp_path / 'syntax.py'}:1: SyntaxError" in problems
    assert "nothing.py: defines no Machine subclass" in problems
    assert "the other machines still run" in problems


def test_an_insane_declaration_is_skipped_with_the_line_of_the_class(tmp_path: Path) -> None:
    write_simulator(
        tmp_path,
        "gauge.py",
        """
        from smartfactory.sim import Characteristic, Machine, Sensor


        class Gauge(Machine):
            \"\"\"A gauge whose limits are the wrong way round.\"\"\"

            sensors = {"x": Sensor("mm", 1.0)}
            quality = {"d": Characteristic("mm", target=5.0, sd=0.1, lsl=5.2, usl=4.8)}
        """,
    )
    catalog = discover(tmp_path)
    assert catalog.types == {}
    assert (
        f"{tmp_path / 'gauge.py'}:5: machine type 'gauge' is skipped: characteristic 'd': LSL 5.2"
        in catalog.problems[0]
    )


def test_two_types_with_the_same_name_are_an_error_naming_both(tmp_path: Path) -> None:
    write_simulator(tmp_path, "a.py", GOOD)
    write_simulator(tmp_path, "b.py", GOOD)
    with pytest.raises(SimulatorError, match=r"'kettle' is defined twice: in .*a\.py and in .*b\.py"):
        discover(tmp_path)


def test_entry_points_load_through_the_same_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_simulator(tmp_path, "student_pkg_kettle.py", GOOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint("kettle", "student_pkg_kettle:Kettle", loader.ENTRY_POINT_GROUP),
        EntryPoint("missing", "student_pkg_nowhere:Thing", loader.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(loader, "entry_points", lambda group: points if group == loader.ENTRY_POINT_GROUP else [])
    catalog = discover(None)
    assert catalog.types["kettle"].source == "entry point kettle (student_pkg_kettle:Kettle)"
    assert "entry point missing" in catalog.problems[0]
    assert "ModuleNotFoundError" in catalog.problems[0]
