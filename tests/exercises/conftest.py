"""Fixtures of the exercise tests: one class folder per session, each exercise started once (its data is a
seeded plant run through a private broker and ingestion, ~10–40 s), answers files written by the tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.exercises.layout import Manifest, work_dir

STUDENT = "student-07"
CLASS_SEED = 11


def invoke(*args: str) -> tuple[int, str, str]:
    """`smartfactory ARGS` in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def class_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("class")


Started = Callable[[str], Manifest]


@pytest.fixture(scope="session")
def started(class_dir: Path) -> Started:
    """`exercise start NAME --dir CLASS --seed 11 --student student-07` (once per session), its manifest."""
    done: dict[str, Manifest] = {}

    def start(name: str) -> Manifest:
        if name not in done:
            code, out, err = invoke("exercise", "start", name, "--dir", str(class_dir), "--seed", str(CLASS_SEED),
                                    "--student", STUDENT)  # fmt: skip
            assert code == 0, err
            assert "answers.toml" in out
            done[name] = Manifest.read(work_dir(class_dir, name, STUDENT))
        return done[name]

    return start


def write_answers(folder: Path, name: str, answers: dict[str, Any], filename: str = "mine.toml") -> Path:
    """An answers file as a student writes it (TOML; strings quoted, booleans lower case)."""

    def literal(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return json.dumps(value)
        return repr(value)

    lines = ["[exercise]", f"name = {json.dumps(name)}", f"student = {json.dumps(STUDENT)}", "", "[answers]"]
    tables = {k: v for k, v in answers.items() if isinstance(v, dict)}
    lines += [f"{k} = {literal(v)}" for k, v in answers.items() if not isinstance(v, dict)]
    for table, values in tables.items():
        lines += ["", f"[answers.{table}]", *(f"{json.dumps(k)} = {literal(v)}" for k, v in values.items())]
    path = folder / filename
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check(class_dir: Path, name: str, answers: Path) -> tuple[int, dict[str, Any]]:
    """`exercise check NAME --answers FILE --dir CLASS --json`: exit code and the verdict."""
    code, out, err = invoke("exercise", "check", name, "--answers", str(answers), "--dir", str(class_dir), "--json")
    assert code in (0, 1), err
    verdict: dict[str, Any] = json.loads(out)
    return code, verdict


def items(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in verdict["items"]}
