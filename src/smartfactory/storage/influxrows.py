"""Rows of InfluxDB query results → smartfactory records (pure).

A row is one record as influxdb-client returns it: a dict of column → value, `_time` an aware datetime, tags as
strings, pivoted fields under their names. Free-text fields were written with `lineprotocol.encode_text`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from smartfactory.model import Alarm, DeadLetter, FaultEvent, LimitsVersion, PartResult, SeriesInfo, StateChange
from smartfactory.storage.lineprotocol import decode_text, machine_from_tags, series_from_tags
from smartfactory.wire import HIERARCHY, ms_from_datetime

Row = dict[str, Any]


def ms(moment: datetime) -> int:
    """Epoch milliseconds of a point's time (a sub-millisecond key offset falls away)."""
    return ms_from_datetime(moment)


def text(row: Row, key: str) -> str:
    value = row.get(key)
    return decode_text(str(value)) if value is not None else ""


def opt_text(row: Row, key: str) -> str | None:
    value = row.get(key)
    return decode_text(str(value)) if value is not None else None


def opt_int(row: Row, key: str) -> int | None:
    value = row.get(key)
    return int(value) if value is not None else None


def series_info(row: Row, units: dict[str, str]) -> SeriesInfo:
    series = series_from_tags(row)
    enterprise, site, area, line, machine = (str(row[level]) for level in HIERARCHY)
    return SeriesInfo(series, enterprise, site, area, line, machine, str(row["sensor"]), units.get(series))


def deadletter(row: Row) -> DeadLetter:
    return DeadLetter(
        ms(row["_time"]),
        text(row, "topic"),
        str(row["reason"]),
        text(row, "detail"),
        base64.b64decode(str(row.get("payload") or "")),
        int(row.get("payload_size") or 0),
    )


def state(row: Row) -> StateChange:
    return StateChange(machine_from_tags(row), ms(row["_time"]), text(row, "state"), opt_text(row, "reason"))


def part(row: Row) -> PartResult:
    measurements = json.loads(text(row, "measurements") or "{}")
    return PartResult(
        machine_from_tags(row), ms(row["_time"]), text(row, "part_id"), bool(row.get("good")), measurements
    )


def event(row: Row) -> FaultEvent:
    return FaultEvent(
        machine_from_tags(row),
        ms(row["_time"]),
        str(row["kind"]),
        text(row, "fault"),
        opt_text(row, "sensor"),
        json.loads(text(row, "params") or "{}"),
    )


def alarm(row: Row) -> Alarm:
    value = row.get("value")
    return Alarm(
        alarm_id=text(row, "alarm_id"),
        series=series_from_tags(row),
        ts_ms=ms(row["_time"]),
        rules=tuple(rule for rule in text(row, "rules").split(",") if rule),
        value=float(value) if value is not None else None,
        active=bool(row.get("active")),
        message=text(row, "message"),
        cleared_ms=opt_int(row, "cleared_ms"),
        acked_ms=opt_int(row, "acked_ms"),
        acked_by=opt_text(row, "acked_by"),
    )


def limits(row: Row) -> LimitsVersion:
    return LimitsVersion(
        series_from_tags(row),
        int(row["version"]),
        ms(row["_time"]),
        float(row["center"]),
        float(row["sigma"]),
        float(row["nsigmas"]),
        int(row["n"]),
        text(row, "source"),
    )
