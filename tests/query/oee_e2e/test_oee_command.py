"""`smartfactory oee` over a hand-seeded SQLite store: the JSON against arithmetic written here, the filters,
the table and the errors.

The plant (written below): one shift 06:00–14:00 with a break 10:00–10:30, so 450 planned minutes a machine
unless it runs through the break. Window: Monday 2025-03-03 06:00–14:00 UTC.

cnc-01 (line-1, ideal 60 s): running since 05:50 (before the window), breakdown 07:00–07:30, a 2-minute jam
09:00–09:02 (a small stop), planned break 10:00–10:30, changeover 12:00–12:20, running to the end.
  run = 60 + 90 + 58 + 90 + 100 = 398 min; stops 30 + 2 + 20 = 52 min; 398 + 52 = 450.
  parts 50 + 80 + 50 + 80 + 90 = 350; 2 scrap right after the breakdown (start-up), 8 later (production).
cnc-02 (line-1, ideal 30 s): running from 06:00 with the planned break; 700 good parts in 450 min.
press-01 (line-2, ideal 30 s): runs through the break (480 min planned) making 1000 parts: faster than ideal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smartfactory.model import PartResult, StateChange
from smartfactory.wire import ms_from_datetime
from tests.query.oee_e2e.conftest import RunOee, invoke, write_store

PLANT = """
[plant]
name = "Test plant"
enterprise = "acme"
site = "plant1"

[calendar]
timezone = "UTC"
[[calendar.shifts]]
name = "early"
start = "06:00"
end = "14:00"
breaks = [{ start = "10:00", end = "10:30", name = "lunch" }]

[oee]
small_stop_s = 300
startup_window_s = 600

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "cnc_mill"
ideal_cycle_s = 60

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-02"
type = "cnc_mill"
ideal_cycle_s = 30

