"""Commands that read or inspect: `export`, `status`, `config show`.

None of them loads the simulator (`smartfactory.sim`); `simulators list` lives in `cli/simulators.py`, `inject`
in `cli/inject.py`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, store_option
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.model import Reading
from smartfactory.query.series import match_series
from smartfactory.query.window import TIME_FORMS, parse_time, resolve_window
from smartfactory.settings import masked_dump, parse_mqtt_url
from smartfactory.storage import Storage
from smartfactory.storage.export import open_writer, write_chunks
from smartfactory.stores import open_existing_store
from smartfactory.wire import HEALTH_PREFIX, format_ts, parse_series


def _dead_letter_rows(storage: Storage, since: str | None, until: str | None) -> Iterator[list[object]]:
    """Dead letters are stamped with the time they were received (the wall clock, not simulated time), so
    relative bounds count back from the wall clock here."""
    since_ms, until_ms = parse_time(since), parse_time(until)
    for letter in storage.read_deadletters(since_ms=since_ms):
        if until_ms is not None and letter.received_ms >= until_ms:
            continue
        payload = letter.payload.decode("utf-8", "replace")
        yield [format_ts(letter.received_ms), letter.topic, letter.reason, letter.detail, letter.payload_size, payload]


def _chosen_series(storage: Storage, names: tuple[str, ...]) -> list[str]:
    """The stored series `--series` names: each a full series id or a unique ending of one (as `spc analyze`)."""
    stored = sorted(info.series for info in storage.list_series())
    return list(dict.fromkeys(match_series(name, stored) for name in names))


def _series_chunks(
    storage: Storage, series: list[str], since_ms: int | None, until_ms: int | None
) -> Iterator[list[Reading]]:
    for name in series:
        sid = parse_series(name)
        for chunk in storage.iter_readings(since_ms, until_ms, sid.machine, sid.sensor):
            kept = [r for r in chunk if r.series == name]  # a sensor and a characteristic may share a name
            if kept:
                yield kept


@click.command()
@store_option
@click.option("--since", default=None, help=f"Start: {TIME_FORMS}. Default: the first stored reading.")
@click.option("--until", default=None, help="End, exclusive (same forms). Default: just after the newest.")
@click.option(
    "--series",
    "series",
    multiple=True,
    metavar="NAME",
    help="Only this series: its full id or a unique ending (cnc-01/telemetry/spindle_temp); repeatable.",
)
@click.option("--machine", default=None, help="Only this machine (name or full path).")
@click.option("--sensor", default=None, help="Only this sensor.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="csv (text) or parquet (typed, compressed; for pandas/polars notebooks).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-", help="File (default stdout)."
)
@click.option("--deadletter", is_flag=True, help="Export dead letters (rejected messages, CSV) instead of readings.")
@friendly_errors
def export(
    store: str | None,
    since: str | None,
    until: str | None,
    series: tuple[str, ...],
    machine: str | None,
    sensor: str | None,
    fmt: str,
    output: str,
    deadletter: bool,
) -> None:
    """Write stored readings (topic, ts, value, unit) as CSV or Parquet, streaming them in chunks.

    Times are the store's own: "now" is the newest stored timestamp, so `--since 2h` means the last two hours
    of (possibly simulated) data, and the window used is printed on stderr. The store must exist: this command
    only reads. Parquet is binary: give --output FILE.parquet (or redirect stdout) rather than a terminal.
    Dead letters (`--deadletter`) are kept by the wall-clock time they arrived, so there `--since 2h` counts
    back from the wall clock.
    """
    if deadletter and fmt != "csv":
        raise click.UsageError("dead letters export as CSV only: drop --format parquet")
    if series and (machine or sensor):
        raise click.UsageError("choose series either with --series or with --machine/--sensor, not both")
    to_stdout = output == "-"
    if fmt == "parquet" and to_stdout and sys.stdout.isatty():
        raise click.UsageError("Parquet is binary: give --output FILE.parquet or redirect stdout to a file")
    settings = settings_from(store=store)
    storage = open_existing_store(settings)
    try:
        with contextlib.ExitStack() as stack:
            if deadletter:
                rows = list(_dead_letter_rows(storage, since, until))
                text, _ = _outputs(stack, output)
                out = csv.writer(text, lineterminator="\n")
                out.writerow(["received", "topic", "reason", "detail", "payload_size", "payload"])
                out.writerows(rows)
                return
            window = resolve_window(storage, since, until)  # before the output opens: a bad --since writes nothing
            chosen = _chosen_series(storage, series) if series else None
            if chosen is not None:
                chunks = _series_chunks(storage, chosen, window.since_ms, window.until_ms)
            else:
                chunks = storage.iter_readings(window.since_ms, window.until_ms, machine, sensor)
            text, binary = _outputs(stack, output)
            text.flush()
            count = write_chunks(open_writer(fmt, text, binary), chunks)
            text.flush()
        which = f" of {len(chosen)} series" if chosen is not None else ""
        echo(f"exported {count} readings{which}; window: {window.describe()}")
    finally:
        storage.close()


def _outputs(stack: contextlib.ExitStack, output: str) -> tuple[IO[str], IO[bytes]]:
    """(text, binary) streams of `--output`: stdout, or the file (opened only now, so errors create no file)."""
    if output == "-":
        return sys.stdout, sys.stdout.buffer
    handle = stack.enter_context(open(output, "wb"))  # noqa: SIM115 - closed by the caller's ExitStack
    return stack.enter_context(io.TextIOWrapper(handle, "utf-8", newline="")), handle


@click.command()
@mqtt_option
@click.option("--wait", type=float, default=3.0, show_default=True, help="Seconds to listen for health messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--worker", default=None, help="Exit 1 unless this worker (client id) reports fresh ok/spooling.")
@click.option("--own", is_flag=True, help="--worker is this configuration's ingest.client_id (a healthcheck).")
@friendly_errors
def status(mqtt_url: str | None, wait: float, as_json: bool, worker: str | None, own: bool) -> None:
    """Show the health the ingestion workers publish: received, stored, duplicates, rejected by reason, spooled,
    queue depth and lag, per worker and in total. A worker whose report is old is marked stale; one that vanished
    without stopping (crash, network) shows as lost. Exits 1 unless a fresh `ok` or `spooling` report (of
    `--worker`, when given) was seen: a healthcheck."""
    from smartfactory.ingest.health import format_status, healthy_workers

    settings = settings_from(mqtt_url=mqtt_url)
    if own:
        worker = settings.ingest.client_id
    seen: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def on_message(message: Message) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(body, dict):
            with lock:
                seen[message.topic.removeprefix(HEALTH_PREFIX + "/")] = body

    client = MqttClient(parse_mqtt_url(settings.mqtt_url), on_message=on_message)
    client.subscribe(f"{HEALTH_PREFIX}/#", qos=0)
    client.connect(settings.mqtt.connect_timeout)
    time.sleep(wait)
    client.close()
    now_ms = int(time.time() * 1000)
    if as_json:
        click.echo(json.dumps(seen, indent=2))
    elif not seen:
        raise click.ClickException(
            f"no ingestion worker reported on {parse_mqtt_url(settings.mqtt_url).url()}; start `smartfactory ingest`"
        )
    else:
        click.echo(format_status(seen, now_ms=now_ms))
    if not healthy_workers(seen, now_ms, worker):
        who = f"worker {worker!r}" if worker else "any worker"
        raise click.ClickException(f"no fresh ok/spooling report from {who} (lost, stopped, failed or stale)")


@click.group()
def config() -> None:
    """Inspect settings."""


@config.command("show")
@friendly_errors
def config_show() -> None:
    """Print the effective settings (environment + defaults) as JSON, secrets masked."""
    click.echo(json.dumps(masked_dump(settings_from()), indent=2, default=str))
