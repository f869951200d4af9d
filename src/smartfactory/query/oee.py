"""OEE from the store, the one read path of `smartfactory oee` and the dashboard: stored state changes and parts
of a window → the pure OEE engine (`smartfactory.kpi`).

    inputs = oee_inputs(store, settings.sim.dir, settings.sim.plant)
    result = oee_from_store(store, since_ms, until_ms, inputs)
    result.report.plant.oee, result.excluded

Ids: a machine is its full path (`acme/plant1/machining/line-1/cnc-01`), the id the simulator's ground truth
uses too; its line is the line id `area/line` (`machining/line-1`, `MachinePath.line_id`), so two areas' `line-1`
are two lines.

Ideal cycle times (`query.plantinfo.ideal_cycles`): announced in the machine's birth, else set in the plant file.
A machine with neither is **left out** of every row (machine, line, plant) and named in `excluded`; the CLI and the
dashboard say so. Nothing is estimated from the data: a performance measured against a guessed rating would look
like a real figure. When no machine is left, `NoIdealCycleError` says what to set.

Which stored changes a window needs (per machine), so that the result equals the OEE computed from the whole
history: every change inside the window, and the changes before it back to the start of the episode the
machine was in `startup_window_s` before `since`. That episode's whole length classifies it (a long jam is a
breakdown, a short one a small stop), and a run that starts less than `startup_window_s` before `since` must
know what came before it to tell start-up scrap from production scrap. States still open at `until` end there,
as on the simulator side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory import kpi
from smartfactory.errors import ConfigError
from smartfactory.model import StateChange
from smartfactory.query.plantinfo import PlantInfo, PlantSettings, ideal_cycles, load_plant_settings
from smartfactory.query.series import line_of, machine_path
from smartfactory.storage import Storage
from smartfactory.wire import format_ts

_KNOWN_STATES = frozenset(s.value for s in kpi.State)


class NoStatesError(ConfigError):
    """The store holds no machine state for the window asked for."""


class NoIdealCycleError(ConfigError):
    """No machine of the window has an ideal cycle time, so no OEE can be computed."""


@dataclass(frozen=True, slots=True)
class OeeInputs:
    """Plant name, ideal cycle time per machine path, shift calendar and loss settings."""

    plant: str
    ideal_cycle_s: Mapping[str, float]
    calendar: kpi.ShiftCalendar | None
    settings: kpi.OeeSettings
    #: where a missing ideal cycle time can be set (named in the messages)
    plant_source: str = "the plant file"

    @classmethod
    def from_plant_info(cls, info: PlantInfo) -> OeeInputs:
        source = info.settings.source if info.settings is not None else "the plant file"
        return cls(info.name, info.ideal_cycle_s, info.calendar, info.oee, source)


def oee_inputs(store: Storage, sim_dir: Path, plant: str) -> OeeInputs:
    """Inputs from the store's machine facts and the plant file `plant` (which must be readable)."""
    settings: PlantSettings = load_plant_settings(sim_dir, plant)
    cycles = ideal_cycles(store.read_machine_info(), settings)
    return OeeInputs(settings.name, cycles, settings.calendar, settings.oee, settings.source)


# ------------------------------------------------------------------------------------------ selecting machines


def matches_machine(machine: str, ref: str) -> bool:
    """`ref` is the full path, `line/name` or name of `machine` (a trailing part of its path)."""
    return machine == ref or machine.endswith("/" + ref.strip("/"))


def resolve_lines(lines: Collection[str], machines: Iterable[str]) -> set[str]:
    """Line ids for `--line` values: a line id (`machining/line-1`), or a bare line name (`line-1`) when it
    names one line only; `ConfigError` when a bare name is in several areas."""
    pool = set(machines)
    known = {line_of(m) for m in pool}
    paths = [p for p in (machine_path(m) for m in pool) if p is not None]
    out: set[str] = set()
    for line in lines:
        if line in known:
            out.add(line)
            continue
        named = sorted({p.line_id for p in paths if p.line == line})
        if len(named) > 1:
            raise ConfigError(f"line {line!r} is in several areas ({', '.join(named)}): give the line id area/line")
        out.update(named)
    return out


