"""Health of an ingestion worker: its counters, the snapshot it publishes, and rejection logging that cannot flood.

The snapshot is published (retained) on `_sf/health/{worker}` every `ingest.health_interval` seconds and shown by
`smartfactory status`. Counters only grow; gauges (`queue_depth`, `lag_ms`, `spool_pending`, …) are the value now.

| key               | meaning                                                                           |
|-------------------|-----------------------------------------------------------------------------------|
| received          | machine-topic messages received (system topics `_sf/…` are not counted)           |
| readings          | readings decoded from them                                                        |
| stored            | readings newly written to the store (live and replayed from the spool)            |
| duplicates        | readings the store already held (QoS 1 redelivery, replay): not stored again       |
| conflicts         | readings that replaced a stored one of the same key with another value (last wins) |
| redelivered       | messages the broker flagged as redeliveries (DUP)                                 |
| rejected          | dead letters by reason; `rejected_total` is their sum                             |
| rejected_again    | of those, messages already dead-lettered (same topic, bytes, reason): not stored again |
| contained         | failures kept away from the writer, by kind (`spc_error`, `future_not_charted`, …) |
| series            | distinct series admitted (gauge; capped by `ingest.max_series`)                    |
| spc_disabled      | series whose SPC monitor failed and was switched off until a restart (gauge)      |
| spc_cannot_learn  | series whose phase I gave no finite limits (overflow, no variation): never charted (gauge) |
| spooled           | readings written to the local spool while the store was unavailable               |
| replayed          | readings replayed from the spool into the store                                   |
| spool_pending     | spool records (batches) not yet replayed; `spool_bytes` their size on disk        |
| write_errors      | failed store or spool writes (each one retried)                                   |
| alarms            | SPC alarms raised                                                                 |
| queue_depth       | messages received but not yet written (`queue_bytes`: their payload bytes)        |
| lag_ms            | how long the oldest of those has waited: 0 when ingestion keeps up                |
| data_age_ms       | receive time minus the timestamp of the newest reading (publisher delay + clock)   |
| state             | `ok`, `spooling` (store unavailable), `stopping`, `stopped`; `lost` is the will    |
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from smartfactory.model import DeadLetter


@dataclass(slots=True)
class Counters:
    received: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    redelivered: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_again: int = 0
    contained: Counter[str] = field(default_factory=Counter)
    spooled: int = 0
    replayed: int = 0
    write_errors: int = 0
    alarms: int = 0
    data_age_ms: int = 0

    def snapshot(self, queue_depth: int = 0) -> dict[str, Any]:
        """The counters as plain data (`queue_depth` kept as a parameter for callers of the first version)."""
        return {
            "received": self.received,
            "readings": self.readings,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "redelivered": self.redelivered,
            "rejected": dict(self.rejected),
            "rejected_total": sum(self.rejected.values()),
            "rejected_again": self.rejected_again,
            "contained": dict(self.contained),
            "spooled": self.spooled,
            "replayed": self.replayed,
            "write_errors": self.write_errors,
            "alarms": self.alarms,
            "queue_depth": queue_depth,
            "data_age_ms": self.data_age_ms,
        }


class RejectLog:
    """Logs rejections at most once per reason per `interval` seconds, saying how many were not logged.

    A flood of one bad publisher costs one line per interval per reason, whatever its rate; every rejection is
    still counted, stored and published as a dead letter.
    """

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._quiet: Counter[str] = Counter()

    def __call__(self, letter: DeadLetter, total: int) -> bool:
        """Log this rejection if its reason has not been logged within the interval; True when it was."""
        now = time.monotonic()
        last = self._last.get(letter.reason)
        if last is not None and now - last < self.interval:
            self._quiet[letter.reason] += 1
            return False
        self._last[letter.reason] = now
        quiet = self._quiet.pop(letter.reason, 0)
        self.logger.warning(
            "rejected a message on %r (%s: %s); %d rejected for this reason so far%s",
            letter.topic,
            letter.reason,
            letter.detail,
            total,
            f", {quiet} since the last line not logged" if quiet else "",
        )
        return True


class Throttle:
    """True at most once per `interval` seconds per key: for log lines of conditions that repeat (store down)."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -1e18) < self.interval:
            return False
        self._last[key] = now
        return True


#: States of a worker that is up and taking messages.
LIVE_STATES = frozenset({"ok", "spooling"})


def healthy_workers(reports: dict[str, dict[str, Any]], now_ms: int, worker: str | None = None) -> list[str]:
    """Workers (only `worker`, when given) whose latest report is fresh (younger than three of its intervals)
    and says `ok` or `spooling`. A retained last will (`lost`), a `stopped` or `failed` report, or an old one
    does not count: `smartfactory status` exits 1 when this is empty (the compose healthcheck)."""
    found = []
    for name, report in reports.items():
        if worker is not None and name != worker:
            continue
        ts, interval = report.get("ts"), report.get("interval_s", 5.0)
        if report.get("state") not in LIVE_STATES or not isinstance(ts, int) or not isinstance(interval, int | float):
            continue
        if now_ms - ts <= 3 * float(interval) * 1000:
            found.append(name)
    return sorted(found)


_COLUMNS = (
    ("received", "received"),
    ("stored", "stored"),
    ("duplicates", "dupl"),
    ("rejected_total", "rejected"),
    ("spooled", "spooled"),
    ("spool_pending", "spool"),
    ("queue_depth", "queue"),
    ("lag_ms", "lag_ms"),
)


def format_status(reports: dict[str, dict[str, Any]], now_ms: int) -> str:
    """The table `smartfactory status` prints: one row per worker, a total row, rejections by reason."""
    rows = []
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for worker, report in sorted(reports.items()):
        state = str(report.get("state", "?"))
        ts = report.get("ts")
        interval = float(report.get("interval_s", 5.0))
        if isinstance(ts, int):
            age = (now_ms - ts) / 1000
            when = f"{age:.0f}s ago"
            if age > 3 * interval and state not in ("stopped", "lost"):
                state += " (stale)"
        else:
            when = "-"
        numbers = [report.get(key) for key, _ in _COLUMNS]
        rows.append([worker, state, when, *("-" if n is None else str(n) for n in numbers)])
        for key, _ in _COLUMNS:
            value = report.get(key)
            if isinstance(value, int):
                totals[key] += value
        rejected = report.get("rejected")
        if isinstance(rejected, dict):
            reasons.update({str(k): int(v) for k, v in rejected.items()})
    header = ["worker", "state", "report", *(title for _, title in _COLUMNS)]
    if len(rows) > 1:
        rows.append(["all workers", "", "", *(str(totals[key]) for key, _ in _COLUMNS)])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in [header, *rows]
    ]
    if reasons:
        lines.append("rejected by reason: " + ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())))
    if any(r.get("state") == "lost" for r in reports.values()):
        lines.append("lost: the worker's connection dropped without a goodbye (crash or network); restart it")
    return "\n".join(lines)
