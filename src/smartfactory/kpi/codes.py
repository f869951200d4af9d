"""The machine states and reason codes simulators publish, and how each maps to the six big losses.

This is the one place that names them: simulators publish exactly these strings, storage keeps them and the
OEE engine classifies them with `classify`.

| state   | reason                                       | loss (six big losses, Nakajima 1988)          |
|---------|----------------------------------------------|-----------------------------------------------|
| running | any                                          | none: run time (speed and quality losses are  |
|         |                                              | carved out of it from the part counts)        |
| planned | break, planned_maintenance, no_orders, other | none: planned downtime, excluded from planned |
|         |                                              | production time                               |
| setup   | changeover, adjustment, other, none          | setup and adjustments (any duration)          |
| idle    | any                                          | small stops ("idling and minor stoppages")    |
| down    | breakdown                                    | breakdowns (any duration; is a failure)       |
| down    | jam, tool_change, material_shortage,         | small stops when the episode is shorter than  |
|         | quality_check, other, none                   | the small-stop threshold (default 5 min),     |
|         |                                              | otherwise the reason's long-stop loss below   |

Long-stop loss of a down reason (episode at least the threshold long):
jam → breakdowns; tool_change → setup and adjustments; material_shortage → setup and adjustments;
quality_check → setup and adjustments; an unknown or missing reason → breakdowns.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Machine state published by a simulator. Every instant of a machine's life is in exactly one state."""

    RUNNING = "running"
    IDLE = "idle"  # ready but not producing during planned time (starved, blocked, waiting for an operator)
    SETUP = "setup"
    DOWN = "down"
    PLANNED = "planned"  # planned downtime: breaks, planned maintenance, no orders


class DownReason(StrEnum):
    """Why a machine in state `down` stopped."""

    BREAKDOWN = "breakdown"
    TOOL_CHANGE = "tool_change"
    JAM = "jam"
    MATERIAL_SHORTAGE = "material_shortage"
    QUALITY_CHECK = "quality_check"


class SetupReason(StrEnum):
    """Why a machine is in state `setup`."""

    CHANGEOVER = "changeover"
    ADJUSTMENT = "adjustment"


class PlannedReason(StrEnum):
    """Why a machine is in planned downtime (state `planned`)."""

    BREAK = "break"
    PLANNED_MAINTENANCE = "planned_maintenance"
    NO_ORDERS = "no_orders"


REASONS: dict[State, frozenset[str]] = {
    State.RUNNING: frozenset(),
    State.IDLE: frozenset(),
    State.SETUP: frozenset(SetupReason),
    State.DOWN: frozenset(DownReason),
    State.PLANNED: frozenset(PlannedReason),
}
"""The reason codes the built-in simulators publish per state. Other reasons are accepted and classified by
the fallback rules in the module docstring."""


class Loss(StrEnum):
    """The six big losses (Nakajima, *Introduction to TPM*, 1988), in the order OEE reports them."""

    BREAKDOWNS = "breakdowns"
    SETUP_ADJUSTMENTS = "setup_adjustments"
    SMALL_STOPS = "small_stops"
    REDUCED_SPEED = "reduced_speed"
    STARTUP_REJECTS = "startup_rejects"
    PRODUCTION_REJECTS = "production_rejects"


class Category(StrEnum):
    """Where an instant of time goes in the OEE time model (one category per instant)."""

    RUN = "run"
    BREAKDOWNS = "breakdowns"
    SETUP_ADJUSTMENTS = "setup_adjustments"
    SMALL_STOPS = "small_stops"
    PLANNED_DOWNTIME = "planned_downtime"  # excluded from planned production time
    UNRECORDED = "unrecorded"  # no state known inside planned time; excluded and reported


PRODUCTION_CATEGORIES: frozenset[Category] = frozenset(
    {Category.RUN, Category.BREAKDOWNS, Category.SETUP_ADJUSTMENTS, Category.SMALL_STOPS}
)
"""The categories that make up planned production time."""

_LONG_DOWN: dict[str, Category] = {
    DownReason.BREAKDOWN: Category.BREAKDOWNS,
    DownReason.JAM: Category.BREAKDOWNS,
    DownReason.TOOL_CHANGE: Category.SETUP_ADJUSTMENTS,
    DownReason.MATERIAL_SHORTAGE: Category.SETUP_ADJUSTMENTS,
    DownReason.QUALITY_CHECK: Category.SETUP_ADJUSTMENTS,
}


def classify(state: State, reason: str | None, duration_ms: int, small_stop_ms: int) -> Category:
    """Category of a whole state episode of `duration_ms` (see the table in the module docstring).

    `duration_ms` is the length of the whole episode (adjacent intervals with the same state and reason
    merged), never a part clipped to a query window, so the classification does not depend on the window.
    """
    if state is State.RUNNING:
        return Category.RUN
    if state is State.PLANNED:
        return Category.PLANNED_DOWNTIME
    if state is State.SETUP:
        return Category.SETUP_ADJUSTMENTS
    if state is State.IDLE:
        return Category.SMALL_STOPS
    # state is DOWN
    if reason == DownReason.BREAKDOWN:
        return Category.BREAKDOWNS
    if duration_ms < small_stop_ms:
        return Category.SMALL_STOPS
    return _LONG_DOWN.get(reason or "", Category.BREAKDOWNS)
