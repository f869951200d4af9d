"""The DataFrames every backend returns, built in one place so their columns and dtypes agree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from smartfactory.model import SeriesInfo

SERIES_COLUMNS = ["ts", "value"]
AGGREGATE_COLUMNS = ["ts", "mean", "min", "max", "count"]
LATEST_COLUMNS = ["series", "ts", "value", "unit"]


def with_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn column `ts` (integer epoch milliseconds) into UTC datetimes."""
    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True)
    return frame


def series_frame(rows: Sequence[tuple[int, float]] | list[Any]) -> pd.DataFrame:
    """`ts`, `value` from (ts_ms, value) rows."""
    frame = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    return with_time(frame.astype({"ts": "int64", "value": "float64"}))


def aggregates_frame(rows: Sequence[tuple[int, float, float, float, int]] | list[Any]) -> pd.DataFrame:
    """`ts` (bucket start), `mean`, `min`, `max`, `count` from rows in that order."""
    frame = pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)
    types = {"ts": "int64", "mean": "float64", "min": "float64", "max": "float64", "count": "int64"}
    return with_time(frame.astype(types))


def latest_frame(rows: Sequence[tuple[str, int, float, str | None]] | list[Any]) -> pd.DataFrame:
    """`series`, `ts`, `value`, `unit`, one row per series, ordered by series."""
    frame = pd.DataFrame(sorted(rows, key=lambda row: row[0]), columns=LATEST_COLUMNS)
    return with_time(frame.astype({"ts": "int64", "value": "float64"}))


def series_matches(info: SeriesInfo, machine: str | None, sensor: str | None) -> bool:
    """The export/iteration filter: `machine` is a machine name or its full path; `sensor` a sensor name."""
    if machine is not None and machine not in (info.machine, info.series.rsplit("/", 2)[0]):
        return False
    return sensor is None or sensor == info.sensor
