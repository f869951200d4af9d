"""OEE and the six big losses from machine states and part events (pure: no I/O).

Build inputs (`StateInterval`, `PartEvent`, or `StateChange` turned into intervals), describe the shifts
(`ShiftCalendar`), call `compute_oee`, read `OeeReport` rows. See docs/oee.md for the definitions.
"""

from smartfactory.kpi.calendar import (
    Break,
    Shift,
    ShiftCalendar,
    ShiftOccurrence,
    planned_intervals,
    shift_occurrences,
)
from smartfactory.kpi.codes import (
    REASONS,
    Category,
    DownReason,
    Loss,
    PlannedReason,
    SetupReason,
    State,
    classify,
)
from smartfactory.kpi.model import OeeSettings, PartEvent, StateChange, StateInterval
from smartfactory.kpi.oee import build_timelines, compute_oee
from smartfactory.kpi.recorder import GroundTruthRecorder, intervals_from_changes
from smartfactory.kpi.result import Level, OeeReport, OeeResult, SixBigLosses

__all__ = [
    "REASONS",
    "Break",
    "Category",
    "DownReason",
    "GroundTruthRecorder",
    "Level",
    "Loss",
    "OeeReport",
    "OeeResult",
    "OeeSettings",
    "PartEvent",
    "PlannedReason",
    "SetupReason",
    "Shift",
    "ShiftCalendar",
    "ShiftOccurrence",
    "SixBigLosses",
    "State",
    "StateChange",
    "StateInterval",
    "build_timelines",
    "classify",
    "compute_oee",
    "intervals_from_changes",
    "planned_intervals",
    "shift_occurrences",
]
