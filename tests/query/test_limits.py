"""The live monitor's stored limits as readers see them (`query.limits`)."""

from __future__ import annotations

from pathlib import Path

from smartfactory.model import LimitsVersion
from smartfactory.query import all_stored_limits, limits_history, stored_limits
from smartfactory.query.limits import computed_note, describe, missing_note
from smartfactory.storage.sqlite import SqliteStorage

S = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"
OTHER = "acme/plant1/machining/line-1/cnc-01/telemetry/power"


def test_newest_version_history_and_words(tmp_path: Path) -> None:
    learned = LimitsVersion(S, 1, 49_000, 62.01, 0.48, 3.0, 50, "learned")
    configured = LimitsVersion(S, 2, 90_000, 61.0, 0.25, 2.5, 0, "configured")
    store = SqliteStorage(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        assert stored_limits(store, S) is None
        store.write_limits([learned, configured, LimitsVersion(OTHER, 1, 1, 7.5, 0.1, 3.0, 50, "learned")])
        assert stored_limits(store, S) == configured
        assert limits_history(store, S) == [learned, configured]
        assert set(all_stored_limits(store)) == {S, OTHER}
    finally:
        store.close()
    assert describe(learned) == (
        "Limits of the live monitor, as stored (version 1, in use since 1970-01-01T00:00:49.000Z): centre 62.01, "
        "σ 0.48, ±3σ; learned from the first 50 readings of the series (centre = mean, σ = MR̄/1.128)."
    )
    assert "configured limits" in describe(configured)
    assert "±2.5σ" in describe(configured)
    assert "first 50 readings" in missing_note("x", 50)
    assert computed_note(20) == "Limits computed here from the first 20 points of the window, not the monitor's."
