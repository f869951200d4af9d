"""Outputs of the OEE engine: one `OeeResult` per (machine | line | plant) × (shift | whole window).

Durations are float seconds. The time identity, exact in real arithmetic and to floating-point rounding in
the returned floats:

    planned_production_s = breakdowns + setup_adjustments + small_stops            (availability losses)
                         + reduced_speed                                           (performance loss)
                         + startup_rejects + production_rejects                    (quality losses)
                         + fully_productive_s

and for the whole window `until − since = planned_production_s + planned_downtime_s + unrecorded_s`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from smartfactory.kpi.timeline import Tally


class Level(StrEnum):
    MACHINE = "machine"
    LINE = "line"
    PLANT = "plant"


@dataclass(frozen=True, slots=True)
class SixBigLosses:
    """The six big losses as lost time in seconds.

    Availability: `breakdowns`, `setup_adjustments`, `small_stops` (measured stop time).
    Performance: `reduced_speed` = run time − ideal cycle time × total count (negative when parts come faster
    than the ideal cycle time, see `OeeResult.performance_capped`).
    Quality: `startup_rejects`, `production_rejects` = scrap count × ideal cycle time.
    """

    breakdowns: float
    setup_adjustments: float
    small_stops: float
    reduced_speed: float
    startup_rejects: float
    production_rejects: float

    @property
    def total_s(self) -> float:
        return (
            self.breakdowns
            + self.setup_adjustments
            + self.small_stops
            + self.reduced_speed
            + self.startup_rejects
            + self.production_rejects
        )


@dataclass(frozen=True, slots=True)
class OeeResult:
    """OEE of one machine, line or the plant over one shift (`shift` is its label) or the whole window (None).

    Availability = run / planned production time; Performance = ideal cycle time × total count / run time,
    capped at 1.0 (`performance_capped` when the raw value, kept in `performance_raw`, is above 1);
    Quality = good / total count, at line and plant level weighted by each machine's ideal cycle time;
    OEE = A × P × Q. A ratio whose denominator is zero is None. When planned production time is positive and
    no good part was made, OEE is 0.0 even if P or Q is undefined.

    A *failure* is a stop classified as a breakdown loss (see `codes`); it is counted in the window where it
    starts. MTBF = run time / failures; MTTR = whole length of those failures / failures (None without
    failures).
    """

    level: Level
    name: str
    shift: str | None
    since_ms: int
    until_ms: int
    machines: int
    planned_production_s: float
    planned_downtime_s: float
    unrecorded_s: float
    run_s: float
    availability: float | None
    performance: float | None
    performance_raw: float | None
    performance_capped: bool
    quality: float | None
    oee: float | None
    total_count: int
    good_count: int
    scrap_count: int
    startup_scrap_count: int
    losses: SixBigLosses
    fully_productive_s: float
    failures: int
    mtbf_s: float | None
    mttr_s: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (losses nested under "losses")."""
        out = asdict(self)
        out["level"] = self.level.value
        return out


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def result_from_tally(
    tally: Tally, level: Level, name: str, shift: str | None, since_ms: int, until_ms: int
) -> OeeResult:
    """Turn additive sums into ratios, losses and reliability figures."""
    t = tally
    availability = _ratio(t.run_ms, t.planned_production_ms)
    performance_raw = _ratio(t.net_work_ms, t.run_ms)
    performance = None if performance_raw is None else min(performance_raw, 1.0)
    # good/total for one machine; Σ(ideal × good) / Σ(ideal × total) when machines with different ideal cycle
    # times are summed, so that OEE = A × P × Q = fully productive / planned time at every level (uncapped)
    quality = _ratio(t.good_work_ms, t.net_work_ms) if t.machines > 1 else _ratio(t.good_count, t.total_count)
    if availability is not None and performance is not None and quality is not None:
        oee: float | None = availability * performance * quality
    elif t.planned_production_ms > 0 and t.good_count == 0:
        oee = 0.0
    else:
        oee = None
    reduced_speed_ms = t.run_ms - (t.good_work_ms + t.startup_reject_work_ms + t.production_reject_work_ms)
    losses = SixBigLosses(
        breakdowns=t.breakdowns_ms / 1000,
        setup_adjustments=t.setup_adjustments_ms / 1000,
        small_stops=t.small_stops_ms / 1000,
        reduced_speed=reduced_speed_ms / 1000,
        startup_rejects=t.startup_reject_work_ms / 1000,
        production_rejects=t.production_reject_work_ms / 1000,
    )
    mtbf = _ratio(t.run_ms / 1000, t.failures)
    mttr = _ratio(t.repair_ms / 1000, t.failures)
    return OeeResult(
        level=level,
        name=name,
        shift=shift,
        since_ms=since_ms,
        until_ms=until_ms,
        machines=t.machines,
        planned_production_s=t.planned_production_ms / 1000,
        planned_downtime_s=t.planned_downtime_ms / 1000,
        unrecorded_s=t.unrecorded_ms / 1000,
        run_s=t.run_ms / 1000,
        availability=availability,
        performance=performance,
        performance_raw=performance_raw,
        performance_capped=performance_raw is not None and performance_raw > 1.0,
        quality=quality,
        oee=oee,
        total_count=t.total_count,
        good_count=t.good_count,
        scrap_count=t.total_count - t.good_count,
        startup_scrap_count=t.startup_scrap_count,
        losses=losses,
        fully_productive_s=t.good_work_ms / 1000,
        failures=t.failures,
        mtbf_s=mtbf,
        mttr_s=mttr,
    )


@dataclass(frozen=True, slots=True)
class OeeReport:
    """All results of one computation: machines, lines and plant, for the whole window and each shift."""

    since_ms: int
    until_ms: int
    rows: tuple[OeeResult, ...]

    def get(self, level: Level | str, name: str, shift: str | None = None) -> OeeResult:
        """The row for `name` at `level` (whole window unless `shift` names a shift label)."""
        for row in self.rows:
            if row.level == level and row.name == name and row.shift == shift:
                return row
        known = sorted({f"{r.level.value}:{r.name}" for r in self.rows})
        raise KeyError(f"no OEE row for {level}:{name} shift={shift!r}; rows exist for {known}")

    @property
    def plant(self) -> OeeResult:
        """The plant over the whole window."""
        return next(r for r in self.rows if r.level is Level.PLANT and r.shift is None)

    def machine(self, name: str, shift: str | None = None) -> OeeResult:
        return self.get(Level.MACHINE, name, shift)

    def line(self, name: str, shift: str | None = None) -> OeeResult:
        return self.get(Level.LINE, name, shift)

    @property
    def shifts(self) -> tuple[str, ...]:
        """Shift labels in time order."""
        return tuple(dict.fromkeys(r.shift for r in self.rows if r.shift is not None))

    def to_dicts(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]
