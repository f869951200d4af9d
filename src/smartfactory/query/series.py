"""Stored series and machines: names, labels, grouping by line, the first readings of a series.

Every id is parsed with the wire's functions (`parse_series`, `MachinePath.parse`), never split by hand. A line
is named by its line id `area/line` (`machining/line-1`, `MachinePath.line_id`): a bare `line-1` is not unique
across areas. Ids that do not parse (written into a store by hand, not by ingestion) stay usable: a machine id
that is no machine path is its own line and its own short name; a series id that is no series has no machine.

Parsing validates every level, which costs ~60 µs an id; readers call these per stored row (a part, a state
change, an alarm) over a handful of distinct ids, so the parses are memoised (bounded by `_IDS` distinct ids;
every value returned is immutable).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from smartfactory.errors import ConfigError, WireError
from smartfactory.model import Reading, SeriesInfo
from smartfactory.storage import Storage
from smartfactory.wire import MachinePath, parse_series

#: Distinct ids whose parse is remembered (a plant of 2,000 series has ~500 machines).
_IDS = 65_536


@lru_cache(maxsize=_IDS)
def machine_path(machine: str) -> MachinePath | None:
    """The parsed machine path, or None for an id that is not `enterprise/site/area/line/machine`."""
    try:
        return MachinePath.parse(machine)
    except WireError:
        return None


@lru_cache(maxsize=_IDS)
def line_of(machine: str) -> str:
    """The line id `area/line` of a machine path (`…/machining/line-1/cnc-01` → `machining/line-1`)."""
    path = machine_path(machine)
    return machine if path is None else path.line_id


def short(machine: str) -> str:
    """The machine's own name (`cnc-01`), the last level of its path."""
    path = machine_path(machine)
    return machine if path is None else path.machine


def line_and_name(machine: str) -> str:
    """`line-1/cnc-01`: short, but unique within an area (the CLI's table)."""
    path = machine_path(machine)
    return machine if path is None else f"{path.line}/{path.machine}"


@dataclass(frozen=True, slots=True)
class SeriesParts:
    """A series id as machine and sensor (`machine` is "" for an id that is not a series)."""

    series: str
    machine: str
    sensor: str

    @property
    def line(self) -> str:
        return line_of(self.machine) if self.machine else ""


@lru_cache(maxsize=_IDS)
def split_series(series: str) -> SeriesParts:
    """Machine path and sensor of a series id (`…/cnc-01/telemetry/spindle_temp`)."""
    try:
        sid = parse_series(series)
    except WireError:
        return SeriesParts(series, "", series)
    return SeriesParts(series, sid.machine, sid.sensor)


def machine_of(series: str) -> str:
    return split_series(series).machine


def sensor_of(series: str) -> str:
    return split_series(series).sensor


def series_label(series: str) -> str:
    """`machining/line-1 · cnc-01 · spindle_temp`: the label pages show and bookmarks carry (`?series=`)."""
    parts = split_series(series)
    if not parts.machine:
        return series
    return f"{parts.line} · {short(parts.machine)} · {parts.sensor}"


def machines_by_line(machines: Iterable[str]) -> dict[str, list[str]]:
    """Machine paths grouped by line id, both sorted."""
    grouped: dict[str, list[str]] = {}
    for machine in sorted(set(machines)):
        grouped.setdefault(line_of(machine), []).append(machine)
    return dict(sorted(grouped.items()))


def series_machines(infos: Iterable[SeriesInfo]) -> set[str]:
    """The machines that have stored series."""
    return {m for m in (machine_of(i.series) for i in infos) if m}


def series_of_machine(infos: Iterable[SeriesInfo], machine: str) -> list[SeriesInfo]:
    return [i for i in infos if machine_of(i.series) == machine]


def first_readings(store: Storage, series: str, count: int) -> list[Reading]:
    """The first `count` readings of a series (fewer while it has fewer), in time order."""
    parts = split_series(series)
    if not parts.machine:
        return []
    chunks = store.iter_readings(machine=parts.machine, sensor=parts.sensor, chunk=count)
    try:
        return next(chunks, [])
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()  # stop the backend's query after the first chunk


def oldest_ms(store: Storage, infos: Iterable[SeriesInfo]) -> int | None:
    """The first reading of any series (one indexed lookup per series)."""
    firsts = [r.ts_ms for info in infos for r in first_readings(store, info.series, 1)]
    return min(firsts) if firsts else None


def match_series(name: str, stored: Iterable[str]) -> str:
    """The series `name` means among `stored` ids: the id itself, or the one id that ends with it in whole
    /-separated levels (`cnc-01/telemetry/spindle_temp`, `spindle_temp` if no other series has that name).
    `ConfigError` when none or several fit, naming them (`smartfactory export --series`, `spc analyze --series`)."""
    ids = list(stored)
    if name in ids:
        return name
    ending = name.strip("/")
    matches = sorted(s for s in ids if s.endswith("/" + ending))
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:3]) + (f" … and {len(matches) - 3} more" if len(matches) > 3 else "")
        raise ConfigError(f"--series {name!r} fits {len(matches)} series ({shown}): give more of the id")
    known = ", ".join(sorted(ids)[:5]) + (f" … and {len(ids) - 5} more" if len(ids) > 5 else "")
    raise ConfigError(f"--series {name!r}: no such series; the store has {known or 'no series yet'}")
