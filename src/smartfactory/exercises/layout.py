"""Where an exercise's files live, and its manifest.

    DIR/results.csv                        one row per `exercise check` (username,exercise,score,checked_at)
    DIR/[STUDENT/]NAME/sheet.md            the question sheet
    DIR/[STUDENT/]NAME/answers.toml        the answers template the student fills in
    DIR/[STUDENT/]NAME/data.db             the exercise's store (SQLite)
    DIR/[STUDENT/]NAME/exercise.json       what was made: exercise, student, seeds, store, public facts
    DIR/[STUDENT/]NAME/.truth.json         the ground truth `check` compares with (the lecturer's)

`DIR` is the class folder (the one `classroom init` writes), or any folder for one student.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smartfactory.errors import ConfigError

MANIFEST = "exercise.json"
TRUTH = ".truth.json"
SHEET = "sheet.md"
ANSWERS = "answers.toml"
STORE = "data.db"
RESULTS = "results.csv"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_student(student: str | None) -> str | None:
    """A student id usable as a folder name (letters, digits, `.`, `_`, `-`; at most 64)."""
    if student is None or student == "":
        return None
    if not _SAFE.match(student):
        raise ConfigError(f"student id {student!r}: use letters, digits, '.', '_' or '-' (at most 64 characters)")
    return student


def work_dir(root: Path, name: str, student: str | None) -> Path:
    """The folder of one exercise (of one student)."""
    return root / student / name if student else root / name


@dataclass
class Manifest:
    """What `exercise start` made (written as exercise.json, read by `check`)."""

    exercise: str
    student: str | None
    class_seed: int
    seed: int
    created_at: str
    store: str
    facts: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"no exercise in {folder} ({MANIFEST} missing): run `smartfactory exercise start` first, "
                "with the same --dir and --student"
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        return cls(**data)


def write_truth(folder: Path, truth: dict[str, Any]) -> None:
    (folder / TRUTH).write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


def read_truth(folder: Path) -> dict[str, Any]:
    path = folder / TRUTH
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the ground truth {path} is missing: run `smartfactory exercise start` again") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return data


def store_url(folder: Path) -> str:
    return f"sqlite:///{(folder / STORE).resolve()}"
