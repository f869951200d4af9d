"""Run the class broker: the real mosquitto with the configuration `classroom init` wrote."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from smartfactory.classroom.mosquitto import add_plant_accounts
from smartfactory.classroom.roster import Account, ClassDir
from smartfactory.edge.broker import mosquitto_binary
from smartfactory.errors import BrokerError


def _port_open(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((target, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class ClassBroker:
    """A mosquitto process we started; `stop()` ends it (SIGTERM: it saves its persistence file)."""

    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_class_broker(folder: ClassDir, timeout: float = 10.0, *, plants: Sequence[Account] = ()) -> ClassBroker:
    """Start mosquitto with `DIR/mosquitto/mosquitto.conf` (with `plants`, this run's plant accounts, added to its
    password file and ACL first); wait until both its ports answer."""
    binary = mosquitto_binary()
    if binary is None:
        raise BrokerError("classroom mode needs mosquitto 2: `sudo apt-get install mosquitto`")
    info = folder.info()
    for port, option in ((info.port, "--mqtt-port"), (info.session_port, "--session-port")):
        if port and _port_open(info.host, port):
            raise BrokerError(
                f"something already listens on port {port}: stop it, or run `classroom init` with another {option}"
            )
    if plants:
        add_plant_accounts(folder, plants)
    (folder.broker_dir / "data").mkdir(parents=True, exist_ok=True)
    stderr_path = folder.broker_dir / "mosquitto.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([binary, "-c", str(folder.broker_conf)], stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while not all(_port_open(info.host, port) for port in (info.port, info.session_port) if port):
        if process.poll() is not None:
            err = stderr_path.read_text(errors="replace").strip()
            raise BrokerError(f"mosquitto exited at start: {err or 'see ' + str(folder.broker_dir / 'mosquitto.log')}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise BrokerError(f"mosquitto did not open ports {info.port}, {info.session_port} within {timeout:.0f} s")
        time.sleep(0.05)
    return ClassBroker(process, info.host, info.port)


__all__ = ["ClassBroker", "start_class_broker"]
