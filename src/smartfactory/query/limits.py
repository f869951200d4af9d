"""The live monitor's control limits, as it stored them: one `LimitsVersion` per set of limits it used.

The ingestion monitor learns a series' limits from its first `spc.phase1_points` readings (or takes configured
ones, or resumes the newest stored ones after a restart) and stores each new set as a version with the time it
came into use (`Storage.write_limits`). Readers show those, never limits re-learned on their own: a reader
that re-learned them from "the first readings in the store" would disagree with the monitor after a restart, a
retention cut, or configured limits. Without a stored version there are no monitor limits to show; a reader
may then compute its own, and must say so (`computed_note`).
"""

from __future__ import annotations

from collections.abc import Callable

from smartfactory.model import LimitsVersion
from smartfactory.storage import Storage
from smartfactory.wire import format_ts


def stored_limits(store: Storage, series: str) -> LimitsVersion | None:
    """The newest limits the monitor stored for `series`, or None while it has stored none."""
    versions = store.read_limits(series)
    return versions[-1] if versions else None


def limits_history(store: Storage, series: str) -> list[LimitsVersion]:
    """Every version stored for `series`, oldest first."""
    return store.read_limits(series, latest_only=False)


def all_stored_limits(store: Storage) -> dict[str, LimitsVersion]:
    """The newest stored version of every series that has one."""
    return {v.series: v for v in store.read_limits()}


def _g(value: float) -> str:
    return f"{value:.4g}"


def describe(version: LimitsVersion, fmt: Callable[[float], str] = _g) -> str:
    """One sentence: where the limits came from and since when they are in use (centre and σ written by `fmt`,
    default four significant digits)."""
    if version.source == "learned":
        origin = f"learned from the first {version.n} readings of the series (centre = mean, σ = MR̄/1.128)"
    else:
        origin = f"{version.source} limits"
    return (
        f"Limits of the live monitor, as stored (version {version.version}, in use since {format_ts(version.ts_ms)}): "
        f"centre {fmt(version.center)}, σ {fmt(version.sigma)}, ±{version.nsigmas:.3g}σ; {origin}."
    )


def missing_note(series_label: str, phase1_points: int) -> str:
    """What to say when the monitor has stored no limits for a series, and what to do."""
    return (
        f"The live monitor has stored no control limits for {series_label}. It stores them once it has watched "
        f"the series' first {phase1_points} readings: is `smartfactory ingest` (or `smartfactory demo`) running, "
        "and does the series match the setting spc.watch?"
    )


def computed_note(count: int, unit: str = "points") -> str:
    """The label of limits a reader computed itself (phase I of the window), not the monitor's."""
    return f"Limits computed here from the first {count} {unit} of the window, not the monitor's."
