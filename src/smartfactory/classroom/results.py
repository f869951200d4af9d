"""The class results table `DIR/results.csv` (`username,exercise,score,checked_at`, one row per check, written by
`smartfactory exercise check`) and the exercises each student started (`DIR/STUDENT/NAME/exercise.json`, written by
`smartfactory exercise start --student`): each student's progress for the lecturer's overview. Read only; absent
is fine."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartfactory.exercises.layout import MANIFEST

COLUMNS = ("username", "exercise", "score", "checked_at")


@dataclass(frozen=True, slots=True)
class Attempt:
    exercise: str
    score: float | None
    checked_at: str


@dataclass(frozen=True, slots=True)
class Progress:
    """One student's checks: the best score per exercise and the newest check."""

    best: Mapping[str, float | None]
    last: Attempt

    @property
    def exercises(self) -> int:
        return len(self.best)

    def text(self) -> str:
        score = "—" if self.last.score is None else f"{self.last.score:g}"
        return f"{self.exercises} checked; last: {self.last.exercise} ({score}, {self.last.checked_at})"


def _score(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_progress(path: Path) -> dict[str, Progress]:
    """username → Progress from a results file; {} when there is none or it lacks the columns."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or any(c not in reader.fieldnames for c in COLUMNS):
            return {}
        rows = list(reader)
    out: dict[str, Progress] = {}
    for row in sorted(rows, key=lambda r: r["checked_at"] or ""):
        user, exercise = row["username"] or "", row["exercise"] or ""
        if not user or not exercise:
            continue
        attempt = Attempt(exercise, _score(row["score"] or ""), row["checked_at"] or "")
        best = dict(out[user].best) if user in out else {}
        old = best.get(exercise)
        if exercise not in best or (attempt.score is not None and (old is None or attempt.score > old)):
            best[exercise] = attempt.score
        out[user] = Progress(best, attempt)
    return out


def read_started(root: Path) -> dict[str, set[str]]:
    """username → the exercises started for that student under the class folder `root`; {} when none."""
    out: dict[str, set[str]] = {}
    for manifest in root.glob(f"*/*/{MANIFEST}"):
        out.setdefault(manifest.parent.parent.name, set()).add(manifest.parent.name)
    return out


def steps(started: set[str], progress: Progress | None) -> str:
    """The step each exercise of one student has reached: its best score once checked, else "started"."""
    best = dict(progress.best) if progress is not None else {}
    parts = []
    for name in sorted(started | set(best)):
        if name not in best:
            parts.append(f"{name}: started")
        else:
            score = best[name]
            parts.append(f"{name}: {'checked' if score is None else f'{score:g}'}")
    return " · ".join(parts) if parts else "none started"


__all__ = ["COLUMNS", "Attempt", "Progress", "read_progress", "read_started", "steps"]
