"""What commands print about the broker (issue 13): no MQTT password in an error or a banner, and a loud warning
when `smartfactory broker` starts an anonymous broker reachable from the network."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.edge.broker import AmqttThread, RunningBroker, exposure_warning, is_loopback
from smartfactory.errors import ConfigError
from smartfactory.settings import BrokerAddress, parse_mqtt_url
from tests.cli.conftest import run_cli
from tests.conftest import free_port

SECRET = "S3cr3tPass"


@pytest.mark.parametrize(
    "url",
    [
        f"mqtt://ingest:{SECRET}@mosquitto:18x3",  # the audit's example: a typo in the port
        f"mqtt://ingest:{SECRET}@mosquitto:99999",  # a port out of range
        f"http://ingest:{SECRET}@mosquitto:1883",  # not an MQTT scheme
        f"ingest:{SECRET}@mosquitto:1883",  # no scheme at all
        f"mqtt://ingest:{SECRET}@[::1:1883",  # an IPv6 host without its closing bracket
        f"mqtt://ingest:{SECRET}/x@mosquitto:18x3",  # a password with a character that needed quoting
    ],
)
def test_a_malformed_mqtt_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url(url)
    message = str(caught.value)
    assert SECRET not in message
    assert "ingest:***@" in message  # still says which URL it was


def test_a_malformed_mqtt_url_on_the_command_line_is_refused_without_its_password(tmp_path: Path) -> None:
    done = run_cli("config", "show", env={"SMARTFACTORY_MQTT_URL": f"mqtt://ingest:{SECRET}@mosquitto:18x3"},
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode != 0
    assert SECRET not in done.stdout + done.stderr
    assert "invalid port" in done.stdout + done.stderr


def test_the_ingest_and_simulate_banners_mask_the_password(private_broker: RunningBroker, tmp_path: Path) -> None:
    """The private broker is anonymous, so it takes any user name and password: the banners are the real ones."""
    url = f"mqtt://ingest:{SECRET}@127.0.0.1:{private_broker.address.port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env["SMARTFACTORY_DATA_DIR"] = str(tmp_path)
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        ingest = subprocess.Popen(
            [sys.executable, "-m", "smartfactory", "ingest", "--mqtt-url", url, "--store",
             f"sqlite:///{tmp_path / 'store.db'}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "ingesting" not in log.read_text(errors="replace") and time.monotonic() < deadline:
                assert ingest.poll() is None, log.read_text(errors="replace")
                time.sleep(0.1)
        finally:
            ingest.send_signal(signal.SIGTERM)
            ingest.wait(30)
    printed = log.read_text(errors="replace")
    assert "ingesting mqtt://ingest:***@127.0.0.1" in printed, printed
    assert SECRET not in printed

    done = run_cli("simulate", "--mqtt-url", url, "--count", "2", "--speed", "0", env={"SMARTFACTORY_DATA_DIR":
                   str(tmp_path)}, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "→ mqtt://ingest:***@127.0.0.1" in done.stderr
    assert SECRET not in done.stdout + done.stderr


# ------------------------------------------------------------------------------------------ exposed broker


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.20", False), ("lab-pc.local", False)],
)  # fmt: skip
def test_only_loopback_addresses_are_private(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    warning = exposure_warning(BrokerAddress(host, 1883))
    assert (warning is None) is loopback
    if warning is not None:
        assert "anonymous" in warning
        assert "anyone" in warning
        assert "docs/deployment.md" in warning  # how to run one with accounts instead


def test_an_anonymous_broker_beyond_loopback_says_so_and_one_with_accounts_does_not() -> None:
    exposed = BrokerAddress("0.0.0.0", 1883)
    assert "WARNING" in RunningBroker("mosquitto", exposed, anonymous=True).describe()
    assert "WARNING" in RunningBroker("amqtt", exposed, anonymous=True).describe()
    assert "WARNING" not in RunningBroker("mosquitto", exposed, anonymous=False).describe()  # accounts
    assert "WARNING" not in RunningBroker("existing", exposed).describe()  # not ours
    assert "WARNING" not in RunningBroker("mosquitto", BrokerAddress("127.0.0.1", 1883), anonymous=True).describe()


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_the_broker_command_warns_on_stderr_when_it_is_exposed(
    host: str, warned: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command's real path (`start_amqtt` and its RunningBroker) with nothing bound: the amqtt thread does not
    start, and the command does not wait for Ctrl-C."""
    for key in [k for k in os.environ if k.startswith("SMARTFACTORY_")]:
        monkeypatch.delenv(key)
    started: list[BrokerAddress] = []
    monkeypatch.setattr(AmqttThread, "start", lambda self, timeout=10.0: started.append(self.address))
    monkeypatch.setattr(AmqttThread, "stop", lambda self, timeout=5.0: self._loop.close())
    monkeypatch.setattr("smartfactory.cli.run.wait_for_stop", lambda duration: None)
    port = free_port()
    done = CliRunner().invoke(
        main, ["broker", "--kind", "amqtt", "--mqtt-url", f"mqtt://{host}:{port}", "--data-dir", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    assert started == [BrokerAddress(host, port)]
    assert ("WARNING" in done.stderr) is warned, done.stderr
    assert "WARNING" not in done.stdout
    if warned:
        assert f"anyone on the network who reaches port {port}" in done.stderr
