"""The lab API: a store's data as pandas DataFrames, for notebooks and scripts.

    import smartfactory

    lab = smartfactory.open_store("sqlite:///data/smartfactory.db")
    lab.series()                                          # what is stored: one row per sensor
    df = lab.readings(series="cnc-01/telemetry/spindle_temp", since="2h")
    df.plot(x="ts", y="value")
    lab.parts(machine="filler-01")                        # one row per part, a column per measurement
    lab.states()                                          # state changes with their end and duration
    lab.alarms(), lab.truth()                             # SPC alarms; the simulator's ground-truth faults
    lab.oee(since="8h").report.plant.oee                  # the same OEE `smartfactory oee` prints

Everything here only reads: a store that does not exist is an error, nothing is created (`open_existing_store`).

**Times.** Every `since`/`until` takes a duration before the newest stored data (`"2h"`, `"15m"`, `"1h30m"`), an
ISO-8601 time (`"2026-11-22T10:00Z"`; no zone means UTC), a `datetime`/`pandas.Timestamp` (naive means UTC) or
integer epoch milliseconds. Durations count back from the newest timestamp in the store, not from the wall clock,
so `since="2h"` is the last two hours of data even when the plant ran on simulated time (as the CLI does).
`since` is inclusive, `until` exclusive. Returned times (column `ts`, and `end`) are UTC `pandas.Timestamp`s.

**Names.** A `series` is a full series id (`acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp`) or a
unique ending of one in whole levels (`cnc-01/telemetry/spindle_temp`, or `spindle_temp` if only one machine has
it); a `machine` is a full machine path, `line/name` or a name (`cnc-01`). An ambiguous or unknown name raises
`ConfigError` naming the candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pandas as pd

from smartfactory.errors import ConfigError
from smartfactory.model import LimitsVersion, SeriesInfo
from smartfactory.query.detection import data_span
from smartfactory.query.oee import OeeInputs, StoredOee, matches_machine, oee_from_store
from smartfactory.query.plantinfo import PlantInfo, SpecLimits, plant_info
from smartfactory.query.series import line_of, match_series, split_series
from smartfactory.query.window import parse_time
from smartfactory.settings import Settings, load_settings
from smartfactory.storage import Storage
from smartfactory.stores import open_existing_store
from smartfactory.wire import ms_from_datetime

#: What `since` and `until` accept (see the module docstring).
TimeLike = str | int | datetime | pd.Timestamp | None

READING_COLUMNS = ["series", "machine", "sensor", "ts", "value", "unit"]
SERIES_COLUMNS = ["series", "enterprise", "site", "area", "line", "machine", "sensor", "unit"]
PART_COLUMNS = ["machine", "line", "ts", "part_id", "good"]
STATE_COLUMNS = ["machine", "line", "ts", "state", "reason", "end", "duration_s"]
ALARM_COLUMNS = ["alarm_id", "series", "ts", "rules", "value", "active", "message", "cleared", "acked", "acked_by"]
TRUTH_COLUMNS = ["machine", "ts", "kind", "fault", "sensor", "params", "affects"]
MACHINE_COLUMNS = ["machine", "line", "machine_type", "ideal_cycle_s", "sample_interval_s", "signals"]
LIMIT_COLUMNS = ["series", "version", "ts", "center", "sigma", "lcl", "ucl", "nsigmas", "n", "source", "detector"]


def _utc(ms: Iterable[int | None]) -> pd.Series:
    """Epoch milliseconds (None for missing) → UTC timestamps (NaT for missing)."""
    return pd.to_datetime(pd.Series(list(ms), dtype="Int64"), unit="ms", utc=True)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str], times: Sequence[str] = ("ts",)) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns)) if rows else pd.DataFrame(columns=list(columns))
    for column in times:
        frame[column] = _utc(frame[column].tolist()) if rows else pd.Series(dtype="datetime64[ms, UTC]")
    return frame


class LabStore:
    """Read-only access to one store, every record kind as a DataFrame (see the module docstring)."""

    def __init__(self, store: Storage, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or load_settings(store=store.url)

    @property
    def url(self) -> str:
        return self.store.url

    # ------------------------------------------------------------------ times and names

    def _now_ms(self) -> int | None:
        span = data_span(self.store)
        return None if span is None else span.until_ms - 1

    def to_ms(self, value: TimeLike) -> int | None:
        """Epoch milliseconds of a `since`/`until` value (None stays None; see "Times" in the module docstring)."""
        if value is None:
            return None
        if isinstance(value, bool):
            raise ConfigError(f"not a time: {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime):
            return ms_from_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))
        if isinstance(value, str):
            return parse_time(value, self._now_ms())
        raise ConfigError(f"not a time: {value!r} (give a duration like '2h', an ISO-8601 time or epoch ms)")

    def _window(self, since: TimeLike, until: TimeLike) -> tuple[int | None, int | None]:
        since_ms, until_ms = self.to_ms(since), self.to_ms(until)
        if since_ms is not None and until_ms is not None and until_ms <= since_ms:
            raise ConfigError(f"the window is empty: until ({until!r}) is not after since ({since!r})")
        return since_ms, until_ms

    def find_series(self, name: str) -> str:
        """The full series id `name` means (the id itself, or its unique ending in whole levels)."""
        return match_series(name, [info.series for info in self.store.list_series()])

    def find_machine(self, name: str) -> str:
        """The full machine path `name` means (the path itself, `line/name` or a unique name)."""
        known = self._machines()
        if name in known:
            return name
        found = sorted(m for m in known if matches_machine(m, name))
        if len(found) == 1:
            return found[0]
        listed = ", ".join(found or sorted(known)) or "none stored yet"
        what = f"fits {len(found)} machines" if found else "is no stored machine"
        raise ConfigError(f"machine {name!r} {what}: {listed}")

    def _machines(self) -> set[str]:
        found = {split_series(info.series).machine for info in self.store.list_series()}
        found |= {s.machine for s in self.store.read_states()}
        found |= set(self.store.read_machine_info())
        return {m for m in found if m}

    # ------------------------------------------------------------------ what is stored

    def series(self) -> pd.DataFrame:
        """Every stored series: `series` (the id), its place in the plant (`enterprise` … `line`, `machine` as the
        full machine path), `sensor` and `unit`."""
        rows = [self._series_row(info) for info in self.store.list_series()]
        return pd.DataFrame(rows, columns=SERIES_COLUMNS)

    @staticmethod
    def _series_row(info: SeriesInfo) -> dict[str, Any]:
        return {
            "series": info.series,
            "enterprise": info.enterprise,
            "site": info.site,
            "area": info.area,
            "line": info.line,
            "machine": split_series(info.series).machine or info.machine,
            "sensor": info.sensor,
            "unit": info.unit,
        }

    def machines(self) -> pd.DataFrame:
        """The machines' facts from their birth messages: type, ideal cycle time (s), sampling interval (s) and
        the names of their signals."""
        rows = [
            {
                "machine": machine,
                "line": line_of(machine),
                "machine_type": info.machine_type,
                "ideal_cycle_s": info.ideal_cycle_s,
                "sample_interval_s": info.sample_interval_s,
                "signals": sorted(info.signals),
            }
            for machine, info in sorted(self.store.read_machine_info().items())
        ]
        return pd.DataFrame(rows, columns=MACHINE_COLUMNS)

    def plant(self, plant: str | None = None) -> PlantInfo:
        """Machine facts from the store and the plant file's calendar and OEE settings (`query.plantinfo`);
        `plant` is a plant name or a .toml path (default: the `sim.plant` setting)."""
        return plant_info(self.store, self.settings.sim.dir, plant or self.settings.sim.plant)

    def spec_limits(self, series: str) -> SpecLimits:
        """LSL, USL and target of a sensor or part characteristic, as its machine announced them.

        `series` is a series (`cnc-01/telemetry/spindle_temp`) or `machine/characteristic` of a part measurement
        (`filler-01/fill_weight`)."""
        info = self.store.read_machine_info()
        try:
            parts = split_series(self.find_series(series))
            machine, name = parts.machine, parts.sensor
        except ConfigError:
            head, _, name = series.rstrip("/").rpartition("/")
            if not head:
                raise
            machine = self.find_machine(head)
        machine_info = info.get(machine)
        return SpecLimits.of(None if machine_info is None else machine_info.signals.get(name))

    def ideal_cycle_s(self) -> dict[str, float]:
        """Ideal cycle time (s) per machine path: announced in the birth, else set in the plant file."""
        return dict(self.plant().ideal_cycle_s)

    # ------------------------------------------------------------------ records

    def readings(
        self,
        series: str | Sequence[str] | None = None,
        machine: str | None = None,
        sensor: str | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        *,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Sensor readings, one row each: `series`, `machine` (full path), `sensor`, `ts`, `value`, `unit`,
        ordered by series and time.

        Pick by `series` (one name or several), or by `machine` and/or `sensor` (a sensor name such as
        `spindle_temp` picks it on every machine). With `limit`, the newest `limit` readings of each series."""
        since_ms, until_ms = self._window(since, until)
        infos = {info.series: info for info in self.store.list_series()}
        if series is not None:
            names = [series] if isinstance(series, str) else list(series)
            chosen = [match_series(name, infos) for name in names]
        else:
            wanted_machine = None if machine is None else self.find_machine(machine)
            chosen = [
                s
                for s in infos
                if (wanted_machine is None or split_series(s).machine == wanted_machine)
                and (sensor is None or split_series(s).sensor == sensor)
            ]
        frames = []
        for sid in dict.fromkeys(chosen):
            frame = self.store.read_series(sid, since_ms, until_ms, limit)
            if frame.empty:
                continue
            parts = split_series(sid)
            frame.insert(0, "series", sid)
            frame.insert(1, "machine", parts.machine)
            frame.insert(2, "sensor", parts.sensor)
            frame["unit"] = infos[sid].unit
            frames.append(frame)
        if not frames:
            empty = pd.DataFrame(columns=READING_COLUMNS)
            empty["ts"] = pd.Series(dtype="datetime64[ms, UTC]")
            empty["value"] = pd.Series(dtype="float64")
            return empty
        return pd.concat(frames, ignore_index=True)[READING_COLUMNS]

    def parts(self, machine: str | None = None, since: TimeLike = None, until: TimeLike = None) -> pd.DataFrame:
        """Produced parts, one row each: `machine`, `line`, `ts`, `part_id`, `good` (False for scrap), then one
        column per quality characteristic measured (`fill_weight`, …; empty where a part has no such value),
        ordered by time."""
        since_ms, until_ms = self._window(since, until)
        wanted = None if machine is None else self.find_machine(machine)
        parts = sorted(
            (
                p
                for p in self.store.read_parts(wanted, since_ms)
                if (until_ms is None or p.ts_ms < until_ms) and (wanted is None or p.machine == wanted)
            ),
            key=lambda p: (p.ts_ms, p.machine, p.part_id),
        )
        rows: list[dict[str, Any]] = []
        characteristics: dict[str, None] = {}
        for p in parts:
            characteristics.update(dict.fromkeys(p.measurements))
            rows.append(
                {"machine": p.machine, "line": line_of(p.machine), "ts": p.ts_ms, "part_id": p.part_id, "good": p.good}
                | dict(p.measurements)
            )
        clashes = set(characteristics) & set(PART_COLUMNS)
        if clashes:
            raise ConfigError(f"part characteristics named like a column: {sorted(clashes)}; read store.read_parts()")
        return _frame(rows, [*PART_COLUMNS, *sorted(characteristics)])

    def states(self, machine: str | None = None, since: TimeLike = None, until: TimeLike = None) -> pd.DataFrame:
        """Machine state changes, one row each: `machine`, `line`, `ts` (when the state began), `state`, `reason`,
        `end` (the machine's next change; NaT while it lasts) and `duration_s` (NaN while it lasts), ordered by
        machine and time. A state that began before `since` but lasted into the window is not included: ask for
        an earlier `since` to see it."""
        since_ms, until_ms = self._window(since, until)
        wanted = None if machine is None else self.find_machine(machine)
        by_machine: dict[str, list[tuple[int, str, str | None]]] = {}
        for change in self.store.read_states(wanted):
            if wanted is None or change.machine == wanted:
                by_machine.setdefault(change.machine, []).append((change.ts_ms, change.state, change.reason))
        rows = []
        for name in sorted(by_machine):
            changes = sorted(by_machine[name], key=lambda c: c[0])
            for i, (ts, state, reason) in enumerate(changes):
                end = changes[i + 1][0] if i + 1 < len(changes) else None
                if (since_ms is not None and ts < since_ms) or (until_ms is not None and ts >= until_ms):
                    continue
                rows.append(
                    {
                        "machine": name,
                        "line": line_of(name),
                        "ts": ts,
                        "state": state,
                        "reason": reason,
                        "end": end,
                        "duration_s": None if end is None else (end - ts) / 1000,
                    }
                )
        frame = _frame(rows, STATE_COLUMNS, ("ts", "end"))
        frame["duration_s"] = frame["duration_s"].astype("float64")
        return frame

    def alarms(self, active_only: bool = False, since: TimeLike = None, until: TimeLike = None) -> pd.DataFrame:
        """SPC alarms of the live monitor: `alarm_id`, `series`, `ts` (raised), `rules` (the rules that fired),
        `value`, `active`, `message`, `cleared`, `acked` (times or NaT) and `acked_by`, ordered by time."""
        since_ms, until_ms = self._window(since, until)
        alarms = sorted(
            (a for a in self.store.read_alarms(active_only, since_ms) if until_ms is None or a.ts_ms < until_ms),
            key=lambda a: (a.ts_ms, a.alarm_id),
        )
        rows = [
            {
                "alarm_id": a.alarm_id,
                "series": a.series,
                "ts": a.ts_ms,
                "rules": ",".join(a.rules),
                "value": a.value,
                "active": a.active,
                "message": a.message,
                "cleared": a.cleared_ms,
                "acked": a.acked_ms,
                "acked_by": a.acked_by,
            }
            for a in alarms
        ]
        return _frame(rows, ALARM_COLUMNS, ("ts", "cleared", "acked"))

    def truth(self, since: TimeLike = None, until: TimeLike = None) -> pd.DataFrame:
        """The ground truth: every fault the simulator injected (`kind` "fault") and repaired ("repair"), at the
        exact simulated instant, with `machine`, `fault`, `sensor` (None for machine-level faults), `params` and
        `affects` (the signals it changes), ordered by time. A real plant has none: this is what the data is
        checked against in exercises."""
        since_ms, until_ms = self._window(since, until)
        events = sorted(
            (e for e in self.store.read_events(since_ms) if until_ms is None or e.ts_ms < until_ms),
            key=lambda e: (e.ts_ms, e.machine, e.kind, e.fault),
        )
        rows = [
            {
                "machine": e.machine,
                "ts": e.ts_ms,
                "kind": e.kind,
                "fault": e.fault,
                "sensor": e.sensor,
                "params": dict(e.params),
                "affects": list(e.affects),
            }
            for e in events
        ]
        return _frame(rows, TRUTH_COLUMNS)

    def limits(self, series: str | None = None, *, history: bool = False) -> pd.DataFrame:
        """The control limits the live monitor stored: newest version per series (every version with
        `history=True`): `center`, `sigma`, `lcl`, `ucl`, when they came into use (`ts`) and how they were made."""
        sid = None if series is None else self.find_series(series)
        versions: list[LimitsVersion] = self.store.read_limits(sid, latest_only=not history)
        rows = [
            {
                "series": v.series,
                "version": v.version,
                "ts": v.ts_ms,
                "center": v.center,
                "sigma": v.sigma,
                "lcl": v.lcl,
                "ucl": v.ucl,
                "nsigmas": v.nsigmas,
                "n": v.n,
                "source": v.source,
                "detector": v.detector,
            }
            for v in versions
        ]
        return _frame(rows, LIMIT_COLUMNS)

    # ------------------------------------------------------------------ figures

    def oee(self, since: TimeLike = None, until: TimeLike = None, *, plant: str | None = None) -> StoredOee:
        """OEE of `[since, until)` from the stored states and parts, computed as `smartfactory oee` does
        (`query.oee.oee_from_store`); default window: all stored data. `.report.plant.oee`,
        `.report.machine(path)`, `.report.to_dicts()`; machines without an ideal cycle time are in `.excluded`."""
        since_ms, until_ms = self._window(since, until)
        span = data_span(self.store)
        if since_ms is None or until_ms is None:
            if span is None:
                raise ConfigError(f"{self.url} holds no data yet: no OEE")
            since_ms = span.since_ms if since_ms is None else since_ms
            until_ms = span.until_ms if until_ms is None else until_ms
        return oee_from_store(self.store, since_ms, until_ms, OeeInputs.from_plant_info(self.plant(plant)))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> LabStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LabStore({self.url!r})"


def open_store(url: str | None = None) -> LabStore:
    """Open the store at `url` for reading (`sqlite:///path.db`, `influxdb://…`; default: the `SMARTFACTORY_STORE`
    setting). A SQLite file that does not exist is an error: nothing is created."""
    settings = load_settings(store=url)
    return LabStore(open_existing_store(settings), settings)
