"""`smartfactory classroom init|start`: a lecturer and a class on one broker, each student in a namespace."""

from __future__ import annotations

import time
from pathlib import Path

import click

from smartfactory.classroom.roster import ClassDir, read_names
from smartfactory.classroom.setup import ClassOptions, init_class, names_or_count
from smartfactory.cli.common import echo, friendly_errors, settings_from, stop_on_signals, store_option
from smartfactory.durations import EXAMPLES, parse_duration

DIR_OPTION = click.option(
    "--dir", "folder", required=True, type=click.Path(file_okay=False, path_type=Path), help="The class folder."
)


@click.group()
def classroom() -> None:
    """Classroom mode: one broker, ingestion and store for a class, each student's plant in its own namespace."""


@classroom.command()
@DIR_OPTION
@click.option("--students", type=click.IntRange(1, 999), default=None, help="Number of students (or --roster).")
@click.option(
    "--roster",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="CSV of names (a 'name' column, or one name per line): usernames are made from them.",
)
@click.option("--mqtt-port", type=click.IntRange(1, 65535), default=1883, show_default=True, help="Broker port.")
@click.option(
    "--session-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Broker port where client id = username (ingestion, plants); default: --mqtt-port + 1.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address broker and dashboard bind to (0.0.0.0: the lab)."
)
@click.option("--address", default=None, help="Host name students connect to, printed on the cards.")
@click.option("--dashboard-port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--plant", default="default", show_default=True, help="Plant every student gets (simulators/plants).")
@click.option("--seed", "class_seed", type=int, default=None, help="Class seed (default: random, recorded).")
@click.option("--force", is_flag=True, help="Replace an existing class in DIR (its cards stop working).")
@friendly_errors
def init(
    folder: Path,
    students: int | None,
    roster: Path | None,
    mqtt_port: int,
    session_port: int | None,
    host: str,
    address: str | None,
    dashboard_port: int,
    plant: str,
    class_seed: int | None,
    force: bool,
) -> None:
    """Write DIR: students.csv (username,password,namespace), broker config, password file, ACL, login cards."""
    names = read_names(roster) if roster is not None else []
    count = names_or_count(students, names)
    options = ClassOptions(
        students=count,
        names=names,
        port=mqtt_port,
        session_port=session_port,
        host=host,
        address=address,
        dashboard_port=dashboard_port,
        plant=plant,
        class_seed=class_seed,
    )
    info = init_class(ClassDir(folder), options, force=force)
    echo(f"class of {len(info.students)} students in {folder} (class seed {info.class_seed})")
    echo(f"  accounts:     {folder / 'students.csv'} (passwords: keep it private)")
    echo(f"  login cards:  {folder / 'cards.html'} (print), {folder / 'cards.md'}")
    echo(
        f"  broker:       {folder / 'mosquitto' / 'mosquitto.conf'} (port {info.port}, anonymous refused; "
        f"port {info.session_port}: sessions bound to accounts)"
    )
    echo(f"next: smartfactory classroom start --dir {folder}")


@classroom.command()
@DIR_OPTION
@click.option("--speed", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Simulated s per s.")
@click.option("--sim-duration", default=None, help=f"Each plant stops after this much simulated time ({EXAMPLES}).")
@click.option("--duration", default=None, help="Stop everything after this much wall-clock time.")
@click.option("--backfill", default=None, help="Each plant first writes this much history up to now (e.g. 2h).")
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard.")
@store_option
@friendly_errors
def start(
    folder: Path,
    speed: float,
    sim_duration: str | None,
    duration: str | None,
    backfill: str | None,
    no_dashboard: bool,
    store: str | None,
) -> None:
    """Start the class: broker, one ingestion into one store, one plant per student, the dashboard; Ctrl-C stops."""
    from smartfactory.classroom.session import StartOptions, start_class  # the assembly: imports the simulator

    sim_s = None if sim_duration is None else parse_duration(sim_duration)
    wall_s = None if duration is None else parse_duration(duration)
    if speed == 0 and sim_s is None:
        raise click.UsageError("--speed 0 runs as fast as possible: give --sim-duration too")
    options = StartOptions(
        speed=speed,
        sim_duration_s=sim_s,
        backfill_s=None if backfill is None else parse_duration(backfill),
        dashboard=not no_dashboard,
        store=store,
    )
    settings = settings_from()
    session = start_class(ClassDir(folder), settings, options, say=echo)
    echo("running" + (f" for {wall_s:g} s" if wall_s else "") + "; Ctrl-C stops every part")
    started = time.monotonic()
    try:
        with stop_on_signals() as stop:
            while not stop.wait(0.5):
                if wall_s is not None and time.monotonic() - started >= wall_s:
                    break
                if sim_s is not None and session.plants_done():
                    echo("every plant reached the end of its simulated duration")
                    break
    finally:
        echo("stopping…")
        session.stop(echo)
