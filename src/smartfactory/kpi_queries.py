"""Storage queries that feed the pure OEE core (`smartfactory.kpi`): stored state changes and parts of a
window, and the ideal cycle times, calendar and OEE settings of the plant file.

    inputs = plant_oee_inputs(settings.sim.dir, settings.sim.plant)
    report = oee_from_store(store, since_ms, until_ms, inputs)

Machine ids in storage are full machine paths (`enterprise/site/area/line/machine`), the ids the simulator's
ground truth uses too, so OEE from stored data and the simulator's own OEE run the same engine on the same
history (see `sim/truth.py`).

Which stored changes a window needs (per machine), so that the result equals the OEE computed from the whole
history: every change inside the window, and the changes before it back to the start of the episode the
machine was in `startup_window_s` before `since`. That episode's whole length classifies it (a long jam is a
breakdown, a short one a small stop), and a run that starts less than `startup_window_s` before `since` must
know what came before it to tell start-up scrap from production scrap. States still open at `until` end there,
as on the simulator side.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from smartfactory import kpi
from smartfactory.errors import ConfigError, SimulatorError
from smartfactory.model import PartResult, StateChange
from smartfactory.sim.loader import discover
from smartfactory.sim.plant import Plant, load_plant, resolve_plant_file
from smartfactory.storage import Storage
from smartfactory.wire import format_ts


class NoStatesError(ConfigError):
    """The store holds no machine state for the window asked for."""


@dataclass(frozen=True, slots=True)
class OeeInputs:
    """What the plant file says about OEE: ideal cycle time per machine path, calendar, settings, plant name."""

    plant: str
    ideal_cycle_s: dict[str, float]
    calendar: kpi.ShiftCalendar | None
    settings: kpi.OeeSettings


def inputs_from_plant(plant: Plant, sim_dir: Path | None) -> OeeInputs:
    """Ideal cycle times as the simulator uses them: the plant file's `ideal_cycle_s` of a machine (or of its
    type's defaults), else the machine type's own `ideal_cycle_s` (looked up in the simulators folder)."""
    ideal: dict[str, float] = {}
    missing = [spec for spec in plant.machines if spec.ideal_cycle_s is None]
    catalog = discover(sim_dir) if missing else None
    for spec in plant.machines:
        if spec.ideal_cycle_s is not None:
            ideal[str(spec.path)] = spec.ideal_cycle_s
            continue
        assert catalog is not None
        try:
            ideal[str(spec.path)] = float(catalog.get(spec.type).cls.ideal_cycle_s)
        except SimulatorError as exc:
            raise ConfigError(
                f"no ideal cycle time for {spec.path}: {exc}; or set ideal_cycle_s for it in {plant.source}"
            ) from None
    return OeeInputs(plant.name, ideal, plant.calendar, plant.oee)


def plant_oee_inputs(sim_dir: Path, plant: str) -> OeeInputs:
    """`inputs_from_plant` for a plant name (simulators/plants/NAME.toml) or a .toml path."""
    return inputs_from_plant(load_plant(resolve_plant_file(plant, sim_dir)), sim_dir)


def line_of(machine: str) -> str:
    """The line level of a machine path (`acme/plant1/machining/line-1/cnc-01` → `line-1`).

    Ids that are not 5-level paths (stored by hand or by an older tool) fall back to their parent level, or
    to the id itself when it has none, so every machine still lands on some line."""
    levels = machine.split("/")
    return levels[-2] if len(levels) >= 2 else machine


def matches_line(machine: str, line: str) -> bool:
    """`line` is the line level (`line-1`) or area/line (`machining/line-1`) of `machine`."""
    levels = machine.split("/")
    return line_of(machine) == line or (len(levels) >= 3 and "/".join(levels[-3:-1]) == line)


def matches_machine(machine: str, ref: str) -> bool:
    """`ref` is the full path, line/name or name of `machine` (a trailing part of its path)."""
    return machine == ref or machine.endswith("/" + ref.strip("/"))


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


def select_machines(machines: Iterable[str], lines: Collection[str] = (), refs: Collection[str] = ()) -> list[str]:
    """The machines that pass the `--line` and `--machine` filters (each filter: any of its values)."""
    return sorted(
        m
        for m in set(machines)
        if (not lines or any(matches_line(m, line) for line in lines))
        and (not refs or any(matches_machine(m, ref) for ref in refs))
    )


def load_window(
    store: Storage,
    since_ms: int,
    until_ms: int,
    settings: kpi.OeeSettings,
    *,
    lines: Collection[str] = (),
    machines: Collection[str] = (),
) -> tuple[list[kpi.StateInterval], list[kpi.PartEvent]]:
    """State intervals and part events of `[since_ms, until_ms)` for the machines that pass the filters.

    Reads all stored states (the protocol has no upper bound or "last before" query; fine for SQLite) and the
    parts from `since_ms` on. Raises `NoStatesError` when no selected machine has a state in the window."""
    by_machine: dict[str, list[StateChange]] = defaultdict(list)
    all_states = store.read_states()
    for change in all_states:
        by_machine[change.machine].append(change)
    chosen = select_machines(by_machine, lines, machines)
    changes: list[kpi.StateChange] = []
    for machine in chosen:
        ordered = sorted(by_machine[machine], key=lambda c: c.ts_ms)  # stable: equal stamps keep store order
        line = line_of(machine)
        for c in _window_changes(ordered, since_ms, until_ms, settings.startup_window_ms):
            changes.append(kpi.StateChange(machine, line, c.state, c.reason, c.ts_ms))
    intervals = kpi.intervals_from_changes(changes, until_ms)  # those before `since` give context only
    if not any(iv.end_ms > since_ms for iv in intervals):
        raise NoStatesError(_no_states_message(store, all_states, since_ms, until_ms, lines, machines))
    wanted = set(chosen)
    parts = [
        kpi.PartEvent(p.machine, line_of(p.machine), p.ts_ms, p.good)
        for p in _parts(store, since_ms, until_ms)
        if p.machine in wanted
    ]
    return intervals, parts


def _parts(store: Storage, since_ms: int, until_ms: int) -> list[PartResult]:
    return [p for p in store.read_parts(since_ms=since_ms) if p.ts_ms < until_ms]


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


def oee_from_store(
    store: Storage,
    since_ms: int,
    until_ms: int,
    inputs: OeeInputs,
    *,
    lines: Collection[str] = (),
    machines: Collection[str] = (),
) -> kpi.OeeReport:
    """OEE of `[since_ms, until_ms)` from stored states and parts, for every selected machine, its lines and
    the plant (named after the plant file), whole window and per shift of the plant's calendar."""
    if until_ms <= since_ms:
        raise ConfigError(
            f"the window is empty: --until ({format_ts(until_ms)}) must come after --since ({format_ts(since_ms)})"
        )
    intervals, parts = load_window(store, since_ms, until_ms, inputs.settings, lines=lines, machines=machines)
    unknown = sorted({iv.machine for iv in intervals} - set(inputs.ideal_cycle_s))
    if unknown:
        raise ConfigError(
            f"no ideal cycle time for {', '.join(unknown)}: these machines are not in plant {inputs.plant!r}; "
            "pick the plant they come from with --plant, or leave them out with --line/--machine"
        )
    return kpi.compute_oee(
        intervals,
        parts,
        inputs.ideal_cycle_s,
        since_ms,
        until_ms,
        calendar=inputs.calendar,
        settings=inputs.settings,
        plant=inputs.plant,
    )
