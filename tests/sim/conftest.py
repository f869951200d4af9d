"""Fixtures for the simulator tests: the shipped machine types and plant, and small plants built in code."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.plant import Plant, load_plant, parse_plant
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog, discover
from tests.conftest import ROOT

SIMULATORS = ROOT / "simulators"
#: Monday 5 January 2026, 08:00 UTC.
T0 = 1_767_600_000_000
MIN = 60_000
HOUR = 3_600_000


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    found = discover(SIMULATORS)
    assert not found.problems, found.problems
    return found


@pytest.fixture(scope="session")
def default_plant() -> Plant:
    return load_plant(SIMULATORS / "plants" / "default.toml")


def one_machine_plant(type_name: str, extra: str = "", *, line: str = "line-1") -> Plant:
    """A plant with one machine `m1` of `type_name` (and `extra` TOML appended to its entry)."""
    text = textwrap.dedent(
        f"""
        [plant]
        enterprise = "test"
        site = "s"
        [[machines]]
        area = "a"
        line = "{line}"
        name = "m1"
        type = "{type_name}"
        """
    )
    return parse_plant(text + textwrap.dedent(extra), "test-plant")


MakeSim = Callable[..., Simulation]


@pytest.fixture
def make_sim(catalog: Catalog, default_plant: Plant) -> MakeSim:
    def make(plant: Plant | None = None, *, seed: int = 1, start_ms: int = T0, **kwargs: object) -> Simulation:
        return Simulation(plant or default_plant, catalog, seed=seed, start_ms=start_ms, **kwargs)  # type: ignore[arg-type]

    return make


def write_simulator(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path