def select_machines(machines: Iterable[str], lines: Collection[str] = (), refs: Collection[str] = ()) -> list[str]:
    """The machines that pass the `--line` and `--machine` filters (each filter: any of its values)."""
    pool = set(machines)
    wanted_lines = resolve_lines(lines, pool) if lines else set()
    return sorted(
        m
        for m in pool
        if (not lines or line_of(m) in wanted_lines) and (not refs or any(matches_machine(m, ref) for ref in refs))
    )


# ------------------------------------------------------------------------------------------ the window


@dataclass(frozen=True, slots=True)
class OeeWindow:
    """What the engine needs of `[since_ms, until_ms)`: whole state intervals (with the context before the
    window, see the module docstring) and the part events inside it, of the selected machines."""

    since_ms: int
    until_ms: int
    intervals: tuple[kpi.StateInterval, ...]
    parts: tuple[kpi.PartEvent, ...]

    @property
    def machines(self) -> list[str]:
        """Machines with a state in the window or a part in it."""
        found = {iv.machine for iv in self.intervals if iv.end_ms > self.since_ms} | {p.machine for p in self.parts}
        return sorted(found)

    def current(self) -> dict[str, kpi.StateInterval]:
        """Each machine's state at the end of the window (its last interval)."""
        out: dict[str, kpi.StateInterval] = {}
        for iv in self.intervals:
            known = out.get(iv.machine)
            if known is None or iv.start_ms >= known.start_ms:
                out[iv.machine] = iv
        return out


def _window_changes(
    changes: Sequence[StateChange], since_ms: int, until_ms: int, lookback_ms: int
) -> list[StateChange]:
    """One machine's changes (sorted by time) that the window needs; see the module docstring."""
    anchor_ms = since_ms - lookback_ms
    first = 0
    for i, change in enumerate(changes):
        if change.ts_ms > anchor_ms:
            break
        first = i
    # walk back over repeats of the same state and reason: they continue one episode
    while first > 0 and (changes[first - 1].state, changes[first - 1].reason) == (
        changes[first].state,
        changes[first].reason,
    ):
        first -= 1
    return [c for c in changes[first:] if c.ts_ms < until_ms]


def load_window(
    store: Storage,
    since_ms: int,
    until_ms: int,
    settings: kpi.OeeSettings,
    *,
    lines: Collection[str] = (),
    machines: Collection[str] = (),
) -> OeeWindow:
    """State intervals and part events of `[since_ms, until_ms)` for the machines that pass the filters.

    Reads all stored states (the protocol has no upper bound or "last before" query; fine for SQLite) and the
    parts from `since_ms` on. States the OEE engine does not know are skipped (ingestion stores none).
    Raises `NoStatesError` when no selected machine has a state in the window."""
    by_machine: dict[str, list[StateChange]] = defaultdict(list)
    all_states = store.read_states()
    for change in all_states:
        if change.state in _KNOWN_STATES:
            by_machine[change.machine].append(change)
    chosen = select_machines(by_machine, lines, machines)
    changes: list[kpi.StateChange] = []
    for machine in chosen:
        ordered = sorted(by_machine[machine], key=lambda c: c.ts_ms)  # stable: equal stamps keep store order
        line = line_of(machine)
        for c in _window_changes(ordered, since_ms, until_ms, settings.startup_window_ms):
            changes.append(kpi.StateChange(machine=machine, ts_ms=c.ts_ms, state=c.state, reason=c.reason, line=line))
    intervals = kpi.intervals_from_changes(changes, until_ms)  # those before `since` give context only
    if not any(iv.end_ms > since_ms for iv in intervals):
        raise NoStatesError(_no_states_message(store, all_states, since_ms, until_ms, lines, machines))
    line_of_chosen = {machine: line_of(machine) for machine in chosen}
    event = kpi.PartEvent
    parts = [
        event(machine, line_of_chosen[machine], ts_ms, good)
        for machine, ts_ms, good in store.read_part_outcomes(since_ms, until_ms)
        if machine in line_of_chosen
    ]
    return OeeWindow(since_ms, until_ms, tuple(intervals), tuple(parts))


