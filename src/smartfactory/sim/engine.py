"""The simulated plant: every machine's life, faults on cue and live commands, and the ground truth (pure).

`Simulation.advance(until_ms)` moves simulated time forward and returns what happened, in time order, as
records (`sim.records`); the runner paces it and the encoder turns records into wire messages. Nothing here
reads a clock: time only moves when `advance` is called, so the same seed gives the same records whatever the
speed.

Every random choice comes from a stream seeded by (seed, machine path, purpose): each sensor, each
characteristic, the state process and the cycle times have their own, and so does each injected fault. A
fault therefore changes only what it touches, and a machine's data does not depend on what else the plant holds.

Faults and repairs are applied at an exact simulated instant: scenario events at their scheduled time, live
commands (thread-safe `command()`) at the instant the simulation has reached when they arrive. Each becomes a
ground-truth `EventRec` with that instant.
"""

from __future__ import annotations

import heapq
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from smartfactory.durations import parse_duration
from smartfactory.errors import ConfigError, SimulatorError, WireError
from smartfactory.kpi import GroundTruthRecorder, OeeReport, ShiftCalendar
from smartfactory.plant import MachineSpec, Plant
from smartfactory.sim.bounds import magnitude_problems
from smartfactory.sim.faults import fault_catalogue
from smartfactory.sim.lifecycle import MachineRun, describe_failure
from smartfactory.sim.live import LiveMachine
from smartfactory.sim.loader import Catalog
from smartfactory.sim.machine import Machine
from smartfactory.sim.records import Record
from smartfactory.sim.scenario import Scenario
from smartfactory.sim.schedule import Schedule
from smartfactory.wire import CommandPayload, MachineInfo, MachinePath, MessageClass, Topic

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PlacedMachine:
    """A machine standing in the plant: its path, its signals and faults (`live`), its life (`run`), where its
    type came from and the facts its birth message carries (`info`)."""

    index: int
    path: MachinePath
    live: LiveMachine
    run: MachineRun
    source: str
    info: MachineInfo

    @property
    def telemetry_topic(self) -> str:
        return self.path.topic(MessageClass.TELEMETRY)

    @property
    def units(self) -> dict[str, str]:
        return self.live.units


@dataclass(frozen=True, slots=True)
class Action:
    """Inject a fault into (or clear faults of) one machine."""

    machine: int
    action: str  # "inject" | "clear"
    fault: str | None = None
    sensor: str | None = None
    params: dict[str, float | str] = field(default_factory=dict)
    note: str = ""
    origin: str = "command"


def place(machine: Machine, spec: MachineSpec, seed: int) -> LiveMachine:
    """A machine of the plant file, ready to run: the type's declarations with the plant file's changes."""
    return LiveMachine(
        machine,
        spec.path.machine,
        seed=seed,
        key=str(spec.path),
        sensors={name: s.changes() for name, s in spec.sensors.items()},
        quality={name: q.changes() for name, q in spec.quality.items()},
        state_model=spec.state_model.changes(),
        ideal_cycle_s=spec.ideal_cycle_s,
        sample_interval_s=spec.sample_interval_s,
    )


def check_fault(info: MachineInfo, action: Action) -> None:
    """Refuse an injection the machine's fault catalogue (announced in its birth) does not accept: the same check
    `smartfactory inject` makes before sending (`FaultInfo.problems`). Unknown kinds are left to `inject`."""
    spec = (info.faults or {}).get(action.fault or "") if action.action == "inject" else None
    if spec is not None:
        problems = spec.problems(action.fault or "", action.sensor, action.params, list(info.signals))
        if problems:
            raise SimulatorError("; ".join(problems))


def truth_ids(path: MachinePath) -> tuple[str, str]:
    """(machine, line) under which OEE knows a machine: the full machine path and the line id (`area/line`, the
    id the read side uses: two areas may each have a `line-1`)."""
    return str(path), path.line_id


