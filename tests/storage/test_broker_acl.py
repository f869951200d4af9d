"""The compose stack's broker setup, run for real: deploy/mosquitto/entrypoint.sh writes the password file and ACL,
a private mosquitto starts with deploy/mosquitto/mosquitto.conf (paths and port moved to a temporary folder), and
the Debian mosquitto clients check who may publish and read what."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MOSQUITTO, ROOT, free_port, wait_until

DEPLOY = ROOT / "deploy"
PASSWORDS = {
    "MQTT_INGEST_PASSWORD": "ingest0123456789",
    "MQTT_SIM_PASSWORD": "simulator0123456789",
    "MQTT_DASHBOARD_PASSWORD": "dashboard0123456789",
    "MQTT_OPERATOR_PASSWORD": "operator0123456789",
}
ROOT_TOPIC = "acme/plant1"
MACHINE = f"{ROOT_TOPIC}/machining/line-1/cnc-01"

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None or not all(shutil.which(tool) for tool in ("mosquitto_pub", "mosquitto_sub", "mosquitto_passwd")),
    reason="needs mosquitto and mosquitto-clients (CI installs them: apt-get install mosquitto mosquitto-clients)",
)


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def pub(self, user: str, password: str, topic: str, message: str = "1", retain: bool = False) -> int:
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-u", user, "-P", password]
        args += ["-q", "1", "-t", topic, "-m", message, *(["-r"] if retain else [])]
        return subprocess.run(args, capture_output=True, timeout=10).returncode

    def sub(self, user: str, password: str, topic: str) -> subprocess.Popen[str]:
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-u", user, "-P", password]
        return subprocess.Popen([*args, "-q", "1", "-v", "-t", topic], stdout=subprocess.PIPE, text=True)


def generate(secrets: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PASSWORDS, "SECRETS_DIR": str(secrets), **extra}
    return subprocess.run(
        ["sh", str(DEPLOY / "mosquitto" / "entrypoint.sh"), "--generate-only"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    secrets, data = tmp_path / "secrets", tmp_path / "data"
    data.mkdir()
    assert generate(secrets).returncode == 0
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    port = free_port()
    conf = (
        conf.replace("/mosquitto/secrets", str(secrets))
        .replace("/mosquitto/data/", f"{data}/")
        .replace("listener 1883", f"listener {port} 127.0.0.1")
        .replace("listener 1884", f"listener {free_port()} 127.0.0.1")  # ingestion's (tests/ingest/test_takeover.py)
        .replace("/deploy/mosquitto/conf.d", str(DEPLOY / "mosquitto" / "conf.d"))
        .replace("log_dest stdout", f"log_dest file {data / 'mosquitto.log'}")
    )
    # `log_type subscribe` (test only) logs each subscription once it is in place, for the tests to poll
    (tmp_path / "mosquitto.conf").write_text(conf + f"\nlog_type subscribe\nuser {os.environ.get('USER') or 'root'}\n")
    assert MOSQUITTO is not None
    process = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
    yield Broker(port, process, data / "mosquitto.log")
    process.terminate()
    process.wait(10)
    if process.stderr:
        process.stderr.close()


def subscriptions(log: Path) -> list[str]:
    """`qos filter` of every subscription the broker has logged (log_type subscribe)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split()  # "<time>: <client id> <qos> <filter>"
        if len(parts) == 4 and parts[0].endswith(":") and parts[2].isdigit():
            found.append(f"{parts[2]} {parts[3]}")
    return found


def collect(listener: subprocess.Popen[str], until: str) -> list[str]:
    """Lines `topic payload` a subscriber received, up to and including the sentinel topic `until`."""
    lines: list[str] = []
    assert listener.stdout is not None
    for line in listener.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(until + " "):
            break
    listener.terminate()
    listener.wait(5)
    listener.stdout.close()
    return lines


def test_generated_files_hash_the_passwords_and_fill_in_the_names(tmp_path: Path) -> None:
    result = generate(tmp_path / "s", SIM_TOPIC_ROOT="lab/hall-2", MQTT_SIM_USER="hall2")
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "s" / "passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["ingest", "hall2", "dashboard", "operator"]
    assert not any(secret in passwd for secret in PASSWORDS.values())  # hashed, never the plain text
    acl = (tmp_path / "s" / "acl").read_text()
    assert "user hall2\ntopic write lab/hall-2/+/+/+/telemetry\n" in acl
    assert "@" not in acl  # every @PLACEHOLDER@ filled in
    assert oct((tmp_path / "s" / "passwd").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MQTT_SIM_PASSWORD", "change-me-simulator", "placeholder"),
        ("MQTT_SIM_PASSWORD", "", "is not set"),
        ("MQTT_DASHBOARD_PASSWORD", "short", "shorter than 12"),
        ("SIM_TOPIC_ROOT", "acme/#", "may hold only"),
    ],
)
def test_refuses_placeholder_secrets_and_bad_names(tmp_path: Path, variable: str, value: str, message: str) -> None:
    result = generate(tmp_path / "s", **{variable: value})
    assert result.returncode == 78
    assert message in result.stderr
    assert variable in result.stderr or value in result.stderr