def _no_states_message(
    store: Storage,
    all_states: Sequence[StateChange],
    since_ms: int,
    until_ms: int,
    lines: Collection[str],
    machines: Collection[str],
) -> str:
    window = f"{format_ts(since_ms)} … {format_ts(until_ms)}"
    if not all_states:
        return (
            f"no machine states in {store.url} at all: run `smartfactory ingest` while a simulator publishes "
            "(`smartfactory demo` does both), or point --store at the store they wrote to"
        )
    known = sorted({c.machine for c in all_states})
    if (lines or machines) and not select_machines(known, lines, machines):
        return (
            f"no stored machine matches --line {sorted(lines) or '*'} --machine {sorted(machines) or '*'} in "
            f"{store.url}; stored machines: {', '.join(known)}"
        )
    first = min(c.ts_ms for c in all_states)
    last = max(c.ts_ms for c in all_states)
    return (
        f"no machine states in {store.url} for {window}: stored states run from {format_ts(first)} to "
        f"{format_ts(last)}; choose --since/--until inside that range (e.g. --since 8h)"
    )


# ------------------------------------------------------------------------------------------ OEE


@dataclass(frozen=True, slots=True)
class StoredOee:
    """The OEE report of a window, the window it was computed from, and the machines left out of it."""

    report: kpi.OeeReport
    window: OeeWindow
    #: machines with states or parts in the window but no ideal cycle time: in no row of the report
    excluded: tuple[str, ...] = field(default_factory=tuple)


def excluded_note(excluded: Sequence[str], plant_source: str) -> str:
    """What to say about machines without an ideal cycle time."""
    return (
        f"left out (no ideal cycle time): {', '.join(excluded)}. Their birth messages announced none and "
        f"{plant_source} sets none: set ideal_cycle_s for them there (or in their machine type)"
    )


def compute(window: OeeWindow, inputs: OeeInputs) -> StoredOee:
    """OEE of the window for every machine with an ideal cycle time, its lines and the plant (named after the
    plant file), whole window and per shift of the calendar. `NoIdealCycleError` when no machine has one."""
    present = window.machines
    excluded = tuple(m for m in present if inputs.ideal_cycle_s.get(m, 0.0) <= 0)
    usable = set(present) - set(excluded)
    if not usable:
        raise NoIdealCycleError(
            f"no OEE for {window_text(window)}: {excluded_note(excluded, inputs.plant_source)}; "
            "or pick the plant they come from with --plant"
        )
    report = kpi.compute_oee(
        [iv for iv in window.intervals if iv.machine in usable],
        [p for p in window.parts if p.machine in usable],
        {m: inputs.ideal_cycle_s[m] for m in usable},
        window.since_ms,
        window.until_ms,
        calendar=inputs.calendar,
        settings=inputs.settings,
        plant=inputs.plant,
    )
    return StoredOee(report, window, excluded)


def window_text(window: OeeWindow) -> str:
    return f"{format_ts(window.since_ms)} … {format_ts(window.until_ms)}"


def oee_from_store(
    store: Storage,
    since_ms: int,
    until_ms: int,
    inputs: OeeInputs,
    *,
    lines: Collection[str] = (),
    machines: Collection[str] = (),
) -> StoredOee:
    """OEE of `[since_ms, until_ms)` from stored states and parts (see the module docstring)."""
    if until_ms <= since_ms:
        raise ConfigError(
            f"the window is empty: --until ({format_ts(until_ms)}) must come after --since ({format_ts(since_ms)})"
        )
    window = load_window(store, since_ms, until_ms, inputs.settings, lines=lines, machines=machines)
    return compute(window, inputs)
