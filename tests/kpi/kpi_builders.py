"""Small builders shared by the kpi tests: wall-clock helpers and evenly spread part events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from smartfactory.kpi import PartEvent, StateInterval

MIN = 60_000  # ms per minute
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # 2024-01-01 is a Monday
T0 = int(MONDAY.timestamp() * 1000)


def at(day: int, hh: int, mm: int = 0) -> int:
    """UTC milliseconds of day `day` after Monday 2024-01-01 at hh:mm."""
    return T0 + (day * 24 * 60 + hh * 60 + mm) * MIN


def intervals(machine: str, line: str, spans: Sequence[tuple[int, int, str, str | None]]) -> list[StateInterval]:
    return [StateInterval(machine, line, state, reason, start, end) for start, end, state, reason in spans]


def spread_parts(
    machine: str, line: str, running: Sequence[tuple[int, int]], count: int, scrap: int
) -> list[PartEvent]:
    """`count` parts spread evenly over the running spans; `scrap` of them, spread evenly too, are bad."""
    run_ms = sum(b - a for a, b in running)
    parts = []
    for k in range(count):
        offset = k * run_ms // count
        for a, b in running:
            if offset < b - a:
                ts = a + offset
                break
            offset -= b - a
        bad = (k * scrap) // count != ((k + 1) * scrap) // count
        parts.append(PartEvent(machine, line, ts, not bad))
    return parts
