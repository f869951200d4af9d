"""The dashboard in a real browser against a running demo: the SPC chart shows the scenario's fault, an alarm is
acknowledged through the UI (MQTT → ingestion → store), and every page is captured as a screenshot.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import Demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILL_WEIGHT = "packaging/line-2 · filler-01 · fill_weight"  # the SPC page's series label (bound to ?series=)
#: Streamlit is still running the script, or still loading a widget's code (grey placeholders)
BUSY = '[data-testid="stStatusWidget"], [data-testid="stSkeleton"]'
PAGES = {
    "overview": ("", "text=Line machining/line-1"),
    "machine": ("machine", '[data-testid="stPlotlyChart"]'),
    "spc": (f"spc?series={quote(FILL_WEIGHT)}", '[data-testid="stPlotlyChart"]'),
    "alarms": ("alarms", "text=Detection report"),
    "oee": ("oee", "text=Availability (plant)"),
    "data": ("data", "text=Download CSV"),
    "overview-projector": ("?projector=true", "text=Line machining/line-1"),
}
# True once the SPC chart carries a violations trace with a WE1 point (hover text names the rule and why)
HAS_WE1_MARKER = """() => {
  const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!plot || !plot.data) return false;
  return plot.data.some(t => (t.name || '').startsWith('violations') && (t.x || []).length > 0
    && (t.hovertext || []).some(h => h.includes('WE1: 1 point beyond the 3σ limits')));
}"""


def settle(page: Any, selector: str) -> None:
    """Wait for the page's content, then until Streamlit has run the script and drawn every element."""
    page.wait_for_selector(selector, timeout=30_000)
    page.wait_for_function(f"() => !document.querySelector('{BUSY}')", timeout=30_000)
    if page.locator('[data-testid="stPlotlyChart"]').count():
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=30_000)


def acked_by(db: Path, who: str) -> list[str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("SELECT alarm_id FROM alarms WHERE acked_by = ?", (who,))]


def test_dashboard_in_a_browser(demo: Demo, browser_page: Any, artifacts: Path) -> None:
    page = browser_page
    print(f"\nscreenshots: {artifacts}")

    # SPC: wait until the live chart marks the scenario's shift (3σ on fill weight at 2 simulated minutes)
    page.goto(f"{demo.url}/{PAGES['spc'][0]}")
    settle(page, PAGES["spc"][1])
    page.wait_for_function(HAS_WE1_MARKER, timeout=45_000)
    assert page.get_by_text("Limits of the live monitor").count() >= 1

    # Alarms: acknowledge one through the UI; ingestion stores the acknowledgement it receives over MQTT
    page.goto(f"{demo.url}/{PAGES['alarms'][0]}")
    settle(page, "text=Acknowledge")
    who = page.get_by_label("Acknowledged by")
    who.fill("browser-test")
    who.press("Enter")
    page.get_by_role("button", name="Acknowledge", exact=True).first.click()
    page.wait_for_selector("text=Sent 1 acknowledgement(s) as 'browser-test'", timeout=15_000)
    deadline = time.monotonic() + 15
    while not acked_by(demo.db, "browser-test") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(acked_by(demo.db, "browser-test")) == 1

    for name, (path, ready) in PAGES.items():
        page.goto(f"{demo.url}/{path}")
        settle(page, ready)
        if name == "spc":
            page.wait_for_function(HAS_WE1_MARKER, timeout=30_000)
        page.screenshot(path=str(artifacts / f"{name}.png"))
    assert page.get_by_text("Download CSV").count() == 0  # the last page is the overview again
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert {f"{name}.png" for name in PAGES} <= set(shots)
