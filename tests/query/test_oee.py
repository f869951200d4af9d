"""The one OEE read path (`query.oee`): line ids, where ideal cycle times come from, what happens without one.

Expected figures are worked out here by hand: machines run the whole window unless stated, so OEE is
good parts × ideal cycle time / planned time (Nakajima; docs/oee.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.errors import ConfigError
from smartfactory.model import PartResult, StateChange
from smartfactory.query import NoIdealCycleError, NoStatesError, oee_from_store, oee_inputs, select_machines
from smartfactory.query.oee import resolve_lines
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo

HOUR = 3_600_000
CNC = "acme/plant1/machining/line-1/cnc-01"
PRESS = "acme/plant1/pressing/line-1/press-01"  # another area's line-1
LATHE = "acme/plant1/machining/line-2/lathe-01"
PLANT = """
[plant]
name = "Two areas"
enterprise = "acme"
site = "plant1"

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "cnc_mill"
ideal_cycle_s = 60

[[machines]]
area = "pressing"
line = "line-1"
name = "press-01"
type = "cnc_mill"
"""


@pytest.fixture
def sim_dir(tmp_path: Path) -> Path:
    (tmp_path / "plants").mkdir()
    (tmp_path / "plants" / "two.toml").write_text(PLANT)
    return tmp_path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStorage]:
    """One hour, every machine running throughout: cnc-01 30 parts, press-01 60, lathe-01 10 (1 scrap)."""
    db = SqliteStorage(f"sqlite:///{tmp_path / 'oee.db'}")
    db.write_states([StateChange(m, 0, "running") for m in (CNC, PRESS, LATHE)])
    db.write_parts([PartResult(CNC, i * 120_000, f"c{i}", True) for i in range(30)])
    db.write_parts([PartResult(PRESS, i * 60_000, f"p{i}", True) for i in range(60)])
    db.write_parts([PartResult(LATHE, i * 360_000, f"l{i}", i != 3) for i in range(10)])
    yield db
    db.close()


def rows(result_rows: list[dict[str, object]]) -> dict[tuple[object, object], dict[str, object]]:
    return {(r["level"], r["name"]): r for r in result_rows if r["shift"] is None}


def test_lines_are_area_slash_line_and_births_give_ideal_cycles(store: SqliteStorage, sim_dir: Path) -> None:
    # press-01 and lathe-01 announced their ideal cycle in their births; cnc-01 announced 50 s, the plant 60 s
    store.write_machine_info(PRESS, 0, MachineInfo(machine_type="press", ideal_cycle_s=30.0))
    store.write_machine_info(LATHE, 0, MachineInfo(machine_type="lathe", ideal_cycle_s=300.0))
    store.write_machine_info(CNC, 0, MachineInfo(machine_type="cnc_mill", ideal_cycle_s=50.0))
    inputs = oee_inputs(store, sim_dir, "two")
    assert dict(inputs.ideal_cycle_s) == {CNC: 50.0, PRESS: 30.0, LATHE: 300.0}  # the birth wins
    result = oee_from_store(store, 0, HOUR, inputs)
    assert result.excluded == ()
    by = rows(result.report.to_dicts())
    lines = {name for level, name in by if level == "line"}
    assert lines == {"machining/line-1", "machining/line-2", "pressing/line-1"}
    assert by[("machine", CNC)]["oee"] == pytest.approx(30 * 50 / 3600)
    assert by[("line", "pressing/line-1")]["oee"] == pytest.approx(60 * 30 / 3600)  # press-01 alone
    assert by[("line", "machining/line-1")]["oee"] == pytest.approx(30 * 50 / 3600)  # not merged with press-01
    assert by[("plant", "Two areas")]["total_count"] == 100


def test_a_machine_without_ideal_cycle_time_is_left_out_and_named(store: SqliteStorage, sim_dir: Path) -> None:
    # no births: the plant file knows cnc-01's 60 s only; press-01 is listed without one, lathe-01 not at all
    inputs = oee_inputs(store, sim_dir, "two")
    result = oee_from_store(store, 0, HOUR, inputs)
    assert result.excluded == (LATHE, PRESS)
    by = rows(result.report.to_dicts())
    assert {name for level, name in by if level == "machine"} == {CNC}
    assert by[("plant", "Two areas")]["oee"] == pytest.approx(30 * 60 / 3600)  # cnc-01 only: nothing guessed
    with pytest.raises(NoIdealCycleError, match=r"press-01.*ideal_cycle_s"):
        oee_from_store(store, 0, HOUR, inputs, machines=["press-01"])


def test_line_filter_takes_line_ids_and_unambiguous_names(store: SqliteStorage, sim_dir: Path) -> None:
    machines = [CNC, PRESS, LATHE]
    assert select_machines(machines, lines=["machining/line-1"]) == [CNC]
    assert select_machines(machines, lines=["line-2"]) == [LATHE]  # only machining has a line-2
    with pytest.raises(ConfigError, match=r"line 'line-1' is in several areas \(machining/line-1, pressing/line-1\)"):
        resolve_lines(["line-1"], machines)
    assert select_machines(machines, refs=["line-1/press-01"]) == [PRESS]
    inputs = oee_inputs(store, sim_dir, "two")
    with pytest.raises(NoStatesError, match="stored machines"):
        oee_from_store(store, 0, HOUR, inputs, lines=["nowhere/line-9"])


def test_an_unreadable_plant_file_is_an_error_for_the_cli(store: SqliteStorage, sim_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no plant 'missing'"):
        oee_inputs(store, sim_dir, "missing")
