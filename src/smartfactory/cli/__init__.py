"""Command line entry point: `smartfactory <command>`; `smartfactory COMMAND --help` documents each one."""

from __future__ import annotations

import click

from smartfactory import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smartfactory")
def main() -> None:
    """smartfactory: simulate a plant, move readings over MQTT, store them, watch them with SPC."""


def _register() -> None:
    from smartfactory.cli import data, oee, report, run, spc

    for command in (
        run.broker,
        run.simulate,
        run.ingest,
        run.dashboard,
        run.demo,
        data.export,
        data.status,
        data.config,
        data.simulators,
        data.inject,
        spc.spc,
        report.report,
        oee.oee,
    ):
        main.add_command(command)


_register()
