"""The command line as a user runs it: real subprocesses, a real broker, a real SQLite file."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import HAVE_MOSQUITTO, free_port

pytestmark = pytest.mark.integration


def smartfactory(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartfactory", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_demo_runs_headless_stores_readings_and_exits_zero(tmp_path: Path) -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there: the demo must start its own broker
    result = smartfactory("demo", "--duration", "6", "--no-dashboard", "--data-dir", str(tmp_path), "--mqtt-url", url)
    assert result.returncode == 0, result.stderr
    expected_broker = "private mosquitto" if HAVE_MOSQUITTO else "in-process amqtt"
    assert expected_broker in result.stderr
    assert "[ingest]" in result.stderr
    assert "[simulator]" in result.stderr
    stored = int(re.search(r"stored (\d+) readings", result.stderr).group(1))  # type: ignore[union-attr]
    store = SqliteStorage(f"sqlite:///{tmp_path / 'smartfactory.db'}")
    assert store.count_readings() == stored > 50  # 4 machines, ~4.5 messages/s, several sensors each
    assert {s.machine for s in store.list_series()} == {"cnc-01", "cnc-02", "imm-01", "filler-01"}
    store.close()
    if HAVE_MOSQUITTO:
        assert (tmp_path / "mosquitto" / "mosquitto.conf").is_file()

    exported = smartfactory("export", "--store", f"sqlite:///{tmp_path / 'smartfactory.db'}")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == stored
    assert list(rows[0]) == ["topic", "ts", "value", "unit"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rows[0]["ts"])
    float(rows[0]["value"])


def test_export_filters_and_dead_letters(tmp_path: Path) -> None:
    from smartfactory.model import DeadLetter, Reading

    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = SqliteStorage(url)
    store.write_readings([Reading("a/b/c/d/m1/telemetry/t", 1_795_341_600_000 + i, float(i), "K") for i in range(5)])
    store.write_readings([Reading("a/b/c/d/m2/telemetry/t", 1_795_341_600_000, 9.0)])
    store.write_deadletters([DeadLetter(1_795_341_600_000, "x/y", "bad_json", "not valid JSON", b"{", 1)])
    store.close()
    only_m1 = smartfactory("export", "--store", url, "--machine", "m1", "--since", "2026-11-22T10:00:00.002Z")
    assert only_m1.returncode == 0, only_m1.stderr
    lines = only_m1.stdout.strip().splitlines()
    assert lines[0] == "topic,ts,value,unit"
    assert lines[1:] == [f"a/b/c/d/m1/telemetry/t,2026-11-22T10:00:00.00{i}Z,{float(i)!r},K" for i in (2, 3, 4)]
    letters = smartfactory("export", "--store", url, "--deadletter")
    assert "bad_json" in letters.stdout
    assert "x/y" in letters.stdout


def test_errors_say_what_to_do() -> None:
    result = smartfactory("simulate", "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}", timeout=30)
    assert result.returncode == 1
    assert "cannot reach the MQTT broker" in result.stderr
    assert "smartfactory demo" in result.stderr
    assert "Traceback" not in result.stderr
    bad = smartfactory("export", "--store", "postgres://x")
    assert "sqlite:///path/to/file.db" in bad.stderr
    env_typo = smartfactory("config", "show", env={"SMARTFACTORY_STOR": "oops"})
    assert env_typo.returncode != 0
    assert "stor" in env_typo.stderr.lower()


def test_simulators_list_and_config_show() -> None:
    listed = smartfactory("simulators", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ("cnc_mill", "injection_moulder", "filler"):
        assert name in listed.stdout
    assert "_template" not in listed.stdout
    shown = smartfactory("config", "show", env={"SMARTFACTORY_MQTT_URL": "mqtt://bob:secret@127.0.0.1:1883"})
    assert shown.returncode == 0, shown.stderr
    assert "secret" not in shown.stdout
    assert "bob:***@" in shown.stdout
