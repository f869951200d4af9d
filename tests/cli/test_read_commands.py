"""Commands that read tell the truth (issue 16): they create no store, measure windows in the store's own time
and say which span they used, refuse Parquet on a terminal, filter one series, and load no simulator code."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartfactory.model import PartResult, Reading, StateChange
from smartfactory.storage.sqlite import SqliteStorage
from tests.cli.conftest import run_cli

#: Monday 7 January 2030, 07:00 UTC: simulated time years ahead of the wall clock (a fast scenario, a backfill).
T = int(datetime(2030, 1, 7, 7, 0, tzinfo=UTC).timestamp() * 1000)
MIN = 60_000
MACHINE = "acme/plant1/machining/line-1/cnc-01"
TEMP = f"{MACHINE}/telemetry/spindle_temp"
POWER = f"{MACHINE}/telemetry/power"
OTHER_POWER = "acme/plant1/machining/line-1/cnc-02/telemetry/power"


def fill(path: Path) -> str:
    """Two hours of one running machine: a reading of each series and a part every minute, scrap at 07:30 and
    08:30 (cnc-01's ideal cycle time, 55 s, comes from the default plant file)."""
    url = f"sqlite:///{path}"
    store = SqliteStorage(url)
    minutes = range(121)  # 07:00 … 09:00
    store.write_readings([Reading(TEMP, T + m * MIN, 40.0 + m / 100, "°C") for m in minutes])
    store.write_readings([Reading(POWER, T + m * MIN, 5.0, "kW") for m in minutes])
    store.write_readings([Reading(OTHER_POWER, T + m * MIN, 6.0, "kW") for m in minutes])
    store.write_states([StateChange(MACHINE, T, "running")])
    store.write_parts([PartResult(MACHINE, T + m * MIN, f"p{m}", good=m not in (30, 90)) for m in range(1, 121)])
    store.close()
    return url


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return fill(tmp_path / "plant.db")


def machine_row(document: dict[str, object]) -> dict[str, object]:
    rows = document["rows"]
    assert isinstance(rows, list)
    return next(r for r in rows if r["level"] == "machine" and r["shift"] is None)


# ------------------------------------------------------------------------------------------ no store, no file


@pytest.mark.parametrize(
    "command",
    [("export",), ("oee",), ("report", "detection")],
    ids=["export", "oee", "report-detection"],
)
def test_a_read_command_on_a_missing_store_fails_and_creates_nothing(command: tuple[str, ...], tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "x.db"
    done = run_cli(*command, "--store", f"sqlite:///{missing}", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"no store at {missing}" in done.stderr
    assert "creates nothing" in done.stderr
    assert "exported" not in done.stderr
    assert not missing.parent.exists()
    # and with the default store (data/smartfactory.db under the working folder): nothing appears there either
    default = run_cli(*command, cwd=tmp_path)
    assert default.returncode == 1, default.stderr
    assert "no store at data/smartfactory.db" in default.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------ store time


def test_oee_needs_no_since_and_measures_relative_windows_from_the_newest_stored_data(store_url: str) -> None:
    whole = run_cli("oee", "--store", store_url, "--format", "json")
    assert whole.returncode == 0, whole.stderr
    document = json.loads(whole.stdout)
    assert document["window"]["since"] == "2030-01-07T07:00:00.000Z"
    assert document["window"]["until"] == "2030-01-07T09:00:00.001Z"
    assert document["window"]["now"] == "2030-01-07T09:00:00.000Z"
    row = machine_row(document)
    assert (row["total_count"], row["scrap_count"]) == (120, 2)

    last_hour = run_cli("oee", "--store", store_url, "--since", "1h", "--format", "json")
    assert last_hour.returncode == 0, last_hour.stderr
    row = machine_row(json.loads(last_hour.stdout))
    assert (row["total_count"], row["scrap_count"]) == (61, 1)  # the parts of 08:00 … 09:00; one scrap, at 08:30

    table = run_cli("oee", "--store", store_url, "--since", "1h")
    assert table.returncode == 0, table.stderr
    header = table.stdout.splitlines()[0]
    assert "2030-01-07T08:00:00.000Z … 2030-01-07T09:00:00.001Z" in header
    assert "now = newest stored data, 2030-01-07T09:00:00.000Z" in header


def test_export_windows_count_back_from_the_newest_stored_reading(store_url: str) -> None:
    done = run_cli("export", "--store", store_url, "--since", "30m", "--series", "cnc-01/telemetry/spindle_temp")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["ts"] for r in rows[:2]] == ["2030-01-07T08:30:00.000Z", "2030-01-07T08:31:00.000Z"]
    assert len(rows) == 31
    assert {r["topic"] for r in rows} == {TEMP}
    assert "exported 31 readings of 1 series" in done.stderr
    assert "window: 2030-01-07T08:30:00.000Z … 2030-01-07T09:00:00.001Z" in done.stderr

    until = run_cli("export", "--store", store_url, "--until", "2030-01-07T07:02Z", "--machine", "cnc-02")
    assert until.returncode == 0, until.stderr
    assert [line.split(",")[1] for line in until.stdout.splitlines()[1:]] == [
        "2030-01-07T07:00:00.000Z",
        "2030-01-07T07:01:00.000Z",
    ]


# ------------------------------------------------------------------------------------------ series, Parquet


def test_export_series_takes_an_id_or_a_unique_ending_like_spc_analyze(store_url: str) -> None:
    by_id = run_cli("export", "--store", store_url, "--series", POWER)
    assert by_id.returncode == 0, by_id.stderr
    assert {r["topic"] for r in csv.DictReader(io.StringIO(by_id.stdout))} == {POWER}
    two = run_cli("export", "--store", store_url, "--series", "spindle_temp", "--series", "cnc-02/telemetry/power")
    assert two.returncode == 0, two.stderr
    assert {r["topic"] for r in csv.DictReader(io.StringIO(two.stdout))} == {TEMP, OTHER_POWER}
    ambiguous = run_cli("export", "--store", store_url, "--series", "power")
    assert ambiguous.returncode == 1
    assert "fits 2 series" in ambiguous.stderr
    assert ambiguous.stdout == ""
    unknown = run_cli("export", "--store", store_url, "--series", "humidity")
    assert unknown.returncode == 1
    assert "no such series" in unknown.stderr
    both = run_cli("export", "--store", store_url, "--series", "power", "--machine", "cnc-01")
    assert both.returncode == 2
    assert "not both" in both.stderr


def test_parquet_to_a_terminal_is_refused_but_to_a_file_is_written(store_url: str, tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "smartfactory", "export", "--store", store_url, "--format", "parquet"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")},
        )
        os.set_blocking(leader, False)
        try:
            written = os.read(leader, 65536)
        except BlockingIOError:
            written = b""
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 2
    assert b"Parquet is binary" in done.stderr
    assert b"PAR1" not in written
    target = tmp_path / "out.parquet"
    to_file = run_cli("export", "--store", store_url, "--format", "parquet", "-o", str(target))
    assert to_file.returncode == 0, to_file.stderr
    assert target.read_bytes()[:4] == b"PAR1"


# ------------------------------------------------------------------------------------------ the house rule

PROBE = """
import sys
from smartfactory.cli import main
try:
    main(sys.argv[1:], prog_name="smartfactory")
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m == "smartfactory.sim" or m.startswith("smartfactory.sim."))
sys.stderr.write("SIM-MODULES=" + ",".join(loaded) + "\\n")
"""


def sim_modules(*args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, env=env)
    line = next(x for x in done.stderr.splitlines() if x.startswith("SIM-MODULES="))
    return [m for m in line.removeprefix("SIM-MODULES=").split(",") if m]


@pytest.mark.parametrize(
    "args",
    [
        ("oee",),
        ("report", "detection"),
        ("export",),
        ("config", "show"),
        ("status", "--wait", "0"),
        ("inject", "--help"),
    ],
    ids=lambda a: "-".join(a),
)
def test_reading_commands_load_no_simulator_code(args: tuple[str, ...], store_url: str) -> None:
    extra = ("--store", store_url) if args[0] in ("oee", "report", "export") else ()
    if args[0] == "status":
        extra = ("--mqtt-url", "mqtt://127.0.0.1:9")  # nothing listens: it fails, having imported what it needs
    assert sim_modules(*args, *extra) == []


def test_the_simulators_command_does_load_them() -> None:
    """The probe's control: `simulators list` is the producer's tool and reads the simulator files."""
    assert "smartfactory.sim.loader" in sim_modules("simulators", "list")
