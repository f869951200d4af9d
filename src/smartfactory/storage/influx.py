"""InfluxDB 2 backend through influxdb-client (the only module that imports it).

Writes are line protocol strings built by `lineprotocol` (no `Point` objects: building one object per reading is
what limits Python writers), posted synchronously in requests of `batch` lines, each retried on transient
failures (`retry`). A write returns only when every line is stored, so ingestion acknowledges MQTT messages
after the data is safe. When the server stays unreachable `StoreUnavailable` is raised and ingestion keeps its
batch; other rejections (bad token, unknown bucket) raise `StoreError` with what to fix.

Idempotency: InfluxDB identifies a point by measurement, tag set and timestamp; writing the same point again
replaces it (fields are merged, new values win). A redelivered reading has the same series and millisecond, so
it lands on its old point: replays change nothing. `write_readings` cannot tell new points from replaced ones
and returns the number written. Reads are Flux queries built by `flux`; see docs/storage.md for the schema.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.bucket_retention_rules import BucketRetentionRules
from influxdb_client.domain.write_precision import WritePrecision

from smartfactory.errors import ConfigError, SmartfactoryError, StoreError, StoreUnavailable, TransientError
from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    LimitsVersion,
    PartOutcome,
    PartResult,
    Reading,
    SeriesInfo,
    StateChange,
)
from smartfactory.retry import call_with_retries
from smartfactory.storage import flux
from smartfactory.storage import influxrows as rows_
from smartfactory.storage import lineprotocol as lp
from smartfactory.storage.frames import (
    aggregates_frame,
    latest_frame,
    machine_infos,
    series_frame,
    series_matches,
)
from smartfactory.storage.influxconf import InfluxTarget, parse_influx_url
from smartfactory.storage.influxrows import Row, ms
from smartfactory.wire import MachineInfo

if TYPE_CHECKING:  # frames are built by storage/frames.py, which loads pandas when a frame is first read
    import pandas as pd

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSIENT_STATUS = frozenset({0, 408, 429, 500, 502, 503, 504})


class InfluxStorage:
    """The InfluxDB 2 store. Thread-safe for one writer thread plus readers (the client pools connections)."""

    #: InfluxDB replaces duplicates silently, so `write_readings` reports every reading as written.
    reports_duplicates = False
    #: Nor can it tell a conflicting re-write (same key, other value: the last value wins, as in SQLite).
    reports_conflicts = False
    conflicts = 0

    def __init__(self, url: str, *, token: str | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self.target: InfluxTarget = parse_influx_url(url)
        if not token:
            raise ConfigError(
                f"no token for {self.target.describe()}: set SMARTFACTORY_INFLUX_TOKEN (see docs/deployment.md)"
            )
        self._sleep = sleep
        self._client = InfluxDBClient(
            url=self.target.http_url,
            token=token,
            org=self.target.org,
            timeout=int(self.target.timeout_s * 1000),
            enable_gzip=self.target.gzip,
            ssl_ca_cert=self.target.ca_file,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()
        self._lines = lp.ReadingLines()
        self.requests = 0  # write requests that succeeded (for tests and benchmarks)
        self.retried = 0  # transient failures that were retried

    # ------------------------------------------------------------------ plumbing

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        """Run one HTTP operation, translating the client's errors into ours (transient ones retried)."""

        def attempt() -> T:
            try:
                return operation()
            except InfluxDBError as exc:
                status = int(getattr(exc, "status", None) or 0)
                reason = str(getattr(exc, "reason", ""))
                if status == 0 and "SSL" in reason:
                    raise StoreError(
                        f"TLS with {self.target.describe()} failed ({reason}): check the server certificate, "
                        "or give its CA bundle as ?ca=/path/ca.pem in the store URL"
                    ) from None
                if status in _TRANSIENT_STATUS:
                    raise TransientError(f"HTTP {status}: {exc.message}", _seconds(exc.retry_after)) from exc
                raise StoreError(self._advice(what, status, str(exc.message))) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise TransientError(f"cannot reach it: {exc}") from exc

        def on_retry(attempt_no: int, exc: TransientError, pause: float) -> None:
            self.retried += 1
            log.warning("%s %s failed (%s); retry %d in %.1f s", self.target.describe(), what, exc, attempt_no, pause)

        try:
            return call_with_retries(attempt, self.target.retry, self._sleep, on_retry)
        except TransientError as exc:
            raise StoreUnavailable(
                f"{self.target.describe()} is unavailable for {what} ({exc}); is influxd running?"
            ) from None

    def _advice(self, what: str, status: int, message: str) -> str:
        hint = {
            400: "the server refused the data or query",
            401: "the token was rejected: check SMARTFACTORY_INFLUX_TOKEN",
            403: f"the token may not {what} bucket {self.target.bucket!r}: give it read and write access",
            404: f"org {self.target.org!r} or bucket {self.target.bucket!r} does not exist: create it or fix the URL",
            413: "the request was too large: lower ?batch= in the store URL",
        }.get(status, "see the server's log")
        return f"{self.target.describe()} refused {what} (HTTP {status}: {message}); {hint}"

    def _post(self, lines: Sequence[str], precision: Any) -> None:
        step = self.target.batch_size
        for start in range(0, len(lines), step):
            body = "\n".join(lines[start : start + step])
            write = functools.partial(
                self._write_api.write,
                bucket=self.target.bucket,
                org=self.target.org,
                record=body,
                write_precision=precision,
            )
            self._call("write", write)
            self.requests += 1

    def _build(self, build: Callable[[], list[str]]) -> list[str]:
        try:
            return build()
        except (ValueError, SmartfactoryError) as exc:
            raise StoreError(f"cannot write to {self.target.describe()}: {exc}") from None

    def _rows(self, query: str) -> list[Row]:
        tables = self._call("query", lambda: self._query_api.query(query, org=self.target.org))
        return [record.values for table in tables for record in table.records]

    def _stream(self, query: str) -> Iterator[Row]:
        records = self._call("query", lambda: self._query_api.query_stream(query, org=self.target.org))
        try:
            for record in records:
                yield record.values
        except (InfluxDBError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"{self.target.describe()} broke off a query: {exc}") from None

    # ------------------------------------------------------------------ writes

    def write_readings(self, readings: Sequence[Reading]) -> int:
        if readings:
            self._post(self._build(lambda: self._lines.lines(readings)), WritePrecision.MS)
        return len(readings)

    def _write_records(self, records: Iterable[T], to_line: Callable[[T], str]) -> None:
        lines = self._build(lambda: [to_line(record) for record in records])
        if lines:
            self._post(lines, WritePrecision.NS)

    def write_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self._write_records(letters, lp.deadletter_line)

    def write_states(self, changes: Sequence[StateChange]) -> None:
        self._write_records(changes, lp.state_line)

    def write_parts(self, parts: Sequence[PartResult]) -> None:
        self._write_records(parts, lp.part_line)

    def write_events(self, events: Sequence[FaultEvent]) -> None:
        self._write_records(events, lp.event_line)

    def write_alarms(self, alarms: Sequence[Alarm]) -> None:
        self._write_records(alarms, lp.alarm_line)

    def write_limits(self, versions: Sequence[LimitsVersion]) -> None:
        self._write_records(versions, lp.limits_line)

    def read_limits(self, series: str | None = None, *, latest_only: bool = True) -> list[LimitsVersion]:
        try:
            tags = lp.series_tags(series) if series is not None else []
        except SmartfactoryError:
            return []
        found = sorted(
            (rows_.limits(row) for row in self._rows(flux.records_query(self._b, lp.LIMITS, None, tags))),
            key=lambda v: (v.series, v.version),
        )
        return _latest_versions(found) if latest_only else found

    def write_machine_info(self, machine: str, ts_ms: int, info: MachineInfo) -> None:
        self._post(self._build(lambda: [lp.machine_info_line(machine, ts_ms, info)]), WritePrecision.NS)

    def read_machine_info(self) -> dict[str, MachineInfo]:
        """The newest info per machine (the last point of its `machine_info` series)."""
        return machine_infos(rows_.machine_info(row) for row in self._rows(flux.machine_info_query(self._b)))

    def ack_alarms(self, acks: Sequence[AlarmAck]) -> None:
        """Merge `acked_ms`/`acked_by` into each known, not yet acknowledged alarm (the first ack wins)."""
        lines: list[str] = []
        for series in sorted({ack.series for ack in acks}):
            try:
                tags = lp.series_tags(series)
            except SmartfactoryError:
                continue  # not a series id: no alarm can be stored under it
            known = {row.get("alarm_id"): row for row in self._rows(flux.records_query(self._b, lp.ALARM, None, tags))}
            for ack in (a for a in acks if a.series == series):
                row = known.get(lp.encode_text(ack.alarm_id))
                if row is None or row.get("acked_ms") is not None:
                    continue
                row["acked_ms"] = ack.ts_ms
                lines.append(lp.alarm_ack_line(ack.alarm_id, series, ms(row["_time"]), ack.ts_ms, ack.by))
        if lines:
            self._post(lines, WritePrecision.NS)

    def delete_before(self, cutoff_ms: int) -> int | None:
        """Delete readings, dead letters, parts and events older than `cutoff_ms` (count unknown: None).

        The delete API's range includes both ends, so it stops one nanosecond before the cutoff.
        """
        start, stop = "1970-01-01T00:00:00Z", _rfc3339_ns(cutoff_ms * lp.NS_PER_MS - 1)
        delete_api = self._client.delete_api()
        for measurement in (lp.READING, lp.DEADLETTER, lp.PART, lp.EVENT):
            delete = functools.partial(
                delete_api.delete,
                start,
                stop,
                flux.delete_predicate(measurement),
                bucket=self.target.bucket,
                org=self.target.org,
            )
            self._call("delete", delete)
        return None

    # ------------------------------------------------------------------ reads

    @property
    def _b(self) -> str:
        return self.target.bucket

    def _series_tags(self, series: str) -> list[tuple[str, str]] | None:
        try:
            return lp.series_tags(series)
        except SmartfactoryError:
            return None

    def read_series(
        self, series: str, since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        tags = self._series_tags(series)
        if tags is None or _empty_range(since_ms, until_ms) or limit == 0:
            return series_frame([])
        rows = self._rows(flux.series_query(self._b, tags, since_ms, until_ms, limit))
        return series_frame([(ms(row["_time"]), row["_value"]) for row in rows])

    def read_aggregates(self, series: str, since_ms: int, until_ms: int, buckets: int) -> pd.DataFrame:
        tags = self._series_tags(series)
        if tags is None or _empty_range(since_ms, until_ms):
            return aggregates_frame([])
        width = max(1, -(-(until_ms - since_ms) // max(1, buckets)))
        rows = self._rows(flux.aggregates_query(self._b, tags, since_ms, until_ms, width))
        return aggregates_frame(
            [(ms(r["_time"]), r["mean"], r["min"], r["max"], int(r["count"])) for r in rows if r.get("count")]
        )

    def _last(self) -> tuple[list[Row], dict[str, str]]:
        values = self._rows(flux.last_query(self._b, "value"))
        units = {
            lp.series_from_tags(row): lp.decode_text(str(row["_value"]))
            for row in self._rows(flux.last_query(self._b, "unit"))
        }
        return values, units

    def latest(self) -> pd.DataFrame:
        values, units = self._last()
        rows = []
        for row in values:
            series = lp.series_from_tags(row)
            rows.append((series, ms(row["_time"]), row["_value"], units.get(series)))
        return latest_frame(rows)

    def list_series(self) -> list[SeriesInfo]:
        values, units = self._last()
        infos = []
        for row in values:
            infos.append(rows_.series_info(row, units))
        return sorted(infos, key=lambda info: info.series)

    def iter_readings(
        self,
        since_ms: int | None = None,
        until_ms: int | None = None,
        machine: str | None = None,
        sensor: str | None = None,
        chunk: int = 50_000,
    ) -> Iterator[list[Reading]]:
        if _empty_range(since_ms, until_ms):
            return
        for info in self.list_series():
            tags = self._series_tags(info.series)
            if tags is None or not series_matches(info, machine, sensor):
                continue
            batch: list[Reading] = []
            for row in self._stream(flux.series_query(self._b, tags, since_ms, until_ms, None)):
                batch.append(Reading(info.series, ms(row["_time"]), float(row["_value"]), info.unit))
                if len(batch) >= chunk:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def count_readings(self) -> int:
        rows = self._rows(flux.count_query(self._b))
        return int(rows[0]["_value"]) if rows else 0

    def read_deadletters(self, since_ms: int | None = None, limit: int | None = None) -> list[DeadLetter]:
        rows = self._rows(flux.records_query(self._b, lp.DEADLETTER, since_ms, (), limit))
        return [rows_.deadletter(row) for row in rows]

    def _machine_rows(self, measurement: str, machine: str | None, since_ms: int | None) -> list[Row]:
        try:
            tags = lp.machine_tags(machine) if machine is not None else []
        except ValueError:  # machine_tags' contract: not a machine path, so nothing can be stored under it
            return []
        return self._rows(flux.records_query(self._b, measurement, since_ms, tags))

    def read_states(self, machine: str | None = None, since_ms: int | None = None) -> list[StateChange]:
        changes = [rows_.state(row) for row in self._machine_rows(lp.STATE, machine, since_ms)]
        return sorted(changes, key=lambda change: (change.machine, change.ts_ms))

    def read_parts(self, machine: str | None = None, since_ms: int | None = None) -> list[PartResult]:
        return [rows_.part(row) for row in self._machine_rows(lp.PART, machine, since_ms)]

    def read_part_outcomes(self, since_ms: int | None = None, until_ms: int | None = None) -> list[PartOutcome]:
        parts = self.read_parts(since_ms=since_ms)  # the part records are one row each: no lighter query to make
        return [(p.machine, p.ts_ms, p.good) for p in parts if until_ms is None or p.ts_ms < until_ms]

    def read_part_machines(self, since_ms: int | None = None, until_ms: int | None = None) -> list[str]:
        return sorted({machine for machine, _, _ in self.read_part_outcomes(since_ms, until_ms)})

    def read_events(self, since_ms: int | None = None) -> list[FaultEvent]:
        return [rows_.event(row) for row in self._rows(flux.records_query(self._b, lp.EVENT, since_ms))]

    def read_alarms(self, active_only: bool = False, since_ms: int | None = None) -> list[Alarm]:
        rows = self._rows(flux.records_query(self._b, lp.ALARM, since_ms))
        alarms = [rows_.alarm(row) for row in rows if row.get("alarm_id") is not None]
        return [alarm for alarm in alarms if alarm.active or not active_only]

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------------------------------- helpers


def _latest_versions(ordered: list[LimitsVersion]) -> list[LimitsVersion]:
    """The newest version of each series from a list ordered by (series, version)."""
    newest: dict[str, LimitsVersion] = {}
    for version in ordered:
        newest[version.series] = version
    return list(newest.values())


def _seconds(retry_after: object) -> float | None:
    try:
        return float(str(retry_after)) if retry_after is not None else None
    except ValueError:
        return None


def _rfc3339_ns(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{rest:09d}Z"


def _empty_range(since_ms: int | None, until_ms: int | None) -> bool:
    return since_ms is not None and until_ms is not None and until_ms <= since_ms


# ----------------------------------------------------------------------------- administration (tests, setup)


def create_bucket(url: str, token: str, retention_s: int = 0) -> None:
    """Create the bucket a store URL names (0 = keep forever); for tests and first-time setup."""
    target = parse_influx_url(url)
    with InfluxDBClient(url=target.http_url, token=token, org=target.org, ssl_ca_cert=target.ca_file) as client:
        rules = [BucketRetentionRules(type="expire", every_seconds=retention_s)] if retention_s else []  # type: ignore[no-untyped-call]
        client.buckets_api().create_bucket(bucket_name=target.bucket, org=target.org, retention_rules=rules)


def delete_bucket(url: str, token: str) -> None:
    """Delete the bucket a store URL names, if it exists."""
    target = parse_influx_url(url)
    with InfluxDBClient(url=target.http_url, token=token, org=target.org, ssl_ca_cert=target.ca_file) as client:
        bucket = client.buckets_api().find_bucket_by_name(target.bucket)
        if bucket is not None:
            client.buckets_api().delete_bucket(bucket)
