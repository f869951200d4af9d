"""`smartfactory simulators list`: the producer's own tool, so it loads the simulator's files (`smartfactory.sim`).

Listed with the process assembly in tests/test_house.py: no other command module imports the simulator.
"""

from __future__ import annotations

import click

from smartfactory.cli.common import friendly_errors, settings_from
from smartfactory.sim.describe import catalog_lines
from smartfactory.sim.loader import discover


@click.group()
def simulators() -> None:
    """Inspect machine types."""


@simulators.command("list")
@friendly_errors
def simulators_list() -> None:
    """List every discovered machine type (source, sensors, part characteristics, faults).

    Broken simulator files are reported first (on stderr, one `problem:` line each) and make the command exit 1,
    after the list of the types that did load.
    """
    settings = settings_from()
    catalog = discover(settings.sim.dir)
    for problem in catalog.problems:
        click.echo(f"problem: {problem}", err=True)
    if catalog.problems:
        click.echo("", err=True)
    for line in catalog_lines(catalog):
        click.echo(line)
    if catalog.problems:
        count = len(catalog.problems)
        raise click.ClickException(
            f"{count} simulator problem{'s' if count > 1 else ''} (listed first): fix the file(s) named above; "
            "the other machine types still load"
        )
