"""Command line entry point: `smartfactory <command>`; `smartfactory COMMAND --help` documents each one.

Commands load lazily: `smartfactory oee` imports `cli/oee.py` and what it needs, not the simulator, the
ingestion service or the SPC file reader. (Click's documented lazy-group pattern: `get_command` imports the
command's module on first use.) Only the process assembly (`cli/run.py`, with `services.py`) and the
simulator's own tool (`cli/simulators.py`) import `smartfactory.sim`.
"""

from __future__ import annotations

import importlib

import click

from smartfactory import __version__

#: command name → "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "broker": "smartfactory.cli.run:broker",
    "simulate": "smartfactory.cli.run:simulate",
    "ingest": "smartfactory.cli.run:ingest",
    "dashboard": "smartfactory.cli.run:dashboard",
    "demo": "smartfactory.cli.run:demo",
    "export": "smartfactory.cli.data:export",
    "status": "smartfactory.cli.data:status",
    "config": "smartfactory.cli.data:config",
    "simulators": "smartfactory.cli.simulators:simulators",
    "inject": "smartfactory.cli.inject:inject",
    "spc": "smartfactory.cli.spc:spc",
    "report": "smartfactory.cli.report:report",
    "oee": "smartfactory.cli.oee:oee",
    "bridge": "smartfactory.cli.bridge:bridge",
    "exercise": "smartfactory.cli.exercise:exercise",
    "record": "smartfactory.cli.record:record",
    "replay": "smartfactory.cli.record:replay",
    "classroom": "smartfactory.cli.classroom:classroom",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are used (or listed by `--help`)."""

    def __init__(self, *args: object, lazy: dict[str, str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smartfactory")
def main() -> None:
    """smartfactory: simulate a plant, move readings over MQTT, store them, watch them with SPC."""
