"""The class results table `DIR/results.csv` (`username,exercise,score,checked_at`, one row per check, written by
`smartfactory exercise check`): each student's progress for the lecturer's overview. Read only; absent is fine."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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


__all__ = ["COLUMNS", "Attempt", "Progress", "read_progress"]