class Simulation:
    def __init__(
        self,
        plant: Plant,
        catalog: Catalog,
        *,
        seed: int,
        start_ms: int,
        auto_stops: bool = True,
        shifts: bool = True,
        record_truth: bool = True,
    ) -> None:
        self.plant = plant
        self.seed = seed
        self.start_ms = start_ms
        self.now_ms = start_ms
        self.calendar: ShiftCalendar | None = plant.calendar if shifts else None
        self.recorder = GroundTruthRecorder() if record_truth else None
        self.problems: list[str] = []
        self.machines: list[PlacedMachine] = []
        self.on_action: Callable[[int, Action], None] | None = None
        self._actions: list[tuple[int, int, Action]] = []
        self._seq = 0
        self._commands: queue.SimpleQueue[Action] = queue.SimpleQueue()
        schedule = Schedule(self.calendar)
        for spec in plant.machines:
            try:
                machine_type = catalog.get(spec.type)
            except SimulatorError as exc:
                self._problem(f"{spec.path}: {exc}")
                continue
            try:
                live = place(machine_type.cls(), spec, seed)
                info = live.info(spec.type).model_copy(update={"faults": fault_catalogue(machine_type.cls.recipes)})
                index = len(self.machines)
                run = MachineRun(
                    index,
                    live,
                    seed=seed,
                    start_ms=start_ms,
                    schedule=schedule,
                    auto_stops=auto_stops,
                    on_state=self._state_recorder(spec.path),
                    on_part=self._part_recorder(spec.path),
                )
            except ConfigError as exc:
                raise ConfigError(f"{plant.source}: {exc}") from None
            except Exception as exc:
                self._problem(
                    f"{spec.path} ({machine_type.source}) cannot start: {describe_failure(exc, machine_type.cls)}"
                )
                continue
            self.machines.append(PlacedMachine(index, spec.path, live, run, machine_type.source, info))
        if not self.machines:
            raise SimulatorError(
                "no machine of the plant could start: "
                + "; ".join(self.problems)
                + ". See `smartfactory simulators list`."
            )
        self.by_path = {str(m.path): m for m in self.machines}

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        log.error("%s (the other machines still run)", text)

    def _state_recorder(self, path: MachinePath) -> Callable[[int, str, str | None], None] | None:
        if self.recorder is None:
            return None
        recorder, (machine, line) = self.recorder, truth_ids(path)
        return lambda ts, state, reason: recorder.state(machine, line, state, reason, ts)

    def _part_recorder(self, path: MachinePath) -> Callable[[int, bool], None] | None:
        if self.recorder is None:
            return None
        recorder, (machine, line) = self.recorder, truth_ids(path)
        return lambda ts, good: recorder.part(machine, line, ts, good)

    # ------------------------------------------------------------------------------------------ time

    def advance(self, until_ms: int) -> list[Record]:
        """Simulate up to (not including) `until_ms`; return the records in time order."""
        while True:
            try:
                self._apply(self._commands.get_nowait(), self.now_ms)
            except queue.Empty:
                break
        while self._actions and self._actions[0][0] < until_ms:
            at, _, action = heapq.heappop(self._actions)
            at = max(at, self.now_ms)
            for placed in self.machines:
                placed.run.advance(at)
            self.now_ms = at
            self._apply(action, at)
        for placed in self.machines:
            placed.run.advance(until_ms)
        self.now_ms = max(self.now_ms, until_ms)
        lists = [placed.run.take() for placed in self.machines]
        if len(lists) == 1:
            return lists[0]
        return list(heapq.merge(*lists, key=lambda r: r.ts))

    # ------------------------------------------------------------------------------------------ faults

    def find(self, ref: str) -> int:
        """The index of the machine named by `ref`: its name, line/name, or full path."""
        matches = [m.index for m in self.machines if str(m.path) == ref or str(m.path).endswith("/" + ref)]
        if len(matches) != 1:
            known = ", ".join(str(m.path) for m in self.machines)
            problem = "matches several machines" if matches else "matches no machine"
            raise ConfigError(f"{ref!r} {problem}; the plant has: {known}")
        return matches[0]

    def schedule(self, scenario: Scenario, live_start_ms: int) -> None:
        """Queue a scenario's events, `at` counted from `live_start_ms`."""
        for event in scenario.events:
            action = Action(
                self.find(event.machine),
                event.action,
                event.fault,
                event.sensor,
                dict(event.params or {}),
                event.describe(),
                "scenario",
            )
            self.at(live_start_ms + round(event.at_s * 1000), action)

    def at(self, ts_ms: int, action: Action) -> None:
        self._seq += 1
        heapq.heappush(self._actions, (ts_ms, self._seq, action))

    def command(self, topic: str, payload: bytes) -> None:
        """A command from the `…/cmd` topic; thread-safe. Applied at the next `advance`."""
        try:
            target = Topic.parse(topic)
            cmd = CommandPayload.model_validate_json(payload)
        except (ValidationError, WireError) as exc:
            log.warning("ignored a bad command on %r: %s", topic, exc)
            return
        placed = self.by_path.get(str(target.path))
        if placed is None:
            log.warning("ignored a command for %s: no such machine in this simulator", target.path)
            return
        self._commands.put(Action(placed.index, cmd.action, cmd.fault, cmd.sensor, dict(cmd.params)))

    def _apply(self, action: Action, at: int) -> None:
        placed = self.machines[action.machine]
        run, live = placed.run, placed.live
        if run.broken is not None:
            log.warning("ignored %s on %s: its simulator stopped (%s)", action.action, placed.path, run.broken)
            return
        try:
            check_fault(placed.info, action)
            if action.action == "inject":  # sizes and rates against the signal's noise (issue 13: 1e308)
                absurd = magnitude_problems(live, action.fault, action.sensor, action.params)
                if absurd:
                    raise SimulatorError("; ".join(absurd))
            if action.action == "clear":
                self._clear(placed, action.fault, at)
            elif action.fault in ("breakdown", "stop"):
                raw = action.params.get("duration")
                duration = None if raw is None else round(parse_duration(raw) * 1000)
                run.force(at, action.fault, action.params, duration)
            elif action.fault == "slowdown":
                factor = float(action.params.get("factor", 1.3))
                run.set_slowdown(at, factor)
                run.event(at, "fault", "slowdown", None, action.params)
            elif action.fault is None:
                raise SimulatorError("inject needs a fault kind")
            else:
                touched = live.inject(action.fault, action.sensor, action.params, run.rel_s(at))
                run.event(at, "fault", action.fault, action.sensor, action.params, tuple(touched))
        except Exception as exc:  # refused, or a machine's own error: contained to this command (never the run)
            log.warning("ignored %s %s on %s: %s", action.action, action.fault or "", placed.path, exc)
            # the answer `smartfactory inject` waits for (and the record that a scenario step did not apply)
            run.event(at, "rejected", action.fault or action.action, action.sensor, {"reason": str(exc)[:500]})
            return
        if action.origin == "scenario":
            log.info("[scenario] %s", action.note)
        else:
            log.info("%s %s on %s at simulated %d", action.action, action.fault or "all", placed.path, at)
        if self.on_action is not None:
            self.on_action(at, action)

    def _clear(self, placed: PlacedMachine, fault: str | None, at: int) -> None:
        run = placed.run
        removed = placed.live.clear(fault)
        for name in removed:
            run.event(at, "repair", name, None, {})
        slowed = fault in (None, "slowdown") and run.slowdown != 1.0
        if slowed:
            run.set_slowdown(at, 1.0)
            run.event(at, "repair", "slowdown", None, {})
        stopped = run.forced is not None and fault in (None, run.forced.fault)
        if stopped:
            run.end_forced(at)
        if not (removed or slowed or stopped):
            raise SimulatorError(f"no {fault or 'fault'} is active on {placed.path.machine}: nothing to clear")

    # ------------------------------------------------------------------------------------------ truth

    def ideal_cycle_times(self) -> dict[str, float]:
        """Ideal cycle time in seconds per machine id (the full machine path)."""
        return {truth_ids(m.path)[0]: m.live.ideal_s for m in self.machines}

    def ground_truth(self, since_ms: int | None = None, until_ms: int | None = None) -> OeeReport:
        """OEE of what really happened in `[since_ms, until_ms)` (default: the whole run so far), computed by
        the same engine as OEE from stored data, with the calendar and OEE settings this simulation ran with."""
        if self.recorder is None:
            raise SimulatorError("this simulation does not record its ground truth (record_truth=False)")
        since = self.start_ms if since_ms is None else since_ms
        until = self.now_ms if until_ms is None else until_ms
        return self.recorder.compute(
            self.ideal_cycle_times(), since, until, calendar=self.calendar, settings=self.plant.oee
        )
