"""What every exercise provides: its plan (the seeded run), the facts its sheet shows, its ground truth, its
answers template and its check. The catalogue (`exercises.catalogue`) lists them."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from smartfactory.exercises.grading import Item
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import Plan, Produced


@dataclass
class Prepared:
    """What `start` learnt from the run: facts for the sheet and manifest (public), the ground truth (not)."""

    facts: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)


class Exercise(ABC):
    name: str
    title: str
    topic: str
    needs: str
    #: answers-file keys and what each expects (the template's comments)
    answers: tuple[tuple[str, str, str], ...] = ()  # (key, TOML default literal, comment)

    def rng(self, seed: int) -> random.Random:
        """The exercise's own random choices (which machine, which fault, when), from the student's seed."""
        return random.Random(f"{self.name}/{seed}")

    @abstractmethod
    def plan(self, seed: int) -> Plan | None:
        """The run that makes the data; None for an exercise whose data the student makes."""

    @abstractmethod
    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        """Facts and ground truth after the run (or, without one, from the seed)."""

    @abstractmethod
    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        """Each answer judged against the ground truth, with its explanation."""

    def sheet(self, manifest: Manifest, folder: Path) -> str:
        """The question sheet: sheets/NAME.md with $placeholders filled from the manifest and its facts."""
        text = resources.files("smartfactory.exercises").joinpath("sheets", f"{self.name}.md").read_text("utf-8")
        values = {
            "name": self.name,
            "title": self.title,
            "student": manifest.student or "(no student id)",
            "seed": str(manifest.seed),
            "store": manifest.store,
            "folder": str(folder),
            "answers": str(folder / "answers.toml"),
            "student_flag": f" --student {manifest.student}" if manifest.student else "",
        }
        values.update({k: str(v) for k, v in manifest.facts.items()})
        return Template(text).safe_substitute(values)

    def template(self, manifest: Manifest) -> str:
        """The answers file to fill in (TOML)."""
        lines = [
            f"# Answers to exercise {self.name}: fill in the values, then run",
            f"#   smartfactory exercise check {self.name} --answers THIS_FILE --dir CLASS_DIR",
            "",
            "[exercise]",
            f'name = "{self.name}"',
            f'student = "{manifest.student or ""}"',
            "",
            "[answers]",
        ]
        for key, default, comment in self.answers:
            lines.append(f"{key} = {default}  # {comment}")
        return "\n".join(lines) + "\n"


def machine_matches(path: str, given: Any) -> bool:
    """A machine given as its name, line/name or full path."""
    if not isinstance(given, str) or not given.strip():
        return False
    ref = given.strip().strip("/")
    return path == ref or path.endswith("/" + ref)


def short_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
