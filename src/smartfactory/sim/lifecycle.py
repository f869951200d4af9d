"""One machine's life in simulated time: states, cycles, parts and samples (pure: no I/O).

`MachineRun.advance(until)` processes every event before `until` in time order and appends records:

| event      | what happens                                                                              |
|------------|-------------------------------------------------------------------------------------------|
| calendar   | a break or the end of a shift: running/idle → planned (break or no_orders), and back      |
| state end  | a stop, setup or repair is over: back to running (or planned, outside the calendar)       |
| failure    | after an exponential operating time with mean MTBF: down/breakdown for a log-normal MTTR  |
| small stop | likewise with the small-stop settings: down/jam (short)                                   |
| starving   | likewise: idle                                                                            |
| part       | a cycle is complete: measure, judge, count; maybe a tool change or a changeover is due    |
| tick       | the sensors are sampled (`LiveMachine.sample`, the type's hook), whatever the state       |

Cycles, failures and small stops advance in *operating* time only; a stop pauses the cycle in progress. At one
instant only the last state change is published (storage keys states by machine and millisecond), and it is
published before the sensor readings of that instant, which were sampled in the new state.
"""

from __future__ import annotations

import logging
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from smartfactory.errors import SimulatorError
from smartfactory.sim.live import LiveMachine
from smartfactory.sim.records import EventRec, PartRec, Record, Sample, StateRec, StatusRec
from smartfactory.sim.schedule import Schedule
from smartfactory.sim.signals import stream

log = logging.getLogger(__name__)
INF = math.inf
NEVER = 2**62
_CALENDAR, _STATE_END, _FAIL, _STOP, _IDLE, _PART, _TICK = range(7)
MACHINE_FAULTS = {
    "breakdown": "machine down for duration=S (default: a random repair time), reason=CODE (default breakdown)",
    "stop": "machine in state=STATE (down, idle, setup, planned) with reason=CODE for duration=S",
    "slowdown": "every cycle takes factor=K times longer (default 1.3): a speed loss",
}


@dataclass(slots=True)
class ForcedStop:
    fault: str
    params: dict[str, float | str]


def describe_failure(exc: BaseException, cls: type) -> str:
    """`file:line: Error: message`, pointing into the file that defines `cls` when that file raised."""
    source = getattr(sys.modules.get(cls.__module__), "__file__", None) or ""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f.filename == source]
    frame = (mine or frames)[-1] if frames else None
    where = f"{frame.filename}:{frame.lineno}: " if frame else ""
    return f"{where}{type(exc).__name__}: {exc}"


