"""Real-browser fixtures: `smartfactory demo` on free ports in a temporary folder, and Debian's chromium.

CI installs `chromium` (Debian) and `playwright` (PyPI); `playwright install` is not needed because the system
chromium is launched directly. Screenshots go to `artifacts/browser/` at the repository root (gitignored): one per
page on success; on any outcome `last.png` (the page as the test left it, `failure.png` when it failed) and the
demo's log, saved in the fixtures' teardown so a failed or timed-out run still leaves evidence.

Every wait polls for a condition with a generous deadline (`BROWSER_TIMEOUT_S`, 120 s): on 2 shared cores
with other test processes running, a first page load or an SPC alarm can take many times longer than alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts" / "browser"
#: one deadline for every wait (seconds): alone each step takes a few seconds; this tolerates a heavily loaded machine
BROWSER_TIMEOUT_S = 120.0
#: the outcome of each phase of the running test, for the fixtures' teardown (pytest's documented recipe)
PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def failed(request: pytest.FixtureRequest) -> bool:
    """True when the setup or the body of the requesting test failed (read in a fixture's teardown)."""
    reports = request.node.stash.get(PHASE_REPORTS, {})
    return any(report.failed for report in reports.values())


@dataclass(frozen=True)
class Demo:
    url: str
    mqtt_url: str
    data_dir: Path
    log: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "smartfactory.db"


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open together, so no port is handed out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"smartfactory demo exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the dashboard did not answer at {url} within {timeout:g} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def artifacts() -> Path:
    """`artifacts/browser/`, emptied of an earlier run's files so what it holds belongs to this run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
        old.unlink()
    return ARTIFACTS


@pytest.fixture
def demo(tmp_path: Path, artifacts: Path) -> Iterator[Demo]:
    """`smartfactory demo --scenario sudden-shift` at 20× speed: a 3σ shift of filler-01's fill weight at 2 min."""
    port, mqtt_port = free_ports(2)
    mqtt_url = f"mqtt://127.0.0.1:{mqtt_port}"
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    command = [
        sys.executable, "-m", "smartfactory", "demo", "--scenario", "sudden-shift", "--speed", "20",
        "--mqtt-url", mqtt_url, "--port", str(port), "--data-dir", str(tmp_path / "data"),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/_stcore/health", BROWSER_TIMEOUT_S, proc, log)
        yield Demo(f"http://127.0.0.1:{port}", mqtt_url, tmp_path / "data", log)
    finally:
        proc.send_signal(signal.SIGINT)  # demo stops every part it started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this fixture started
            proc.wait()
        if log.exists():
            shutil.copyfile(log, artifacts / "demo.log")


@pytest.fixture
def browser_page(request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """A Chromium page; its teardown saves `last.png` (or `failure.png`) whatever the test's outcome."""
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (no browser download needed)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # a tall viewport: Streamlit scrolls an inner container, so full_page screenshots stop at the viewport
        page = browser.new_page(viewport={"width": 1440, "height": 2400})
        page.set_default_timeout(BROWSER_TIMEOUT_S * 1000)
        try:
            yield page
        finally:
            name = "failure.png" if failed(request) else "last.png"
            try:
                page.screenshot(path=str(artifacts / name), timeout=30_000)
            except Exception as exc:  # evidence is best effort: the test's own error is the one to read
                (artifacts / "screenshot-error.log").write_text(f"{name}: {exc!r}\n")
            browser.close()
