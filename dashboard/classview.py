"""The classroom views' model (no Streamlit): a student's own part of the plant overview, and the lecturer's
class table (connected machines, active alarms, OEE and exercise progress per student)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pandas as pd

from dashboard import tiles
from smartfactory import query
from smartfactory.classroom.results import Progress, steps
from smartfactory.classroom.roster import Member
from smartfactory.model import Alarm
from smartfactory.query import oee as oee_query
from smartfactory.query.series import machine_of, sensor_of, short


def own_lines(lines: Sequence[tiles.LineTiles], member: Member) -> list[tiles.LineTiles]:
    """The overview's lines with only the member's machines (lines left empty are dropped)."""
    out = []
    for line in lines:
        mine = tuple(t for t in line.machines if member.sees(t.machine))
        if mine:
            out.append(tiles.LineTiles(line.line, mine))
    return out


def own(items: Sequence[str], member: Member) -> list[str]:
    """The series ids (or machine paths) the member may see."""
    return [s for s in items if member.sees(s)]


def namespace_window(window: query.OeeWindow, namespace: str) -> query.OeeWindow:
    prefix = f"{namespace}/"
    return dataclasses.replace(
        window,
        intervals=tuple(iv for iv in window.intervals if iv.machine.startswith(prefix)),
        parts=tuple(p for p in window.parts if p.machine.startswith(prefix)),
    )


def namespace_oee(window: query.OeeWindow, inputs: query.OeeInputs, namespace: str) -> float | None:
    """OEE of one student's plant over the window (its machines only, as `smartfactory oee` computes it)."""
    mine = namespace_window(window, namespace)
    if not mine.intervals:
        return None
    try:
        return oee_query.compute(mine, inputs).report.plant.oee
    except query.NoIdealCycleError:
        return None


def _connected(online: Mapping[str, bool] | None, namespace: str) -> str:
    if online is None:
        return "broker unreachable"
    mine = [up for machine, up in online.items() if machine.startswith(f"{namespace}/")]
    if not mine:
        return "no plant yet"
    return f"{sum(mine)}/{len(mine)} online"


def plants_connected(online: Mapping[str, bool] | None, namespaces: Sequence[str]) -> int | None:
    """How many of the namespaces have at least one machine online (None while the broker is unreachable)."""
    if online is None:
        return None
    return sum(1 for ns in namespaces if any(up and machine.startswith(f"{ns}/") for machine, up in online.items()))


def class_table(
    students: Sequence[Member],
    online: Mapping[str, bool] | None,
    active: Sequence[Alarm],
    oee: Mapping[str, float | None],
    progress: Mapping[str, Progress],
    started: Mapping[str, set[str]] | None = None,
) -> pd.DataFrame:
    """One row per student: who, namespace, machines online, active alarms (count and where), OEE, exercises,
    and the step each exercise has reached (started, or its best score once checked)."""
    rows = []
    for m in students:
        alarms = [a for a in active if m.sees(a.series)]
        value = oee.get(m.namespace)
        where = ", ".join(sorted({f"{short(machine_of(a.series))}/{sensor_of(a.series)}" for a in alarms}))
        done = progress.get(m.username)
        rows.append(
            {
                "student": m.username,
                "name": m.name or "",
                "namespace": m.namespace,
                "connected": _connected(online, m.namespace),
                "active alarms": len(alarms),
                "where": where,
                "OEE (window)": None if value is None else round(value * 100, 1),
                "exercises": done.text() if done is not None else "none checked",
                "steps": steps((started or {}).get(m.username, set()), done),
            }
        )
    return pd.DataFrame(rows)


__all__ = ["class_table", "namespace_oee", "namespace_window", "own", "own_lines", "plants_connected"]
