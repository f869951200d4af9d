"""What every backend returns, built in one place so that they agree: DataFrames (columns, dtypes) and the
stored machine facts.

pandas is imported by the functions that build a frame, not by this module: ingestion writes and never reads a
frame, and importing pandas (with pyarrow) cost its process ~67 MB of RSS (measured: numpy and scipy alone
101 MB, with pandas 168 MB), a fifth of the cardinality benchmark's budget (bench/scale_cardinality.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from smartfactory.model import SeriesInfo
from smartfactory.wire import MachineInfo, parse_series

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SERIES_COLUMNS = ["ts", "value"]
AGGREGATE_COLUMNS = ["ts", "mean", "min", "max", "count"]
LATEST_COLUMNS = ["series", "ts", "value", "unit"]


def with_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn column `ts` (integer epoch milliseconds) into UTC datetimes."""
    import pandas as pd  # see the module's docstring

    frame["ts"] = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True)
    return frame


def series_frame(rows: Sequence[tuple[int, float]] | list[Any]) -> pd.DataFrame:
    """`ts`, `value` from (ts_ms, value) rows."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    return with_time(frame.astype({"ts": "int64", "value": "float64"}))


def aggregates_frame(rows: Sequence[tuple[int, float, float, float, int]] | list[Any]) -> pd.DataFrame:
    """`ts` (bucket start), `mean`, `min`, `max`, `count` from rows in that order."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)
    types = {"ts": "int64", "mean": "float64", "min": "float64", "max": "float64", "count": "int64"}
    return with_time(frame.astype(types))


def latest_frame(rows: Sequence[tuple[str, int, float, str | None]] | list[Any]) -> pd.DataFrame:
    """`series`, `ts`, `value`, `unit`, one row per series, ordered by series."""
    import pandas as pd

    frame = pd.DataFrame(sorted(rows, key=lambda row: row[0]), columns=LATEST_COLUMNS)
    return with_time(frame.astype({"ts": "int64", "value": "float64"}))


def series_matches(info: SeriesInfo, machine: str | None, sensor: str | None) -> bool:
    """The export/iteration filter: `machine` is a machine name or its full path; `sensor` a sensor name."""
    if machine is not None and machine not in (info.machine, parse_series(info.series).machine):
        return False
    return sensor is None or sensor == info.sensor


def machine_infos(rows: Iterable[tuple[str, str]]) -> dict[str, MachineInfo]:
    """(machine, info JSON) rows → machine → `MachineInfo`. A row this version cannot read (written by a newer
    smartfactory with fields it does not know) is skipped with a warning rather than failing every reader."""
    out: dict[str, MachineInfo] = {}
    for machine, text in rows:
        try:
            out[machine] = MachineInfo.from_bytes(text)
        except ValidationError as exc:
            log.warning("skipping the stored facts of %s: %s", machine, exc.errors(include_url=False)[0]["msg"])
    return out