def test_who_may_publish_and_read_what(broker: Broker) -> None:
    ingest = ("ingest", PASSWORDS["MQTT_INGEST_PASSWORD"])
    sim = ("simulator", PASSWORDS["MQTT_SIM_PASSWORD"])
    dash = ("dashboard", PASSWORDS["MQTT_DASHBOARD_PASSWORD"])
    operator = ("operator", PASSWORDS["MQTT_OPERATOR_PASSWORD"])

    assert broker.pub(ingest[0], "wrong-password", f"{MACHINE}/telemetry/t") != 0  # not authorised: refused
    assert broker.pub("nobody", "whatever-at-all", f"{MACHINE}/telemetry/t") != 0

    everything = broker.sub(*ingest, "#")
    dashboard_view = broker.sub(*dash, "#")
    sim_view = broker.sub(*sim, "#")
    # subscriptions in place: mosquitto has logged all three ("<client id> <qos> <filter>")
    assert wait_until(lambda: subscriptions(broker.log).count("1 #") == 3, timeout=30), broker.log.read_text()

    attempts = [
        (sim, f"{MACHINE}/telemetry/spindle_temp", True),
        (sim, f"{MACHINE}/telemetry", True),
        (sim, f"{MACHINE}/state", True),
        (sim, f"{MACHINE}/status", True),
        (sim, f"{MACHINE}/quality", True),
        (sim, f"{MACHINE}/event", True),
        (sim, "acme/plant2/machining/line-1/cnc-01/telemetry/spindle_temp", False),  # not its hierarchy
        (sim, f"{MACHINE}/cmd", False),
        (sim, f"{MACHINE}/alarm/spindle_temp", False),
        (sim, "_sf/health/fake", False),
        (dash, f"{MACHINE}/ack/spindle_temp", True),
        (dash, f"{MACHINE}/telemetry/spindle_temp", False),
        (dash, f"{MACHINE}/cmd", False),
        (ingest, "_sf/deadletter/bad_json", True),
        (ingest, "_sf/health/worker-1", True),
        (ingest, f"{MACHINE}/alarm/spindle_temp", True),
        (ingest, f"{MACHINE}/telemetry/spindle_temp", False),
        (ingest, f"{MACHINE}/ack/spindle_temp", False),
        (operator, f"{MACHINE}/cmd", True),
        (operator, f"{MACHINE}/telemetry/spindle_temp", False),
    ]
    for number, ((user, password), topic, _) in enumerate(attempts):
        assert broker.pub(user, password, topic, f"m{number}") == 0  # MQTT 3.1.1: a denied publish is dropped
    assert broker.pub(*ingest, "_sf/health/end", "end") == 0  # sentinel, visible to everyone who may read health

    seen = collect(everything, "_sf/health/end")
    expected = [f"{topic} m{n}" for n, (_, topic, allowed) in enumerate(attempts) if allowed]
    assert seen == [*expected, "_sf/health/end end"]

    # the dashboard reads health only; the simulator reads nothing but its own commands
    assert collect(dashboard_view, "_sf/health/end") == [line for line in seen if line.startswith("_sf/health/")]
    sim_view.terminate()
    sim_lines, _ = sim_view.communicate(timeout=5)
    assert sim_lines.splitlines() == [f"{MACHINE}/cmd m{attempts.index((operator, f'{MACHINE}/cmd', True))}"]


def test_an_oversize_packet_is_refused_before_it_is_read(broker: Broker, tmp_path: Path) -> None:
    """mosquitto's own limit is the protocol's 256 MiB; the compose config refuses packets over 1 MiB + 64 KiB:
    the sender is disconnected and nobody receives the message (issue 13: one 100 MB payload blinded ingestion)."""
    ingest = ("ingest", PASSWORDS["MQTT_INGEST_PASSWORD"])
    sim = ("simulator", PASSWORDS["MQTT_SIM_PASSWORD"])
    listener = broker.sub(*ingest, "#")
    assert wait_until(lambda: "1 #" in subscriptions(broker.log), timeout=10)
    big = tmp_path / "big.json"
    big.write_bytes(b'{"value": 1, "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}')
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-u", sim[0], "-P", sim[1], "-q", "1"]
    refused = subprocess.run([*args, "-t", f"{MACHINE}/telemetry/t", "-f", str(big)], capture_output=True, timeout=30)
    assert refused.returncode != 0  # disconnected: the broker never acknowledged it
    assert broker.pub(*sim, f"{MACHINE}/telemetry/t", '{"value": 2}') == 0  # an ordinary message still passes
    assert broker.pub(*ingest, "_sf/health/end", "end") == 0
    assert collect(listener, "_sf/health/end") == [f'{MACHINE}/telemetry/t {{"value": 2}}', "_sf/health/end end"]
