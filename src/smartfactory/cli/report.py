"""`smartfactory report detection`: which injected faults did SPC catch, how fast, and how many false alarms.

Windows are in the store's own time: a scenario at `--speed 5` stores simulated time far ahead of the wall
clock, so "now" is the newest stored timestamp and `--since 30m` means the last 30 simulated minutes.
"""

from __future__ import annotations

import json

import click

from smartfactory.cli.common import friendly_errors, settings_from, store_option
from smartfactory.query.detection import Span, detection_from_store
from smartfactory.query.series import short
from smartfactory.query.window import TIME_FORMS, resolve_window
from smartfactory.stores import open_existing_store
from smartfactory.wire import format_ts

#: Charts listed one by one in the table output (the JSON lists every one).
TOP_CHARTS = 10
NO_COUNTERFACTUAL = (
    "counterfactual: not checked (a store holds no run without the faults, so an alarm that would have come anyway "
    "is counted as a detection; bench/alarm_scorecard.py replays each scenario with and without its faults)"
)


@click.group()
def report() -> None:
    """Reports over stored data."""


@report.command("detection")
@store_option
@click.option("--since", default=None, help=f"Start of the window: {TIME_FORMS} (default: the first stored data).")
@click.option("--until", default=None, help="End of the window, exclusive (same forms; default: the newest data).")
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
    """Pair the simulator's ground-truth faults with the alarms on the signals each fault changes: delay and
    detector per fault, false alarms per hour per chart and per plant, over the simulated time in the store."""
    settings = settings_from(store=store)
    storage = open_existing_store(settings)
    try:
        window = resolve_window(storage, since, until)
        # rates count the hours that hold data: the window cut to the stored span (none: no rate)
        start, end = window.start_ms or 0, window.end_ms or 0
        span = Span(start, start) if window.span is None else window.span.clip(start, end)
        stored = detection_from_store(storage, window.since_ms, end, grace_ms=round(grace * 1000), span=span)
    finally:
        storage.close()
    result = stored.report
    if fmt == "json":
        click.echo(json.dumps({**result.to_dict(), "window": window.to_dict()}, indent=2))
        return
    click.echo(f"window: {window.describe()}")
    if window.empty_store:
        click.echo("the store holds no data: run a scenario first (smartfactory demo --scenario tool-wear)")
        return
    if not result.detections:
        click.echo("no injected faults in the window: run a scenario (smartfactory demo --scenario tool-wear)")
    for row in result.detections:
        episode = row.episode
        signals = ",".join(episode.signals) or "any sensor"
        where = f"{short(episode.machine)} [{signals}]"
        if row.alarm_ms is None:
            found = "NOT DETECTED"
        else:
            delay = (row.alarm_ms - episode.start_ms) / 1000
            found = f"caught after {delay:.1f} s by {','.join(row.rules)} on {row.alarm_series}"
        click.echo(f"{format_ts(episode.start_ms)}  {episode.fault:<14} {where:<40} {found}")
    summary = result.summary()
    click.echo(f"\n{summary['detected']}/{summary['episodes']} faults detected; {NO_COUNTERFACTUAL}")
    hours = span.hours
    if hours is None:
        click.echo(f"{summary['false_alarms']} false alarms; no rate: the window holds no data ({span.describe()})")
        return
    n_false = summary["false_alarms"]
    click.echo(f"{n_false} false alarms: {n_false / hours:.2f} per hour over the {hours:.2f} h of data")
    if result.stops:
        click.echo(f"  ({len(result.stops)} stops without a fault event: state alarms, not counted as false alarms)")
    for plant, n in result.false_alarms_by_plant().items():
        click.echo(f"  plant {plant}: {n / hours:.2f} per hour")
    charts = sorted(result.false_alarms_by_series().items(), key=lambda kv: (-kv[1], kv[0]))
    for series, n in charts[:TOP_CHARTS]:
        click.echo(f"  chart {series}: {n} ({n / hours:.2f} per hour)")
    if len(charts) > TOP_CHARTS:
        click.echo(f"  … and {len(charts) - TOP_CHARTS} more charts (--format json lists every one)")
