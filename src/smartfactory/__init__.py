"""smartfactory: an Industry 4.0 teaching pipeline (simulate → MQTT → ingest → store → SPC → dashboard).

`smartfactory.open_store(url)` opens a store for analysis (`smartfactory.query.lab.LabStore`: DataFrames of
readings, parts, states, alarms and the ground truth). It is imported on first use, so `import smartfactory`
stays light (no pandas, no store code).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from smartfactory.query.lab import LabStore, open_store

__all__ = ["LabStore", "__version__", "open_store"]


def __getattr__(name: str) -> Any:
    """`open_store` and `LabStore`, imported when first asked for (PEP 562)."""
    if name in ("open_store", "LabStore"):
        from smartfactory.query import lab

        return getattr(lab, name)
    raise AttributeError(f"module 'smartfactory' has no attribute {name!r}")
