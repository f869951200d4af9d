"""Every dashboard page in a real browser, as a lecture hall sees it (issue 16): screenshots of every page at
1280 × 720 and 1920 × 1080, normal and projector mode, light and dark (the overview in large-font mode too), and
a measurement in the page that no tile's text is cut off and that the toolbar is minimal.

The store is built in-process, deterministically: the shipped machine types (simulators/) on a plant with three
machines on one line run one simulated hour (`Simulation.advance`, seed 7) with a tool wear and a fill-weight
shift injected, and the live SPC monitor (`ingest.monitor.MonitorStage`) watches it and raises its alarms, as
ingestion would. One Streamlit server (started as `smartfactory demo` starts it), one Chromium page reused for
every view: each page is loaded once per mode; size and colour scheme change without a reload.

Large-font mode is a server option (`smartfactory dashboard --large-font` passes `--theme.baseFontSize 20`):
the overview's large-font views come from a second server started that way (setting the root font size in the
page instead is not the same: Streamlit also widens the sidebar by the same factor).

Screenshots: artifacts/browser/readability/{page}-{width}x{height}-{normal|projector|largefont}-{light|dark}.png
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smartfactory import services
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Alarm, FaultEvent, PartResult, Reading, StateChange
from smartfactory.plant import load_plant
from smartfactory.settings import Settings
from smartfactory.sim.engine import Action, Simulation
from smartfactory.sim.loader import discover
from smartfactory.sim.records import EventRec, PartRec, Sample, StateRec
from smartfactory.storage.sqlite import SqliteStorage
from tests.browser.conftest import ARTIFACTS, BROWSER_TIMEOUT_S, CHROMIUM, CHROMIUM_ARGS, free_ports
from tests.conftest import ROOT, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ARTIFACTS / "readability"
END_MS = 1_795_341_600_000  # 2026-11-22 07:20 UTC, inside the early shift: a fixed store, the same every run
HOUR_MS = 3_600_000
SIZES = ((1280, 720), (1920, 1080))
SCHEMES = ("light", "dark")
#: page → (path, a selector that is there once the page has drawn its content)
PAGES = {
    "overview": ("", "text=Line packaging/line-2"),
    "machine": ("machine", '[data-testid="stPlotlyChart"] .main-svg'),
    "spc": ("spc", '[data-testid="stPlotlyChart"] .main-svg'),
    "alarms": ("alarms", "text=Detection report"),
    "oee": ("oee", '[data-testid="stPlotlyChart"] .main-svg'),
    "data": ("data", "text=Download CSV"),
}
BUSY = '[data-testid="stSkeleton"], [data-testid="stStatusWidget"]'
#: the plant's third machine on line 2 (imm-01, filler-01, filler-02): three tiles on a line
PLANT = (ROOT / "simulators" / "plants" / "default.toml").read_text() + (
    '\n[[machines]]\narea = "packaging"\nline = "line-2"\nname = "filler-02"\ntype = "filler"\nideal_cycle_s = 1.0\n'
)

#: Every text box of a tile (and every metric and table on a page) whose content is wider than the box, or that
#: reaches past the tile it sits in. `scrollWidth > clientWidth` is what an ellipsis or a clipped value looks like.
OVERFLOWING = """() => {
  const boxes = document.querySelectorAll(['[data-testid="stMetricValue"]', '[data-testid="stMetricLabel"]',
    '[data-testid="stMetricDelta"]', '.sf-value', '.sf-label', '[data-testid="stTable"]'].join(', '));
  const out = [];
  for (const box of boxes) {
    for (const el of [box, ...box.querySelectorAll('*')]) {
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        out.push({text: box.textContent.trim(), scroll: el.scrollWidth, client: el.clientWidth});
        break;
      }
    }
    const tile = box.closest('[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stVerticalBlock"]');
    const r = box.getBoundingClientRect(), t = tile ? tile.getBoundingClientRect() : null;
    if (t && r.width > 0 && r.right > t.right + 1) {
      out.push({text: box.textContent.trim(), right: r.right, tile: t.right});
    }
  }
  return out;
}"""
#: Tiles on the overview and how many sit side by side on each line (tops within a pixel).
TILE_ROWS = """() => Array.from(document.querySelectorAll('[class*="st-key-sf_tiles_"]')).map(grid => {
  const tops = Array.from(grid.children).map(c => Math.round(c.getBoundingClientRect().top));
  const counts = {};
  tops.forEach(t => counts[t] = (counts[t] || 0) + 1);
  return Object.values(counts);
})"""
#: Each plotly chart is drawn and as wide as its container (it redraws itself after a resize).
CHARTS_FIT = """() => Array.from(document.querySelectorAll('[data-testid="stPlotlyChart"]')).every(c => {
  const svg = c.querySelector('.main-svg');
  return svg && Math.abs(svg.getBoundingClientRect().width - c.getBoundingClientRect().width) <= 2;
})"""
DARK_BACKGROUND = """() => {
  const [r, g, b] = getComputedStyle(document.querySelector('[data-testid="stApp"]')).backgroundColor
    .match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 < 0.3;
}"""
LARGE_FONT = ("--theme.baseFontSize", "20")  # what `smartfactory dashboard --large-font` passes to Streamlit


# ------------------------------------------------------------------------------------------ the store


def build_store(url: str, plant_file: Path) -> dict[str, int]:
    """One simulated hour of the plant, through the live monitor, into the store; returns what it wrote."""
    sim = Simulation(
        load_plant(plant_file), discover(ROOT / "simulators"), seed=7, start_ms=END_MS - HOUR_MS, record_truth=False
    )
    sim.at(END_MS - 40 * 60_000, Action(sim.find("cnc-02"), "inject", "tool_wear", None, {"k": 4.0}, "tool wear"))
    sim.at(END_MS - 25 * 60_000, Action(sim.find("filler-01"), "inject", "shift", "fill_weight", {"sigmas": 3.0}))
    sim.at(END_MS - 15 * 60_000, Action(sim.find("filler-01"), "clear", note="the valve is replaced"))
    records = sim.advance(END_MS)
    paths = {m.index: str(m.path) for m in sim.machines}
    infos = {str(m.path): m.info for m in sim.machines}
    readings: list[Reading] = []
    states: list[StateChange] = []
    parts: list[PartResult] = []
    events: list[FaultEvent] = []
    for r in records:  # what ingestion makes of the simulator's messages
        path = paths[r.machine]
        if isinstance(r, Sample):
            units = infos[path].signals
            readings += [
                Reading(f"{path}/telemetry/{n}", r.ts, float(v), units[n].unit if n in units else None)
                for n, v in r.values.items()
            ]
        elif isinstance(r, StateRec):
            states.append(StateChange(path, r.ts, r.state, r.reason))
        elif isinstance(r, PartRec):
            parts.append(PartResult(path, r.ts, r.part_id, r.good, dict(r.measurements)))
        elif isinstance(r, EventRec):
            events.append(FaultEvent(path, r.ts, r.kind, r.fault, r.sensor, dict(r.params), tuple(r.affects)))
    monitor = MonitorStage(infos=infos)
    alarms: dict[str, Alarm] = {}
    readings_by: dict[int, list[Reading]] = defaultdict(list)
    states_by: dict[int, list[StateChange]] = defaultdict(list)
    for reading in readings:
        readings_by[reading.ts_ms // 10_000].append(reading)
    for state in states:
        states_by[state.ts_ms // 10_000].append(state)
    for chunk in sorted(set(readings_by) | set(states_by)):  # in time order, 10 s at a time, as ingestion batches
        raised = monitor.states(states_by[chunk])
        raised += monitor.observe(sorted(readings_by[chunk], key=lambda x: x.ts_ms))
        raised += monitor.tick(chunk * 10_000 + 9_999)
        alarms.update({a.alarm_id: a for a in raised})  # the newest word on each alarm (raised, then cleared)
    store = SqliteStorage(url)
    try:
        for machine, info in infos.items():
            store.write_machine_info(machine, END_MS - HOUR_MS, info)
        store.write_readings(readings)
        store.write_states(states)
        store.write_parts(parts)
        store.write_events(events)
        store.write_alarms(list(alarms.values()))
        store.write_limits(monitor.take_limit_changes())
    finally:
        store.close()
    return {"readings": len(readings), "parts": len(parts), "alarms": len(alarms), "events": len(events)}


@dataclass(frozen=True)
class Store:
    url: str
    plant_file: Path
    folder: Path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    plant_file = tmp_path / "plant.toml"
    plant_file.write_text(PLANT)
    url = f"sqlite:///{tmp_path / 'plant.db'}"
    written = build_store(url, plant_file)
    assert written["alarms"] > 0, written  # the tool wear and the shift raise alarms
    assert written["events"] == 3, written
    return Store(url, plant_file, tmp_path)


@contextlib.contextmanager
def serving(store: Store, *extra: str) -> Iterator[str]:
    """The dashboard on the store, started with the command `smartfactory demo` uses (plus `extra` Streamlit
    flags: `smartfactory dashboard --large-font` adds `--theme.baseFontSize 20`); yields its URL."""
    port, silent = free_ports(2)
    settings = Settings(store=store.url, dashboard={"host": "127.0.0.1", "port": port})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")}
    env |= {
        "SMARTFACTORY_STORE": store.url,
        "SMARTFACTORY_SIM__PLANT": str(store.plant_file),
        "SMARTFACTORY_MQTT_URL": f"mqtt://127.0.0.1:{silent}",  # nothing listens: the sidebar says so
        "SMARTFACTORY_DASHBOARD__REFRESH": "600",  # a fixed store: no live reruns between two screenshots
    }
    log = store.folder / f"dashboard-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*services.dashboard_command(settings), *extra], cwd=store.folder, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        health = f"http://127.0.0.1:{port}/_stcore/health"
        up = wait_until(lambda: proc.poll() is not None or answers(health), timeout=BROWSER_TIMEOUT_S, interval=0.2)
        assert up, f"the dashboard did not answer in {BROWSER_TIMEOUT_S:g} s:\n{log.read_text()[-3000:]}"
        assert proc.poll() is None, f"the dashboard exited:\n{log.read_text()[-3000:]}"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the process group this function started
            proc.wait()
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, SHOTS / f"dashboard{'-' + '-'.join(x.strip('-') for x in extra) if extra else ''}.log")


# ------------------------------------------------------------------------------------------ the views


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # loopback only
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def page() -> Iterator[Any]:
    """One Chromium page for every view. (Not tests/browser's `browser_page`: its `artifacts` fixture empties
    artifacts/browser/ of the other browser test's screenshots, which run before this file's.)"""
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (no browser download)")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": SIZES[0][0], "height": SIZES[0][1]})
            tab.set_default_timeout(BROWSER_TIMEOUT_S * 1000)
            yield tab
        finally:
            browser.close()


def settle(page: Any, ready: str) -> None:
    """Until the page shows its content, Streamlit has finished the run and every chart is drawn to its width."""
    page.wait_for_selector(ready)
    page.wait_for_function(f"() => !document.querySelector('{BUSY}')")
    page.wait_for_function(CHARTS_FIT)


def check_view(page: Any, name: str, problems: list[str]) -> None:
    """Measure the view, then save its screenshot."""
    for item in page.evaluate(OVERFLOWING):
        problems.append(f"{name}: {item}")
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_every_page_readable_in_every_mode(store: Store, page: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    problems: list[str] = []
    tiles_side_by_side: dict[str, list[list[int]]] = {}

    with serving(store) as url:
        for page_name, (path, ready) in PAGES.items():
            for mode in ("normal", "projector"):
                query = "?projector=true" if mode == "projector" else ""
                page.emulate_media(color_scheme="light")
                page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
                page.goto(f"{url}/{path}{query}")
                settle(page, ready)
                for scheme in SCHEMES:
                    page.emulate_media(color_scheme=scheme)  # Streamlit's "auto" theme follows the browser
                    page.wait_for_function(DARK_BACKGROUND if scheme == "dark" else f"() => !({DARK_BACKGROUND})()")
                    for width, height in SIZES if scheme == "light" else SIZES[::-1]:
                        page.set_viewport_size({"width": width, "height": height})
                        page.wait_for_function(CHARTS_FIT)
                        view = f"{page_name}-{width}x{height}-{mode}-{scheme}"
                        check_view(page, view, problems)
                        if page_name == "overview":
                            tiles_side_by_side[view] = page.evaluate(TILE_ROWS)
        # the toolbar: no Deploy button, no developer menu; the menu keeps the theme choice
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
        page.locator('[data-testid="stMainMenu"]').click()
        menu = page.locator('[data-testid="stMainMenuPopover"]').inner_text().splitlines()
        assert "Dark" in menu
        assert not {"Rerun", "Clear cache", "Deploy"} & set(menu), menu

    # large-font mode, as `smartfactory dashboard --large-font` starts it, on the overview where the tiles are
    # (a theme option makes Streamlit's theme custom: it no longer follows the browser's scheme, light here)
    with serving(store, *LARGE_FONT) as url:
        for mode in ("normal", "projector"):
            page.emulate_media(color_scheme="light")
            page.set_viewport_size({"width": SIZES[0][0], "height": SIZES[0][1]})
            page.goto(f"{url}/{'?projector=true' if mode == 'projector' else ''}")
            settle(page, PAGES["overview"][1])
            assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "20px"
            for width, height in SIZES:
                page.set_viewport_size({"width": width, "height": height})
                view = f"overview-{width}x{height}-{mode}-largefont-light"
                check_view(page, view, problems)
                tiles_side_by_side[view] = page.evaluate(TILE_ROWS)

    assert not problems, "text cut off or outside its tile:\n" + "\n".join(problems)
    # the three machines of line 2 wrap to fewer tiles side by side where the width asks for it, and every
    # tile is on the page (line 1: cnc-01, cnc-02; line 2: imm-01, filler-01, filler-02)
    for view, rows in tiles_side_by_side.items():
        assert [sum(line) for line in rows] == [2, 3], (view, rows)
    assert max(tiles_side_by_side["overview-1280x720-normal-light"][1]) < 3  # 1280 px: not three in a row
    assert max(tiles_side_by_side["overview-1920x1080-normal-light"][1]) == 3  # 1920 px: room for three
    shots = {p.name for p in SHOTS.glob("*.png")}
    expected = {
        f"{p}-{w}x{h}-{m}-{s}.png" for p in PAGES for w, h in SIZES for m in ("normal", "projector") for s in SCHEMES
    }
    assert expected <= shots
    print(f"\n{len(shots)} screenshots in {SHOTS}")
