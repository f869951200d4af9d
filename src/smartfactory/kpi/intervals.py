"""Half-open interval arithmetic on integer milliseconds, and turning raw state intervals into episodes.

An *episode* is a maximal stretch of one machine in one (state, reason): overlapping records are resolved
(the record that started last wins, see `resolve`), then touching pieces with the same state and reason are
merged. The small-stop rule looks at whole episodes, so a 6-minute jam stored as two 3-minute records is still
one 6-minute jam.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from smartfactory.kpi.codes import State
from smartfactory.kpi.model import StateInterval

Span = tuple[int, int]
"""A half-open interval `[start_ms, end_ms)`."""

# Tie-break when two records start at the same instant: the more severe state wins.
_RANK: dict[State, int] = {State.RUNNING: 0, State.IDLE: 1, State.PLANNED: 2, State.SETUP: 3, State.DOWN: 4}


def union(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint spans covering the same time; overlapping and touching spans are merged."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clip(spans: Iterable[Span], since_ms: int, until_ms: int) -> list[Span]:
    """The parts of `spans` inside `[since_ms, until_ms)`, empty pieces dropped, order kept."""
    out: list[Span] = []
    for start, end in spans:
        lo, hi = max(start, since_ms), min(end, until_ms)
        if hi > lo:
            out.append((lo, hi))
    return out


def total(spans: Iterable[Span]) -> int:
    """Total length in milliseconds (spans must be disjoint)."""
    return sum(end - start for start, end in spans)


@dataclass(frozen=True, slots=True)
class Episode:
    """A maximal stretch `[start_ms, end_ms)` of one machine in one state for one reason."""

    state: State
    reason: str | None
    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


def resolve(intervals: Sequence[StateInterval]) -> list[Episode]:
    """Turn one machine's state records into sorted, disjoint episodes.

    Where records overlap, the one that started last wins (a newer state report supersedes the older one);
    records that start at the same instant are ranked down > setup > planned > idle > running, then by reason,
    so the result does not depend on the order of the input. Gaps stay gaps (no state known).
    """
    ordered = sorted(
        (iv for iv in intervals if iv.end_ms > iv.start_ms),
        key=lambda iv: (iv.start_ms, _RANK[State(iv.state)], iv.reason or "", iv.end_ms),
    )
    bounds = sorted({t for iv in ordered for t in (iv.start_ms, iv.end_ms)})
    active: list[tuple[int, int]] = []  # heap of (-priority, end_ms); priority = index in `ordered`
    episodes: list[Episode] = []
    nxt = 0
    for a, b in pairwise(bounds):
        while nxt < len(ordered) and ordered[nxt].start_ms <= a:
            heapq.heappush(active, (-nxt, ordered[nxt].end_ms))
            nxt += 1
        while active and active[0][1] <= a:
            heapq.heappop(active)  # the winner has ended; lower-priority records may still be running
        if not active:
            continue
        winner = ordered[-active[0][0]]
        state, reason = State(winner.state), winner.reason
        last = episodes[-1] if episodes else None
        if last is not None and last.end_ms == a and last.state is state and last.reason == reason:
            episodes[-1] = Episode(state, reason, last.start_ms, b)
        else:
            episodes.append(Episode(state, reason, a, b))
    return episodes
