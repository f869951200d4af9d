"""docs/simulator-tutorial.md works as written: its code goes into a fresh simulators folder and runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.ingest.decode import Decoder
from smartfactory.model import DeadLetter
from smartfactory.plant import load_plant
from smartfactory.sim.encode import Encoder
from smartfactory.sim.engine import Action, Simulation
from smartfactory.sim.loader import discover
from smartfactory.sim.records import EventRec, PartRec
from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import ROOT
from tests.sim.conftest import SIMULATORS, T0

TUTORIAL = (ROOT / "docs" / "simulator-tutorial.md").read_text()
BLOCK = re.compile(r"```(python|toml)\n(.*?)```", re.DOTALL)


def blocks(prefix: str) -> list[tuple[str, str]]:
    """(target file, code) of every code block whose first line is `# {prefix}FILE`, in order."""
    found = []
    for _, code in BLOCK.findall(TUTORIAL):
        first = code.splitlines()[0]
        if first.startswith(f"# {prefix}"):
            found.append((first.removeprefix(f"# {prefix}").strip(), code))
    return found


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A simulators folder as a student's checkout has it: the built-in types and the default plant."""
    sims = tmp_path / "simulators"
    (sims / "plants").mkdir(parents=True)
    for path in SIMULATORS.glob("*.py"):
        shutil.copy(path, sims / path.name)
    shutil.copy(SIMULATORS / "plants" / "default.toml", sims / "plants" / "my_plant.toml")  # step 2's cp
    return sims


def test_the_tutorial_code_runs_and_its_sensor_reaches_the_store(folder: Path, tmp_path: Path) -> None:
    machine_files = blocks("simulators/")
    plant_additions = blocks("append to simulators/")
    assert len(machine_files) == 2
    assert len(plant_additions) == 1
    for target, code in plant_additions:
        with (folder.parent / "simulators" / target.removeprefix("simulators/")).open("a") as plant_file:
            plant_file.write("\n" + code)
    plant = load_plant(folder / "plants" / "my_plant.toml")
    for target, code in machine_files:  # each version of the file, as the student writes it
        (folder / target).write_text(code)
        catalog = discover(folder)
        assert catalog.problems == []
        assert "heat_sealer" in catalog.types
        sim = Simulation(plant, catalog, seed=1, start_ms=T0)
        sealer = sim.find("sealer-01")
        sim.at(T0 + 600_000, Action(sealer, "inject", "shift", "jaw_temp", {"size": 5.0}))
        records = sim.advance(T0 + 1_800_000)
        parts = [r for r in records if isinstance(r, PartRec) and r.machine == sealer]
        assert len(parts) > 500
        assert all("seal_strength" in p.measurements for p in parts)
    # the final version's own fault, injected as the tutorial says
    name, fault = re.search(r"smartfactory inject (\S+) (\w+)\n", TUTORIAL).groups()  # type: ignore[union-attr]
    sim.at(T0 + 1_900_000, Action(sim.find(name), "inject", fault))
    events = [r for r in sim.advance(T0 + 2_000_000) if isinstance(r, EventRec)]
    assert [(e.fault, e.ts) for e in events] == [("worn_jaw", T0 + 1_900_000)]
    # the path to the dashboard: wire messages → ingestion's decoder → the store the dashboard reads
    store = SqliteStorage(f"sqlite:///{tmp_path / 'tutorial.db'}")
    decoder = Decoder(max_future_s=1e9, max_age_s=1e9)
    encoder = Encoder(sim.machines)
    for message in encoder.encode(records) + encoder.flush():
        decoded = decoder.decode(message.topic, message.payload, T0)
        assert not isinstance(decoded, DeadLetter)
        store.write_readings(decoded.readings)
    sealer_series = {s.sensor for s in store.list_series() if s.machine == "sealer-01"}
    store.close()
    assert sealer_series == {"jaw_temp", "jaw_pressure", "seal_strength"}


def test_simulators_list_shows_the_students_machine(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, code = blocks("simulators/")[-1]
    (folder / target).write_text(code)
    monkeypatch.setenv("SMARTFACTORY_SIM__DIR", str(folder))
    result = CliRunner().invoke(main, ["simulators", "list"])
    assert result.exit_code == 0, result.output
    assert f"heat_sealer  ({folder / 'heat_sealer.py'})" in result.output
    assert "sensors every 1 s: jaw_temp [°C], jaw_pressure [bar]" in result.output
    assert "seal_strength [N/15mm] 25.." in result.output
    assert "own faults: worn_jaw" in result.output
