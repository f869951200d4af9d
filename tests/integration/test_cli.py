"""The command line as a user runs it: real subprocesses, a real broker, a real SQLite file."""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner, Result

from smartfactory.cli import main
from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo, StatusPayload
from tests.conftest import HAVE_MOSQUITTO, ROOT, free_port, wait_until

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
    spindle = store.read_series(next(s.series for s in store.list_series() if s.sensor == "spindle_temp"))
    span_s = (spindle["ts"].max() - spindle["ts"].min()).total_seconds()
    assert span_s >= 29 * 60  # a plain demo starts with 30 simulated minutes of history: the first screen has a story
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


# ------------------------------------------------------------------------------------------ inject (issue 16)

PLANT = """
[plant]
enterprise = "{enterprise}"
site = "s"
[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "cnc_mill"
"""
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def retained_births(address: BrokerAddress, enterprise: str) -> dict[str, StatusPayload]:
    got: dict[str, StatusPayload] = {}

    def take(message: Message) -> None:
        if message.payload:
            got[message.topic] = StatusPayload.from_bytes(message.payload)

    client = MqttClient(address, on_message=take)
    client.subscribe(f"{enterprise}/+/+/+/+/status", qos=1)
    client.connect()
    wait_until(lambda: bool(got), timeout=2)
    client.close()
    return got


def inject(*args: str) -> Result:
    """`smartfactory inject` in-process, with a plant variable that names no file: the running plant must come
    from the broker, not from SMARTFACTORY_SIM__PLANT (the tutorial's student had it unset)."""
    return CliRunner().invoke(main, ["inject", *args], env={"SMARTFACTORY_SIM__PLANT": "no-such-plant"})


@pytest.fixture
def running_plant(broker: RunningBroker, tmp_path: Path, enterprise: str) -> Iterator[str]:
    """`smartfactory simulate` of a one-machine plant as a subprocess; yields the broker URL once it is born."""
    plant = tmp_path / "plant.toml"
    plant.write_text(PLANT.format(enterprise=enterprise), encoding="utf-8")
    url = broker.address.url(masked=False)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartfactory", "simulate", "--mqtt-url", url, "--plant", str(plant), "--speed", "1"],
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: bool(retained_births(broker.address, enterprise)), timeout=60), "no birth"
        yield url
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_inject_checks_against_the_running_plant_and_prints_what_the_simulator_applied(
    running_plant: str, broker: RunningBroker, enterprise: str
) -> None:
    url = running_plant
    (birth,) = retained_births(broker.address, enterprise).values()
    assert birth.info is not None
    faults = birth.info.faults
    assert {"shift", "spikes", "breakdown", "stop", "slowdown", "tool_wear"} <= set(faults)
    assert faults["spikes"].params["prob"].max == 1.0
    assert faults["tool_wear"].signals == ["diameter", "vibration_rms", "power"]
    assert faults["stop"].scope == "machine"

    misspelt = inject("--mqtt-url", url, "cnc-01", "shift", "--sensor", "power", "--param", "siz=5")
    assert misspelt.exit_code == 1
    assert "shift takes size, sigmas, not siz" in misspelt.output
    out_of_range = inject("--mqtt-url", url, "cnc-01", "spikes", "--sensor", "power", "--param", "prob=2")
    assert out_of_range.exit_code == 1
    assert "prob=2.0: out of range, allowed 0 … 1" in out_of_range.output
    no_sensor = inject("--mqtt-url", url, "line-1/cnc-01", "shift", "--sensor", "humidity")
    assert no_sensor.exit_code == 1
    assert "not on 'humidity'" in no_sensor.output
    no_machine = inject("--mqtt-url", url, "cnc-9", "shift")
    assert no_machine.exit_code == 1
    assert "'cnc-9' is not a machine of the running plant; it has: line-1/cnc-01" in no_machine.output
    unknown = inject("--mqtt-url", url, "cnc-01", "melt")
    assert unknown.exit_code == 1
    assert "knows no fault 'melt'" in unknown.output

    applied = inject("--mqtt-url", url, "cnc-01", "shift", "--sensor", "power", "--param", "size=3", "--timeout", "30")
    assert applied.exit_code == 0, applied.output
    assert re.fullmatch(
        rf"applied shift \(size=3\) to line-1/cnc-01 on sensor power at simulated {ISO}\n", applied.stdout
    ), applied.stdout

    # passes the catalogue, but the simulator refuses it: a size in units needs a sensor
    rejected = inject("--mqtt-url", url, "cnc-01", "shift", "--param", "size=3", "--timeout", "30")
    assert rejected.exit_code == 1
    assert "the simulator rejected shift on line-1/cnc-01: shift with a size in units needs --sensor" in rejected.output
    assert re.search(rf"simulated time {ISO}", rejected.output)

    cleared = inject("--mqtt-url", url, "cnc-01", "--clear", "--timeout", "30")
    assert cleared.exit_code == 0, cleared.output
    assert re.fullmatch(rf"repaired shift to line-1/cnc-01 at simulated {ISO}\n", cleared.stdout), cleared.stdout
    again = inject("--mqtt-url", url, "cnc-01", "--clear", "--timeout", "30")
    assert again.exit_code == 1
    assert "nothing to clear" in again.output


