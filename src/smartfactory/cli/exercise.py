"""`smartfactory exercise list|start|check|results`: exercises with checkable answers (docs/exercises.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from smartfactory.cli.common import echo, friendly_errors, settings_from

DIR_HELP = "Class folder: data in DIR/[STUDENT/]NAME, results in DIR/results.csv (default: the current folder)."


@click.group()
def exercise() -> None:
    """Exercises with checkable answers: seeded data, a question sheet, a check against the ground truth."""


@exercise.command("list")
def list_() -> None:
    """Every exercise: name, topic, what it needs."""
    from smartfactory.exercises.catalogue import EXERCISES

    width = max(len(n) for n in EXERCISES)
    for name, item in EXERCISES.items():
        click.echo(f"{name:<{width}}  {item.title}")
        click.echo(f"{'':<{width}}  topic: {item.topic}")
        click.echo(f"{'':<{width}}  needs: {item.needs}")


@exercise.command()
@click.argument("name")
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), help=DIR_HELP)
@click.option("--seed", type=int, default=None, help="Class seed (default 2026); each student's seed derives from it.")
@click.option("--student", default=None, help="Student id (e.g. student-07): their own seed and folder.")
@friendly_errors
def start(name: str, root: Path, seed: int | None, student: str | None) -> None:
    """Make exercise NAME: its data (a seeded plant run into a SQLite store), sheet.md and answers.toml."""
    from smartfactory.exercises.session import start as start_exercise

    settings_from()
    echo(f"making {name}" + (f" for {student}" if student else "") + " …")
    started = start_exercise(name, root, class_seed=seed, student=student)
    folder = started.folder
    echo(f"seed {started.manifest.seed}; data in {started.seconds:.1f} s")
    click.echo(f"sheet:   {folder / 'sheet.md'}")
    click.echo(f"answers: {folder / 'answers.toml'}")
    click.echo(f"store:   {started.manifest.store}")


@exercise.command()
@click.argument("name")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The filled-in answers.toml.")  # fmt: skip
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), help=DIR_HELP)
@click.option("--student", default=None, help="Student id (default: the answers file's [exercise] student).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@friendly_errors
def check(name: str, answers_file: Path, root: Path, student: str | None, as_json: bool) -> None:
    """Check an answers file against the ground truth; exit 0 when every answer is correct, 1 otherwise."""
    from smartfactory.exercises.session import check as check_exercise

    settings_from()
    verdict = check_exercise(name, answers_file, root, student=student)
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), indent=2, default=str))
    else:
        click.echo("\n".join(verdict.lines()))
    raise SystemExit(0 if verdict.passed else 1)


@exercise.command()
@click.option("--dir", "root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), help=DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Every row of results.csv as JSON.")
def results(root: Path, as_json: bool) -> None:
    """The class results table: best score per student and exercise (and how many checks)."""
    from smartfactory.exercises.grading import class_table, read_results

    rows = read_results(root)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        raise click.ClickException(f"no results in {root / 'results.csv'} yet: students run `exercise check`")
    header, table = class_table(rows)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table, strict=True)]
    for line in (header, *table):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
