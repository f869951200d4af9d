"""Keep Python's cyclic garbage collector off what a dashboard process loads once.

Each full collection walks every container object the process holds: Streamlit, pandas, plotly and the
smartfactory modules, a few hundred thousand objects before any data is read. A refresh that builds many records
(83,500 part events for the overview of bench/scale_dashboard.py's 500-machine plant) triggers such collections,
and they took about half of the refresh: 151–253 ms against 94–105 ms once the start-up objects were frozen
(`data.overview_tiles` in-process, cold query caches, six refreshes each). `gc.freeze()` (Python ≥ 3.7) moves the
objects alive now into a permanent generation the collector skips; reference counting still frees them, only a
cycle among them is kept for good. So the freeze comes before the first page runs, with the modules the pages use
imported first (`PAGE_MODULES`): a page's namespace is a fresh module each run, held in cycles (its fragments),
and frozen it would stay in memory after the run, with whatever it read. What is frozen with them is `app.py`'s
own namespace of the first run (the navigation), once.
"""

from __future__ import annotations

import gc
import importlib

#: what the page scripts import (dashboard/app_pages): loaded before the freeze so that it is frozen too
PAGE_MODULES = (
    "plotly.graph_objects",
    "dashboard.alarmview",
    "dashboard.charts",
    "dashboard.classview",
    "dashboard.csvexport",
    "dashboard.machineview",
    "dashboard.oeeview",
    "dashboard.seriespick",
    "dashboard.spcview",
    "smartfactory.query.detection",
    "smartfactory.query.explain",
)

_frozen = False


def freeze_startup_heap() -> bool:
    """Import the pages' modules, collect once, then freeze what survives; later calls do nothing. True when this
    call froze the heap."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    for name in PAGE_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()
    return True


def thaw() -> None:
    """Undo `freeze_startup_heap` (for a test process, which runs the app again and again): the frozen objects
    return to the collector, and the next call freezes anew."""
    global _frozen
    gc.unfreeze()
    _frozen = False