def test_inject_fails_when_no_simulator_runs_or_none_answers(broker: RunningBroker, enterprise: str) -> None:
    url = broker.address.url(masked=False)
    nobody = inject("--mqtt-url", url, "cnc-01", "shift", "--sensor", "power", "--param", "size=3")
    assert nobody.exit_code == 1
    assert "no simulator is running" in nobody.output
    # a birth left on the broker by a simulator that is gone without its last will: nothing will answer
    path = f"{enterprise}/s/machining/line-1/cnc-01"
    info = MachineInfo(machine_type="cnc_mill", signals={"power": SignalInfo(kind="process", unit="kW")})
    client = MqttClient(broker.address)
    client.connect()
    client.publish(f"{path}/status", StatusPayload(status="online", ts=1, info=info).to_bytes(), retain=True)
    assert client.wait_published(10)
    client.close()
    silent = inject("--mqtt-url", url, "cnc-01", "shift", "--sensor", "power", "--param", "size=3", "--timeout", "1")
    assert silent.exit_code == 1
    assert "no answer from the simulator of line-1/cnc-01 within 1 s" in silent.output


# ------------------------------------------------------------------------------------------ simulators list

BROKEN = "from smartfactory.sim import Machine\n\nclass Oops(Machine:\n    pass\n"


def test_simulators_list_prints_problems_first_and_fails_on_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "simulators"
    folder.mkdir()
    (folder / "filler.py").write_text((ROOT / "simulators" / "filler.py").read_text(encoding="utf-8"))
    (folder / "oops.py").write_text(BROKEN, encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    done = subprocess.run(
        [sys.executable, "-m", "smartfactory", "simulators", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order a terminal shows it
        text=True,
        timeout=120,
        env={**clean, "SMARTFACTORY_SIM__DIR": str(folder)},
    )
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith("problem: "), lines[:3]
    assert "oops.py" in lines[0]
    assert any(line.startswith("filler  (") for line in lines)  # the good file is still listed
    assert "1 simulator problem (listed first)" in lines[-1]


# ------------------------------------------------------------------------------------------ dashboard


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_dashboard_stops_its_streamlit_server_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    log = tmp_path / "dashboard.log"
    command = [sys.executable, "-m", "smartfactory", "dashboard", "--port", str(port), "--store",
               f"sqlite:///{tmp_path / 'x.db'}"]  # fmt: skip
    with log.open("wb") as stderr:
        proc = subprocess.Popen(command, env=clean, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            assert wait_until(lambda: port_open(port), timeout=90), log.read_text()
            children = psutil.Process(proc.pid).children(recursive=True)
            assert children, "streamlit runs as a child process"
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    left = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    for child in left:  # do not leave a server behind when the test fails
        child.kill()
    assert not [c.pid for c in left]
    assert proc.returncode == 0, log.read_text()
    assert not port_open(port)
