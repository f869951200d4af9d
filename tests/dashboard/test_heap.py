"""The dashboard freezes its start-up heap once per process (dashboard/heap.py), before the first page runs."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard import heap
from tests.dashboard.conftest import APP


def test_freezes_once_and_thaws() -> None:
    heap.thaw()
    assert gc.get_freeze_count() == 0
    assert heap.freeze_startup_heap() is True
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # at least the modules this test process imported
    assert heap.freeze_startup_heap() is False  # once per process: later refreshes add nothing
    assert gc.get_freeze_count() == frozen
    heap.thaw()
    assert gc.get_freeze_count() == 0


def test_the_app_freezes_once_with_the_pages_modules(dashboard_store: Path) -> None:
    heap.thaw()
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert app.title[0].value == "Plant overview"
    assert gc.get_freeze_count() > 1000
    assert all(name in sys.modules for name in heap.PAGE_MODULES)
