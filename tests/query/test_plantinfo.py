"""Plant facts for readers (`query.plantinfo`): from the births in the store and the plant file, not from running
the simulator's files."""

from __future__ import annotations

from pathlib import Path

from smartfactory.query import SpecLimits, plant_info
from smartfactory.settings import load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo

CNC = "acme/plant1/machining/line-1/cnc-01"


def test_facts_from_the_births_and_settings_from_the_plant_file(tmp_path: Path) -> None:
    settings = load_settings()
    store = SqliteStorage(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        empty = plant_info(store, settings.sim.dir, "default")
        assert empty.name == "Acme demo plant"
        assert empty.calendar is not None
        assert empty.oee.small_stop_s == 300
        assert empty.ideal_cycle_s[CNC] == 55.0  # the shipped plant file sets it explicitly
        assert any("no machine has announced" in p for p in empty.problems)
        assert empty.spec_for_series(f"{CNC}/telemetry/spindle_temp") == SpecLimits()
        info = MachineInfo(
            machine_type="cnc_mill",
            ideal_cycle_s=52.5,
            signals={
                "spindle_temp": SignalInfo(kind="process", unit="°C", lsl=30.0, usl=50.0),
                "diameter": SignalInfo(kind="quality", unit="mm", target=25.0, lsl=24.95, usl=25.05),
            },
        )
        store.write_machine_info(CNC, 1000, info)
        known = plant_info(store, settings.sim.dir, "default")
        assert not known.problems
        assert known.ideal_cycle_s[CNC] == 52.5  # announced by the machine: it wins over the plant file
        assert known.spec_for_series(f"{CNC}/telemetry/spindle_temp") == SpecLimits(30.0, 50.0, None)
        assert known.spec_for_part(CNC, "diameter") == SpecLimits(24.95, 25.05, 25.0)
        assert not known.spec_for_part(CNC, "nothing").known
    finally:
        store.close()


def test_a_broken_plant_file_is_a_problem_not_an_error(tmp_path: Path) -> None:
    sims = tmp_path / "sims"
    (sims / "plants").mkdir(parents=True)
    (sims / "plants" / "default.toml").write_text("this is not toml [")
    store = SqliteStorage(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        store.write_machine_info(CNC, 0, MachineInfo(machine_type="cnc_mill", ideal_cycle_s=40.0))
        info = plant_info(store, sims, "default")
    finally:
        store.close()
    assert info.settings is None
    assert any("plant file not readable" in p for p in info.problems)
    assert (info.name, info.calendar, info.ideal_cycle_s) == ("plant", None, {CNC: 40.0})  # the store still serves
