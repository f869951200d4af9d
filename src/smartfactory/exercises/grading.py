"""Verdicts: each answer correct or not with an explanation, the score, and the class results table.

DIR/results.csv has one row per `exercise check`: `username,exercise,score,checked_at` (score = the fraction of
answers correct, 0–1 with two decimals; checked_at ISO-8601 UTC). The lecturer's page (classroom) and
`exercise results` read it; a student's best score per exercise is the class table's entry.
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smartfactory.errors import ConfigError
from smartfactory.exercises.layout import RESULTS
from smartfactory.wire import format_ts, parse_ts

RESULT_COLUMNS = ("username", "exercise", "score", "checked_at")


@dataclass(frozen=True)
class Item:
    """One answer: its name, whether it is correct, what was given and why it is (in)correct."""

    name: str
    correct: bool
    given: Any
    explanation: str
    tolerance: str = ""


@dataclass
class Verdict:
    exercise: str
    student: str | None
    items: list[Item] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(item.correct for item in self.items)

    @property
    def score(self) -> float:
        return self.correct / len(self.items) if self.items else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(item.correct for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "student": self.student,
            "score": round(self.score, 2),
            "correct": self.correct,
            "answers": len(self.items),
            "passed": self.passed,
            "items": [asdict(item) for item in self.items],
        }

    def lines(self) -> list[str]:
        out = [f"exercise {self.exercise}" + (f" ({self.student})" if self.student else "")]
        for item in self.items:
            mark = "correct  " if item.correct else "incorrect"
            tol = f" [tolerance {item.tolerance}]" if item.tolerance else ""
            out.append(f"  {mark} {item.name} = {item.given!r}: {item.explanation}{tol}")
        out.append(f"score {self.correct}/{len(self.items)}" + (": all correct" if self.passed else ""))
        return out


# ------------------------------------------------------------------------------------------ answers


def load_answers(path: Path) -> dict[str, Any]:
    """The answers file (TOML); `ConfigError` naming the file and line when it does not parse."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no answers file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return data


def number(value: Any) -> float | None:
    """A finite number, or None (empty, text, a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def instant(value: Any) -> int | None:
    """Epoch ms of an ISO-8601 time with a zone (TOML datetime or text), or None."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None
        return round(value.timestamp() * 1000)
    if isinstance(value, str) and value.strip():
        try:
            return parse_ts(value.strip())
        except (ValueError, TypeError):
            return None
    return None


def missing(name: str, what: str) -> Item:
    return Item(name, False, None, f"no answer: give {what}")


def close_to(name: str, given: Any, reference: float, tolerance: float, unit: str = "", hint: str = "") -> Item:
    """Correct when |given − reference| ≤ tolerance; the explanation says how far off and in which direction."""
    value = number(given)
    tol = f"±{tolerance:g}{unit}"
    if value is None:
        return Item(name, False, given, "not a number" + (f"; {hint}" if hint else ""), tol)
    off = value - reference
    if abs(off) <= tolerance:
        return Item(name, True, given, f"the reference is {reference:.4g}{unit}", tol)
    side = "too high" if off > 0 else "too low"
    text = f"{side} by {abs(off):.3g}{unit}: the reference is near {_near(reference, tolerance)}{unit}"
    return Item(name, False, given, text + (f"; {hint}" if hint else ""), tol)


def _near(reference: float, tolerance: float) -> str:
    """The reference rounded to the tolerance's order (enough to learn from, not more digits than the check)."""
    digits = max(0, -math.floor(math.log10(tolerance))) if tolerance > 0 else 3
    return f"{reference:.{digits}f}"


def when(ms: int) -> str:
    return format_ts(ms)


# ------------------------------------------------------------------------------------------ results


def append_result(root: Path, username: str, exercise: str, score: float, at: datetime | None = None) -> Path:
    """Append one row to ROOT/results.csv (with the header when the file is new)."""
    path = root / RESULTS
    root.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    with path.open("a", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        if new:
            writer.writerow(RESULT_COLUMNS)
        writer.writerow([username, exercise, f"{score:.2f}", stamp])
    return path


@dataclass(frozen=True)
class ResultRow:
    username: str
    exercise: str
    score: float
    checked_at: str


def read_results(root: Path) -> list[ResultRow]:
    """Every row of ROOT/results.csv; [] when there is none yet."""
    path = root / RESULTS
    if not path.is_file():
        return []
    rows: list[ResultRow] = []
    with path.open(newline="", encoding="utf-8") as source:
        for row in csv.DictReader(source):
            try:
                rows.append(ResultRow(row["username"], row["exercise"], float(row["score"]), row["checked_at"]))
            except (KeyError, TypeError, ValueError):
                continue  # a damaged row: skipped, the others still count
    return rows


def class_table(rows: list[ResultRow]) -> tuple[list[str], list[list[str]]]:
    """Students × exercises: the best score, the number of checks and the last check per cell."""
    exercises = sorted({r.exercise for r in rows})
    students = sorted({r.username for r in rows})
    best: dict[tuple[str, str], float] = {}
    tries: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r.username, r.exercise)
        best[key] = max(best.get(key, 0.0), r.score)
        tries[key] = tries.get(key, 0) + 1
    table = []
    for student in students:
        cells = [student]
        for exercise in exercises:
            key = (student, exercise)
            cells.append("—" if key not in best else f"{best[key]:.2f} ({tries[key]}×)")
        table.append(cells)
    return ["student", *exercises], table
