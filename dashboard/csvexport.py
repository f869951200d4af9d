"""CSV for the Data page's download, in the format of `smartfactory export` (pure: no Streamlit).

`topic,ts,value,unit` with ISO-8601 UTC timestamps to the millisecond, so a file downloaded here and one
exported on the command line are interchangeable (and `smartfactory spc analyze` reads both).
"""

from __future__ import annotations

import csv
import io

import pandas as pd

from smartfactory.wire import format_ts


def readings_csv(frame: pd.DataFrame, series: str, unit: str | None) -> bytes:
    """Raw readings (`ts`, `value`) as `topic,ts,value,unit` CSV bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", "ts", "value", "unit"])
    ts_ms = frame["ts"].to_numpy(dtype="datetime64[ms]").astype("int64").tolist()
    writer.writerows(
        (series, format_ts(t), repr(float(v)), unit or "") for t, v in zip(ts_ms, frame["value"], strict=True)
    )
    return out.getvalue().encode()


def aggregates_csv(frame: pd.DataFrame, series: str, unit: str | None) -> bytes:
    """Store aggregates (`ts` bucket start, `mean`, `min`, `max`, `count`) as CSV bytes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["topic", "bucket_start", "mean", "min", "max", "count", "unit"])
    ts_ms = frame["ts"].to_numpy(dtype="datetime64[ms]").astype("int64").tolist()
    for t, mean, lo, hi, n in zip(ts_ms, frame["mean"], frame["min"], frame["max"], frame["count"], strict=True):
        writer.writerow([series, format_ts(t), repr(float(mean)), repr(float(lo)), repr(float(hi)), int(n), unit or ""])
    return out.getvalue().encode()
