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
    return SeriesInfo(
        series=series,
        enterprise=enterprise,
        site=site,
        area=area,
        line=line,
        machine=machine,
        sensor=str(row["sensor"]),
        unit=units.get(series),
    )


def deadletter(row: Row) -> DeadLetter:
    return DeadLetter(
        received_ms=ms(row["_time"]),
        topic=text(row, "topic"),
        reason=str(row["reason"]),
        detail=text(row, "detail"),
        payload=base64.b64decode(str(row.get("payload") or "")),
        payload_size=int(row.get("payload_size") or 0),
    )


def state(row: Row) -> StateChange:
    return StateChange(
        machine=machine_from_tags(row), ts_ms=ms(row["_time"]), state=text(row, "state"), reason=opt_text(row, "reason")
    )


def part(row: Row) -> PartResult:
    measurements = json.loads(text(row, "measurements") or "{}")
    return PartResult(
        machine=machine_from_tags(row),
        ts_ms=ms(row["_time"]),
        part_id=text(row, "part_id"),
        good=bool(row.get("good")),
        measurements=measurements,
    )


def event(row: Row) -> FaultEvent:
    return FaultEvent(
        machine=machine_from_tags(row),
        ts_ms=ms(row["_time"]),
        kind=str(row["kind"]),
        fault=text(row, "fault"),
        sensor=opt_text(row, "sensor"),
        params=json.loads(text(row, "params") or "{}"),
        affects=tuple(json.loads(text(row, "affects") or "[]")),
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
        series=series_from_tags(row),
        version=int(row["version"]),
        ts_ms=ms(row["_time"]),
        center=float(row["center"]),
        sigma=float(row["sigma"]),
        nsigmas=float(row["nsigmas"]),
        n=int(row["n"]),
        source=text(row, "source"),
        detector=text(row, "detector") or "imr",
        params=json.loads(text(row, "params") or "{}"),
    )


def machine_info(row: Row) -> tuple[str, str]:
    """(machine path, info JSON) of a `machine_info` row (`flux.machine_info_query`)."""
    return machine_from_tags(row), decode_text(str(row["_value"]))
