"""`smartfactory report detection`: which injected faults did SPC catch, how fast, and how many false alarms."""

from __future__ import annotations

import json
import time

import click

from smartfactory.cli.common import friendly_errors, settings_from, store_option
from smartfactory.cli.data import parse_time
from smartfactory.query.detection import detection_from_store
from smartfactory.query.series import short
from smartfactory.services import open_configured_store
from smartfactory.wire import format_ts


@click.group()
def report() -> None:
    """Reports over stored data."""


@report.command("detection")
@store_option
@click.option("--since", default=None, help="Start of the window (ISO-8601, or 15m / 2h / 7d ago).")
@click.option("--until", default=None, help="End of the window, exclusive (default: now).")
@click.option(
    "--grace",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds after a repair during which an alarm still counts for that fault.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@friendly_errors
def detection(store: str | None, since: str | None, until: str | None, grace: float, fmt: str) -> None:
    """Pair the simulator's ground-truth faults with SPC alarms: delay and rule per fault, false alarms per hour."""
    settings = settings_from(store=store)
    storage = open_configured_store(settings)
    try:
        since_ms = parse_time(since)
        until_ms = parse_time(until) or int(time.time() * 1000)
        stored = detection_from_store(storage, since_ms, until_ms, grace_ms=round(grace * 1000))
    finally:
        storage.close()
    result = stored.report
    starts = [e.ts_ms for e in stored.events] + [a.ts_ms for a in stored.alarms]
    window_start = since_ms if since_ms is not None else min(starts, default=until_ms)
    hours = max(until_ms - window_start, 1) / 3_600_000
    summary = {
        **result.summary(),
        "window_hours": round(hours, 4),
        "false_alarms_per_hour": round(len(result.false_alarms) / hours, 3),
    }
    if fmt == "json":
        click.echo(json.dumps({**result.to_dict(), "summary": summary}, indent=2))
        return
    if not result.detections:
        click.echo("no injected faults in the window: run a scenario (smartfactory demo --scenario tool-wear)")
    for row in result.detections:
        episode = row.episode
        where = f"{short(episode.machine)}{'/' + episode.sensor if episode.sensor else ''}"
        if row.alarm_ms is None:
            found = "NOT DETECTED"
        else:
            delay = (row.alarm_ms - episode.start_ms) / 1000
            found = f"caught after {delay:.1f} s by {','.join(row.rules)} on {row.alarm_series}"
        click.echo(f"{format_ts(episode.start_ms)}  {episode.fault:<14} {where:<28} {found}")
    click.echo(
        f"\n{summary['detected']}/{summary['episodes']} faults detected; "
        f"{summary['false_alarms']} false alarms ({summary['false_alarms_per_hour']} per hour over "
        f"{summary['window_hours']:.2f} h)"
    )
