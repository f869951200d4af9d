"""Read windows in the store's time (`query.window`): "now" is the newest stored timestamp."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smartfactory.errors import ConfigError
from smartfactory.model import Reading
from smartfactory.query.window import parse_time, resolve_window
from smartfactory.storage.sqlite import SqliteStorage

T = int(datetime(2030, 1, 7, 8, 0, tzinfo=UTC).timestamp() * 1000)  # far ahead of the wall clock
SERIES = "a/b/c/d/m1/telemetry/t"


def test_times_ago_count_back_from_the_given_now() -> None:
    assert parse_time("90m", now_ms=T) == T - 5_400_000
    assert parse_time("2030-01-07T08:00Z", now_ms=0) == T
    assert parse_time("2030-01-07", now_ms=0) == T - 8 * 3_600_000  # a date is UTC midnight
    assert parse_time(None, now_ms=T) is None
    with pytest.raises(ConfigError, match="ISO-8601"):
        parse_time("yesterday", now_ms=T)


def test_the_window_defaults_to_the_stored_data_and_relative_bounds_follow_it(sqlite_store: SqliteStorage) -> None:
    sqlite_store.write_readings([Reading(SERIES, T + i * 60_000, float(i)) for i in range(61)])  # 08:00 … 09:00
    whole = resolve_window(sqlite_store, None, None)
    assert (whole.start_ms, whole.end_ms, whole.now_ms) == (T, T + 3_600_001, T + 3_600_000)
    assert whole.describe().startswith("2030-01-07T08:00:00.000Z … 2030-01-07T09:00:00.001Z (1.00 h; now = newest")
    recent = resolve_window(sqlite_store, "15m", "5m")
    assert (recent.start_ms, recent.end_ms) == (T + 45 * 60_000, T + 55 * 60_000)
    assert recent.to_dict()["since"] == "2030-01-07T08:45:00.000Z"
    with pytest.raises(ConfigError, match="the window is empty"):
        resolve_window(sqlite_store, "5m", "15m")


def test_an_empty_store_falls_back_to_the_wall_clock_and_says_so(sqlite_store: SqliteStorage) -> None:
    window = resolve_window(sqlite_store, None, None)
    assert window.empty_store
    assert (window.start_ms, window.end_ms) == (None, None)
    assert window.describe() == "the store holds no data yet"
    assert "wall clock" in resolve_window(sqlite_store, "1h", None).describe()