[[machines]]
area = "pressing"
line = "line-2"
name = "press-01"
type = "cnc_mill"
ideal_cycle_s = 30
"""

M1 = "acme/plant1/machining/line-1/cnc-01"
M2 = "acme/plant1/machining/line-1/cnc-02"
M3 = "acme/plant1/pressing/line-2/press-01"
SINCE, UNTIL = "2025-03-03T06:00Z", "2025-03-03T14:00Z"


def at(hhmm: str) -> int:
    from datetime import datetime

    return ms_from_datetime(datetime.fromisoformat(f"2025-03-03T{hhmm}:00+00:00"))


def spread(machine: str, start: str, end: str, n: int, first_id: int) -> list[PartResult]:
    """`n` good parts evenly spread over [start, end)."""
    a, b = at(start), at(end)
    return [PartResult(machine, a + round((k + 0.5) * (b - a) / n), f"p{first_id + k}", True) for k in range(n)]


def scrap(parts: list[PartResult]) -> list[PartResult]:
    return [PartResult(p.machine, p.ts_ms, p.part_id, False) for p in parts]


@pytest.fixture
def plant_file(tmp_path: Path) -> Path:
    path = tmp_path / "test_plant.toml"
    path.write_text(PLANT)
    return path


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hand.db'}"
    states = [
        StateChange(M1, at("05:50"), "running"),
        StateChange(M1, at("07:00"), "down", "breakdown"),
        StateChange(M1, at("07:30"), "running"),
        StateChange(M1, at("09:00"), "down", "jam"),
        StateChange(M1, at("09:02"), "running"),
        StateChange(M1, at("10:00"), "planned", "break"),
        StateChange(M1, at("10:30"), "running"),
        StateChange(M1, at("12:00"), "setup", "changeover"),
        StateChange(M1, at("12:20"), "running"),
        StateChange(M1, at("14:00") + 60_000, "idle"),  # after the window: must not count
        StateChange(M2, at("06:00"), "running"),
        StateChange(M2, at("10:00"), "planned", "break"),
        StateChange(M2, at("10:30"), "running"),
        StateChange(M3, at("06:00"), "running"),
    ]
    seg2 = spread(M1, "07:30", "09:00", 80, 100)
    seg4 = spread(M1, "10:30", "12:00", 80, 300)
    parts = [
        *spread(M1, "06:00", "07:00", 50, 0),
        *scrap(seg2[:2]),  # 07:30:34 and 07:31:41: within 10 min of the restart → start-up rejects
        *seg2[2:],
        *spread(M1, "09:02", "10:00", 50, 200),
        *seg4[:-8],
        *scrap(seg4[-8:]),  # around 11:55: production rejects
        *spread(M1, "12:20", "14:00", 90, 400),
        PartResult(M1, at("14:00"), "late", True),  # at `until`: outside the half-open window
        *spread(M2, "06:00", "10:00", 373, 0),
        *spread(M2, "10:30", "14:00", 327, 1000),
        *spread(M3, "06:00", "14:00", 1000, 0),
    ]
    write_store(url, states, parts)
    return url


def rows_by_key(document: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    return {(r["level"], r["name"], r["shift"]): r for r in document["rows"]}


def test_json_matches_hand_arithmetic(run_oee: RunOee, store_url: str, plant_file: Path) -> None:
    doc = run_oee("--store", store_url, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL)
    assert doc["plant"] == "Test plant"
    assert doc["until_ms"] - doc["since_ms"] == 8 * 3_600_000
    rows = rows_by_key(doc)

    m1 = rows[("machine", M1, None)]
    assert m1["planned_production_s"] == 450 * 60
    assert m1["planned_downtime_s"] == 30 * 60
    assert m1["run_s"] == 398 * 60
    assert m1["availability"] == pytest.approx(398 / 450)
    assert m1["performance"] == pytest.approx(350 * 60 / (398 * 60))
    assert m1["quality"] == pytest.approx(340 / 350)
    assert m1["oee"] == pytest.approx(340 * 60 / (450 * 60))
    assert (m1["total_count"], m1["good_count"], m1["startup_scrap_count"]) == (350, 340, 2)
    losses = m1["losses"]
    assert losses["breakdowns"] == 30 * 60
    assert losses["small_stops"] == 2 * 60
    assert losses["setup_adjustments"] == 20 * 60
    assert losses["startup_rejects"] == pytest.approx(2 * 60)
    assert losses["production_rejects"] == pytest.approx(8 * 60)
    assert losses["reduced_speed"] == pytest.approx(398 * 60 - 350 * 60)
    assert (m1["failures"], m1["mtbf_s"], m1["mttr_s"]) == (1, 398 * 60, 30 * 60)

    m2 = rows[("machine", M2, None)]
    assert m2["availability"] == 1.0
    assert m2["performance"] == pytest.approx(700 * 30 / (450 * 60))
    assert m2["quality"] == 1.0
    assert (m2["failures"], m2["mtbf_s"]) == (0, None)

    m3 = rows[("machine", M3, None)]
    assert m3["planned_production_s"] == 480 * 60  # ran through the break: that time counts as planned
    assert m3["performance_raw"] == pytest.approx(1000 * 30 / (480 * 60))
    assert m3["performance_capped"] is True
    assert m3["performance"] == 1.0
    assert m3["oee"] == 1.0

    assert {name for level, name, _ in rows if level == "line"} == {"machining/line-1", "pressing/line-2"}
    line1 = rows[("line", "machining/line-1", None)]
    assert line1["availability"] == pytest.approx((398 + 450) / (450 + 450))
    assert line1["performance"] == pytest.approx((350 * 60 + 700 * 30) / ((398 + 450) * 60))
    assert line1["quality"] == pytest.approx((340 * 60 + 700 * 30) / (350 * 60 + 700 * 30))
    assert line1["oee"] == pytest.approx((340 * 60 + 700 * 30) / (900 * 60))
    assert line1["total_count"] == 1050

    plant = rows[("plant", "Test plant", None)]
    assert plant["oee"] == pytest.approx((340 * 60 + 700 * 30 + 1000 * 30) / ((900 + 480) * 60))
    assert plant["failures"] == 1
    # the window is exactly the early shift: its rows repeat the whole-window rows
    assert rows[("plant", "Test plant", "early 2025-03-03")]["oee"] == plant["oee"]


def test_line_machine_and_shift_filters(run_oee: RunOee, store_url: str, plant_file: Path) -> None:
    base = ("--store", store_url, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL)
    line2 = run_oee(*base, "--line", "line-2")
    assert {r["name"] for r in line2["rows"] if r["level"] == "machine"} == {M3}
    assert {r["name"] for r in run_oee(*base, "--line", "machining/line-1")["rows"] if r["level"] == "machine"} == {
        M1,
        M2,
    }
    one = run_oee(*base, "--machine", "cnc-01")
    plant_row = next(r for r in one["rows"] if r["level"] == "plant" and r["shift"] is None)
    assert plant_row["oee"] == pytest.approx(340 / 450)  # the plant is just that machine now
    early = run_oee(*base, "--shift", "early")
    assert {r["shift"] for r in early["rows"]} == {"early 2025-03-03"}


def test_sub_window_uses_the_episode_before_it(run_oee: RunOee, store_url: str, plant_file: Path) -> None:
    """07:20–07:35 starts inside the breakdown: still a 30-minute breakdown (a failure), and the scrap at
    07:30:34 is a start-up reject because the restart at 07:30 follows a breakdown."""
    doc = run_oee(
        "--store", store_url, "--plant", str(plant_file), "--since", "2025-03-03T07:20Z", "--until", "2025-03-03T07:35Z"
    )
    m1 = rows_by_key(doc)[("machine", M1, None)]
    assert m1["losses"]["breakdowns"] == 10 * 60
    assert m1["run_s"] == 5 * 60
    assert m1["startup_scrap_count"] == 2
    assert m1["failures"] == 0  # it started before the window


def test_table_lists_rows_and_flags_capped_performance(store_url: str, plant_file: Path) -> None:
    code, out, _ = invoke("oee", "--store", store_url, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL)
    assert code == 0
    lines = out.splitlines()
    assert "A %" in lines[1]
    assert "OEE %" in lines[1]
    cnc01 = next(line for line in lines if "line-1/cnc-01" in line)
    assert f"{100 * 340 / 450:.1f}" in cnc01.split()  # OEE 75.6
    press = next(line for line in lines if "line-2/press-01" in line)
    assert "100.0*" in press.split()
    assert any("capped" in line for line in lines)
    assert not any("early 2025-03-03" in line for line in lines)
    code, out, _ = invoke(
        "oee", "--store", store_url, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL, "--by-shift"
    )
    assert code == 0
    assert sum("early 2025-03-03" in line for line in out.splitlines()) == 3 + 2 + 1


def test_no_states_in_window_says_what_to_do(store_url: str, plant_file: Path, tmp_path: Path) -> None:
    code, _, err = invoke(
        "oee", "--store", store_url, "--plant", str(plant_file), "--since", "2024-01-01", "--until", "2024-01-02"
    )
    assert code != 0
    assert "no machine states" in err
    assert "stored states run from 2025-03-03T05:50" in err
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    write_store(empty, [], [])
    code, _, err = invoke("oee", "--store", empty, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL)
    assert code != 0
    assert "smartfactory ingest" in err
    code, _, err = invoke(
        "oee", "--store", store_url, "--plant", str(plant_file), "--since", SINCE, "--until", UNTIL, "--line", "nope"
    )
    assert code != 0
    assert "stored machines" in err


def test_machines_without_an_ideal_cycle_time_are_left_out_and_named(store_url: str, tmp_path: Path) -> None:
    """No births in this store; the default plant sets ideal cycle times for cnc-01 and cnc-02 but knows no
    press-01: it is left out of every row and named, with what to do."""
    args = ("oee", "--store", store_url, "--plant", "default", "--since", SINCE, "--until", UNTIL)
    code, out, err = invoke(*args, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["excluded"] == [M3]
    assert {r["name"] for r in doc["rows"] if r["level"] == "machine"} == {M1, M2}
    assert {r["name"] for r in doc["rows"] if r["level"] == "line"} == {"machining/line-1"}
    assert M3 in err
    assert "ideal_cycle_s" in err
    assert "--plant" in err
    code, out, _ = invoke(*args)
    assert code == 0
    assert "left out (no ideal cycle time)" in out
    code, _, err = invoke(*args, "--machine", "press-01")
    assert code != 0  # nothing left to compute
    assert M3 in err
    assert "--plant" in err
