"""Ground truth for OEE: state changes and parts as they happen, turned into the engine's inputs.

Two users share this module, so that both compute OEE with the same code:

- the simulator keeps a `GroundTruthRecorder`, tells it every state change and every part it makes, and asks
  it for OEE at the end of a run;
- the storage side turns stored state-change events into intervals with `intervals_from_changes` and calls
  `compute_oee` itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from smartfactory.kpi.calendar import ShiftCalendar
from smartfactory.kpi.model import OeeSettings, PartEvent, StateChange, StateInterval, _state
from smartfactory.kpi.oee import compute_oee
from smartfactory.kpi.result import OeeReport


def intervals_from_changes(changes: Iterable[StateChange], until_ms: int) -> list[StateInterval]:
    """Each change lasts until the next change of the same machine, the last one until `until_ms`.

    To know a machine's state at the start of a window, include its last change before the window. Changes at
    or after `until_ms` are dropped; a change that repeats the current state and reason continues it. Changes
    with equal timestamps keep their input order (the later one wins).
    """
    by_machine: dict[str, list[StateChange]] = defaultdict(list)
    for change in changes:
        if change.ts_ms < until_ms:
            by_machine[change.machine].append(change)
    out: list[StateInterval] = []
    for machine in sorted(by_machine):
        seq = sorted(by_machine[machine], key=lambda c: c.ts_ms)  # stable: equal timestamps keep input order
        current: StateChange | None = None
        for nxt in [*seq, None]:
            end = until_ms if nxt is None else nxt.ts_ms
            if current is not None and nxt is not None and (nxt.state, nxt.reason) == (current.state, current.reason):
                continue  # same state again: the current episode goes on
            if current is not None and end > current.ts_ms:
                out.append(
                    StateInterval(current.machine, current.line_id, current.state, current.reason, current.ts_ms, end)
                )
            current = nxt
    return out


class GroundTruthRecorder:
    """An in-memory log of what machines really did, kept by the simulator (pure, no I/O)."""

    def __init__(self) -> None:
        self._changes: list[StateChange] = []
        self._parts: list[PartEvent] = []
        self._last_ts: dict[str, int] = {}

    def _check_order(self, machine: str, ts_ms: int) -> None:
        last = self._last_ts.get(machine)
        if last is not None and ts_ms < last:
            raise ValueError(
                f"ground truth for {machine!r} went back in time ({ts_ms} < {last}): record events in time order"
            )
        self._last_ts[machine] = ts_ms

    def state(self, machine: str, line: str, state: str, reason: str | None, ts_ms: int) -> None:
        """`machine` enters `state` (for `reason`) at `ts_ms`."""
        self._check_order(machine, ts_ms)
        _state(state)  # an unknown state fails here, where it was recorded
        self._changes.append(StateChange(machine=machine, ts_ms=ts_ms, state=state, reason=reason, line=line))

    def part(self, machine: str, line: str, ts_ms: int, good: bool) -> None:
        """`machine` finished a part at `ts_ms`."""
        self._check_order(machine, ts_ms)
        self._parts.append(PartEvent(machine, line, ts_ms, good))

    def intervals(self, until_ms: int) -> list[StateInterval]:
        """The state intervals so far, the open ones closed at `until_ms`."""
        return intervals_from_changes(self._changes, until_ms)

    @property
    def parts(self) -> list[PartEvent]:
        return list(self._parts)

    def compute(
        self,
        ideal_cycle_s: Mapping[str, float],
        since_ms: int,
        until_ms: int,
        *,
        calendar: ShiftCalendar | None = None,
        settings: OeeSettings | None = None,
    ) -> OeeReport:
        """OEE from the ground truth, with exactly the engine the stored data goes through."""
        return compute_oee(
            self.intervals(until_ms),
            self._parts,
            ideal_cycle_s,
            since_ms,
            until_ms,
            calendar=calendar,
            settings=settings,
        )