class MachineRun:
    """Drives one `Machine` through simulated time."""

    def __init__(
        self,
        index: int,
        live: LiveMachine,
        *,
        seed: int,
        start_ms: int,
        schedule: Schedule,
        auto_stops: bool = True,
        on_state: Callable[[int, str, str | None], None] | None = None,
        on_part: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.index = index
        self.live = live
        self.start_ms = start_ms
        self.schedule = schedule
        self.auto_stops = auto_stops
        self.model = live.state_model
        self.interval_ms = max(1, round(live.interval_s * 1000))
        self.t = start_ms
        self.next_tick = start_ms
        self.records: list[Record] = []
        self.broken: str | None = None
        self._on_state = on_state
        self._on_part = on_part
        self._draws = stream(seed, live.key, "states")
        self._cycle_draws = stream(seed, live.key, "cycles")
        self.state = ""
        self.reason: str | None = None
        self.state_end: int | None = None
        self.forced: ForcedStop | None = None
        self.after: str | None = None  # what ends with the current timed state: "tool_change", "changeover"
        self.slowdown = 1.0
        self._calendar_done = start_ms - 1
        self._cal_query, self._cal_next = 0, 0
        self._published: tuple[str, str | None] | None = None
        self._pending: tuple[int, str, str | None] | None = None
        self.to_fail = self._draw_gap(self.model.mtbf_s)
        self.to_stop = self._draw_gap(self.model.small_stop_every_s)
        self.to_idle = self._draw_gap(self.model.idle_every_s)
        self.cycle_ms = self._draw_cycle()
        self.cycle_left = self.cycle_ms
        self.since_changeover = 0
        if schedule.planned(start_ms):
            self._set_state(start_ms, "running", None)
        else:
            self._set_state(start_ms, "planned", schedule.off_reason(start_ms))

    # ------------------------------------------------------------------------------------------ draws

    def _draw_gap(self, mean_s: float) -> float:
        """Operating milliseconds until the next random event of this mean (∞ when switched off)."""
        if mean_s <= 0 or not self.auto_stops:
            return INF
        return self._draws.exponential(mean_s * 1000.0)

    def _draw_cycle(self) -> float:
        m = self.model
        factor = 1.0 + m.speed_loss + m.cycle_cv * self._cycle_draws.normal()
        return max(1.0, self.live.ideal_s * 1000.0 * max(1.0, factor) * self.slowdown)

    # ------------------------------------------------------------------------------------------ loop

    def rel_s(self, t: int) -> float:
        return (t - self.start_ms) / 1000.0

    def advance(self, until: int) -> None:
        """Process every event before `until`; records go to `self.records`."""
        try:
            while self.broken is None:
                te, kind = self._next_event()
                if te >= until:
                    self._elapse(until)
                    break
                self._elapse(te)
                self._handle(kind, te)
            self._flush_state(None)
        except SimulatorError:
            raise
        except Exception as exc:
            self.broken = describe_failure(exc, type(self.live.machine))
            log.error("machine %s stopped: %s (the other machines keep running)", self.live.key, self.broken)
            self._flush_state(None)
            self.records.append(StatusRec(self.index, self.t, "offline"))

    def _next_event(self) -> tuple[int, int]:
        best_t, best_kind = self.next_tick, _TICK
        if self.state == "running":
            t = self.t
            # in order of precedence at the same instant (failure first, the part last)
            for remaining, kind in ((self.to_fail, _FAIL), (self.to_stop, _STOP), (self.to_idle, _IDLE)):
                if remaining < INF:
                    te = t + math.ceil(remaining) if remaining > 0 else t
                    if te < best_t or (te == best_t and kind < best_kind):
                        best_t, best_kind = te, kind
            remaining = self.cycle_left
            te = t + math.ceil(remaining) if remaining > 0 else t
            if te < best_t or (te == best_t and best_kind > _PART):
                best_t, best_kind = te, _PART
        if self.state_end is not None and self.state_end <= best_t:
            best_t, best_kind = self.state_end, _STATE_END
        # a change at exactly `t` may still be due: an earlier `advance` stopped right before it
        query = max(self.t - 1, self._calendar_done)
        if not self._cal_query <= query < self._cal_next:  # the cached answer holds until its instant
            change = self.schedule.next_change(query)
            self._cal_query, self._cal_next = query, NEVER if change is None else change
        if self._cal_next <= best_t:
            best_t, best_kind = self._cal_next, _CALENDAR
        return best_t, best_kind

    def _elapse(self, te: int) -> None:
        dt = te - self.t
        if dt > 0 and self.state == "running":
            self.cycle_left -= dt
            self.to_fail -= dt
            self.to_stop -= dt
            self.to_idle -= dt
            self.live.run_s += dt / 1000.0
        self.t = max(self.t, te)

    def _handle(self, kind: int, te: int) -> None:
        if kind == _TICK:
            self.live.tick = (te - self.start_ms) // self.interval_ms
            values = self.live.sample(self.rel_s(te))
            if values:
                self._emit(Sample(self.index, te, values))
            self.next_tick = te + self.interval_ms
        elif kind == _PART:
            self._finish_part(te)
        elif kind == _FAIL:
            self.to_fail = self._draw_gap(self.model.mtbf_s)
            duration = round(self._draws.lognormal(self.model.mttr_s * 1000.0))
            self.forced = ForcedStop("breakdown", {})
            self._emit(EventRec(self.index, te, "fault", "breakdown"))
            self._timed(te, "down", "breakdown", duration)
        elif kind == _STOP:
            self.to_stop = self._draw_gap(self.model.small_stop_every_s)
            duration = max(5_000, round(self._draws.exponential(self.model.small_stop_s * 1000.0)))
            self._timed(te, "down", self.model.small_stop_reason, duration)
        elif kind == _IDLE:
            self.to_idle = self._draw_gap(self.model.idle_every_s)
            self._timed(te, "idle", None, max(5_000, round(self._draws.exponential(self.model.idle_s * 1000.0))))
        elif kind == _STATE_END:
            self._end_timed(te)
        else:  # calendar
            self._calendar_done = te
            planned = self.schedule.planned(te)
            if self.forced is not None:
                return  # an injected stop outlasts breaks; its end decides what comes next
            if planned and self.state == "planned" and self.state_end is None:
                self._set_state(te, "running", None)
            elif not planned and self.state in ("running", "idle"):
                self.state_end = None
                self._set_state(te, "planned", self.schedule.off_reason(te))

    def _finish_part(self, te: int) -> None:
        m = self.live
        m.last_cycle_s = self.cycle_ms / 1000.0
        measurements = m.measure(self.rel_s(te))
        good = m.judge(measurements)
        m.parts_made += 1
        m.parts_scrap += 0 if good else 1
        m.tool_parts += 1
        self.since_changeover += 1
        self._emit(PartRec(self.index, te, f"{m.name}-{te}", measurements, good))
        if measurements:
            self._emit(Sample(self.index, te, measurements, tick=False))
        if self._on_part is not None:
            self._on_part(te, good)
        self.cycle_ms = self._draw_cycle()
        self.cycle_left = self.cycle_ms
        model = self.model
        if not self.auto_stops:
            return
        if model.tool_life_parts and m.tool_parts >= model.tool_life_parts:
            self.after = "tool_change"
            self._timed(te, "down", "tool_change", round(model.tool_change_s * 1000))
        elif model.changeover_every_parts and self.since_changeover >= model.changeover_every_parts:
            self.after = "changeover"
            self._timed(te, "setup", "changeover", round(model.changeover_s * 1000))

    # ------------------------------------------------------------------------------------------ states

    def _timed(self, te: int, state: str, reason: str | None, duration_ms: int | None) -> None:
        self.state_end = None if duration_ms is None else te + max(1, duration_ms)
        self._set_state(te, state, reason)

    def _end_timed(self, te: int) -> None:
        self.state_end = None
        if self.after == "tool_change":
            self.live.tool_parts = 0
        elif self.after == "changeover":
            self.since_changeover = 0
        self.after = None
        if self.forced is not None:
            self._emit(EventRec(self.index, te, "repair", self.forced.fault, None, self.forced.params))
            self.forced = None
        if self.schedule.planned(te):
            self._set_state(te, "running", None)
        else:
            self._set_state(te, "planned", self.schedule.off_reason(te))

    def _set_state(self, te: int, state: str, reason: str | None) -> None:
        self.live.settle(self.rel_s(te))
        self.state, self.reason = state, reason
        self.live.state = state
        self._pending = (te, state, reason)

    def _flush_state(self, before: int | None) -> None:
        pending = self._pending
        if pending is None or (before is not None and pending[0] >= before):
            return
        self._pending = None
        ts, state, reason = pending
        if (state, reason) != self._published:
            self._published = (state, reason)
            self.records.append(StateRec(self.index, ts, state, reason))
            if self._on_state is not None:
                self._on_state(ts, state, reason)

    def _emit(self, record: Record) -> None:
        # A sampling tick comes last at its instant (see `_next_event`), so a state change at the same millisecond
        # is final by then: publish it first, so a reader gates the tick's readings (taken in the new state) by it.
        # Other records keep a pending change at their instant open: only the last change of an instant is sent.
        self._flush_state(record.ts + 1 if isinstance(record, Sample) and record.tick else record.ts)
        self.records.append(record)

    # ------------------------------------------------------------------------------------------ faults

    def force(self, te: int, fault: str, params: dict[str, float | str], duration_ms: int | None) -> None:
        """An injected stop: `breakdown` (down/breakdown) or `stop` (any state); lasts `duration_ms` or until
        cleared."""
        state = str(params.get("state", "down"))
        if state not in ("down", "idle", "setup", "planned"):
            raise SimulatorError(f"stop state must be down, idle, setup or planned, not {state!r}")
        reason = params.get("reason", "breakdown" if fault == "breakdown" else None)
        if self.forced is not None:  # a new stop replaces the one in progress: that one is over
            self._emit(EventRec(self.index, te, "repair", self.forced.fault, None, self.forced.params))
        self.forced = ForcedStop(fault, params)
        self._emit(EventRec(self.index, te, "fault", fault, None, params))
        if duration_ms is None and fault == "breakdown" and "duration" not in params:
            duration_ms = round(self._draws.lognormal(self.model.mttr_s * 1000.0))
        self.after = None
        self._timed(te, state, None if reason is None else str(reason), duration_ms)

    def end_forced(self, te: int) -> bool:
        """A repair: end an injected or random stop now. False when none is in progress."""
        if self.forced is None:
            return False
        self._end_timed(te)
        return True

    def set_slowdown(self, te: int, factor: float) -> None:
        if not factor > 0:
            raise SimulatorError(f"slowdown factor must be > 0, is {factor}")
        self.slowdown = factor
        done = 1.0 - self.cycle_left / self.cycle_ms if self.cycle_ms > 0 else 0.0
        self.cycle_ms = self._draw_cycle()
        self.cycle_left = self.cycle_ms * (1.0 - done)

    def event(
        self,
        te: int,
        kind: str,
        fault: str,
        sensor: str | None,
        params: dict[str, float | str],
        affects: tuple[str, ...] = (),
    ) -> None:
        self._emit(EventRec(self.index, te, kind, fault, sensor, params, affects))

    def take(self) -> list[Record]:
        out, self.records = self.records, []
        return out
