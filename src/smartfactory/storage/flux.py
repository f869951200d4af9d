"""Flux queries for the InfluxDB backend, built as text (pure: no I/O library).

Every value that comes from outside (bucket, tag values from topics) enters a query only through `literal`,
which writes a Flux string literal with the escapes of the Flux spec (influxdata/flux docs/SPEC.md, "String
literals"): backslash, double quote, newline, carriage return, tab and the interpolation opener `${`. A machine
called `x") |> drop() //` therefore stays a string value and never becomes Flux code. Times enter as integers
through `time(v: <ns>)`, durations as integers with a unit; nothing else is interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence

from smartfactory.storage.lineprotocol import MACHINE_INFO, NS_PER_MS, READING
from smartfactory.wire import HIERARCHY

#: Far enough in the future for "no upper bound" (2255), inside InfluxDB's int64-nanosecond range.
MAX_MS = 9_000_000_000_000
SERIES_COLUMNS = (*HIERARCHY, "sensor")
AGGREGATES = ("mean", "min", "max", "count")


def literal(text: str) -> str:
    """A Flux string literal whose value is exactly `text`."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("${", "\\${")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def time_ms(ms: int) -> str:
    return f"time(v: {int(ms) * NS_PER_MS})"


def columns(names: Sequence[str]) -> str:
    return "[" + ", ".join(literal(name) for name in names) + "]"


def source(bucket: str, since_ms: int | None, until_ms: int | None) -> str:
    start = 0 if since_ms is None else since_ms
    stop = MAX_MS if until_ms is None else until_ms
    return f"from(bucket: {literal(bucket)})\n  |> range(start: {time_ms(start)}, stop: {time_ms(stop)})"


def predicate(measurement: str, tags: Sequence[tuple[str, str]] = (), field: str | None = None) -> str:
    """`r._measurement == "…" and r["tag"] == "…" …` with every name and value a literal."""
    parts = [f"r._measurement == {literal(measurement)}"]
    if field is not None:
        parts.append(f"r._field == {literal(field)}")
    parts.extend(f"r[{literal(key)}] == {literal(value)}" for key, value in tags)
    return " and ".join(parts)


def filtered(bucket: str, since_ms: int | None, until_ms: int | None, where: str) -> str:
    return f"{source(bucket, since_ms, until_ms)}\n  |> filter(fn: (r) => {where})"


def series_query(
    bucket: str, tags: Sequence[tuple[str, str]], since_ms: int | None, until_ms: int | None, limit: int | None
) -> str:
    """Time and value of one series, in time order; with `limit`, the last `limit` points."""
    query = filtered(bucket, since_ms, until_ms, predicate(READING, tags, "value"))
    query += '\n  |> keep(columns: ["_time", "_value"])\n  |> group()'
    if limit is not None:
        query += f"\n  |> tail(n: {int(limit)})"
    return query


def aggregates_query(bucket: str, tags: Sequence[tuple[str, str]], since_ms: int, until_ms: int, width_ms: int) -> str:
    """Mean, min, max and count per bucket of `width_ms`, buckets aligned to `since_ms` and labelled by start.

    Four `aggregateWindow` passes over the same data, each tagged with its name in column `agg`, united and
    pivoted into one row per bucket. `count` is made a float so the four `_value` columns share a type.
    """
    offset = since_ms % width_ms
    lines = [
        "data = " + filtered(bucket, since_ms, until_ms, predicate(READING, tags, "value")),
        "agg = (fn, name) => data",
        f"  |> aggregateWindow(every: {int(width_ms)}ms, offset: {int(offset)}ms, fn: fn, createEmpty: false,"
        ' timeSrc: "_start")',
        "  |> toFloat()",
        '  |> set(key: "agg", value: name)',
        '  |> keep(columns: ["_time", "_value", "agg"])',
        "union(tables: [" + ", ".join(f'agg(fn: {name}, name: "{name}")' for name in AGGREGATES) + "])",
        '  |> pivot(rowKey: ["_time"], columnKey: ["agg"], valueColumn: "_value")',
        "  |> group()",
        '  |> sort(columns: ["_time"])',
    ]
    return "\n".join(lines)


def last_query(bucket: str, field: str) -> str:
    """The last point of `field` of every series (for `latest`, `list_series` and units)."""
    keep = columns([*SERIES_COLUMNS, "_time", "_value"])
    return f"{filtered(bucket, None, None, predicate(READING, (), field))}\n  |> last()\n  |> keep(columns: {keep})"


def machine_info_query(bucket: str) -> str:
    """The newest `info` of every machine: each machine is a series of its own, so `last()` picks its newest."""
    keep = columns([*HIERARCHY, "_time", "_value"])
    query = filtered(bucket, None, None, predicate(MACHINE_INFO, (), "info"))
    return f"{query}\n  |> last()\n  |> keep(columns: {keep})"


def count_query(bucket: str) -> str:
    return f"{filtered(bucket, None, None, predicate(READING, (), 'value'))}\n  |> group()\n  |> count()"


def records_query(
    bucket: str,
    measurement: str,
    since_ms: int | None = None,
    tags: Sequence[tuple[str, str]] = (),
    limit: int | None = None,
) -> str:
    """Points of a multi-field measurement, one row per point with a column per field, in time order."""
    query = filtered(bucket, since_ms, None, predicate(measurement, tags))
    query += (
        '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        '\n  |> group()\n  |> sort(columns: ["_time"])'
    )
    if limit is not None:
        query += f"\n  |> limit(n: {int(limit)})"
    return query


def delete_predicate(measurement: str) -> str:
    """A predicate for InfluxDB's delete API (its own small syntax: `key="value"`, joined by AND)."""
    return f"_measurement={literal(measurement)}"
