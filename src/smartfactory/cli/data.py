"""Commands that read or inspect: `export`, `status`, `config show`, `simulators list`, `inject`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, store_option
from smartfactory.durations import parse_duration
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import ConfigError
from smartfactory.services import open_configured_store
from smartfactory.settings import masked_dump, parse_mqtt_url
from smartfactory.sim.describe import catalog_lines, check_fault, resolve_machine
from smartfactory.sim.loader import discover
from smartfactory.storage.export import open_writer, write_chunks
from smartfactory.wire import (
    HEALTH_PREFIX,
    CommandPayload,
    MessageClass,
    format_ts,
    ms_from_datetime,
    payload_to_json,
)


def parse_time(text: str | None) -> int | None:
    """`2026-11-22T10:00Z`, `2026-11-22` (UTC), or a duration with a unit that long ago: `15m`, `2h`, `1h30m`, `7d`."""
    if text is None:
        return None
    with contextlib.suppress(ConfigError):  # the one duration syntax (smartfactory.durations)
        ago_s = parse_duration(text, unit_required=True)
        return ms_from_datetime(datetime.now(UTC) - timedelta(seconds=ago_s))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"cannot read time {text!r}: use ISO-8601 (2026-11-22T10:00Z) or a time ago such as 15m, 2h, 1h30m, 7d"
        ) from None
    return ms_from_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@click.command()
@store_option
@click.option("--since", default=None, help="Start (ISO-8601, or 15m / 2h / 7d ago).")
@click.option("--until", default=None, help="End, exclusive (same forms).")
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
    machine: str | None,
    sensor: str | None,
    fmt: str,
    output: str,
    deadletter: bool,
) -> None:
    """Write stored readings (topic, ts, value, unit) as CSV or Parquet, streaming them in chunks."""
    if deadletter and fmt != "csv":
        raise click.UsageError("dead letters export as CSV only: drop --format parquet")
    to_stdout = output == "-"
    if fmt == "parquet" and to_stdout and sys.stdout.isatty():
        raise click.UsageError("Parquet is binary: give --output FILE.parquet or redirect stdout to a file")
    settings = settings_from(store=store)
    storage = open_configured_store(settings)
    try:
        with contextlib.ExitStack() as stack:
            if to_stdout:
                text, binary = sys.stdout, sys.stdout.buffer
            else:
                handle = stack.enter_context(open(output, "wb"))
                binary, text = handle, stack.enter_context(io.TextIOWrapper(handle, "utf-8", newline=""))
            if deadletter:
                out = csv.writer(text, lineterminator="\n")
                out.writerow(["received", "topic", "reason", "detail", "payload_size", "payload"])
                for letter in storage.read_deadletters(since_ms=parse_time(since)):
                    out.writerow(
                        [
                            format_ts(letter.received_ms),
                            letter.topic,
                            letter.reason,
                            letter.detail,
                            letter.payload_size,
                            letter.payload.decode("utf-8", "replace"),
                        ]
                    )
                return
            chunks = storage.iter_readings(parse_time(since), parse_time(until), machine, sensor)
            text.flush()
            rows = write_chunks(open_writer(fmt, text, binary), chunks)
            text.flush()
        echo(f"exported {rows} readings")
    finally:
        storage.close()


@click.command()
@mqtt_option
@click.option("--wait", type=float, default=3.0, show_default=True, help="Seconds to listen for health messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def status(mqtt_url: str | None, wait: float, as_json: bool) -> None:
    """Show the health the ingestion workers publish: received, stored, duplicates, rejected by reason, spooled,
    queue depth and lag, per worker and in total. A worker whose report is old is marked stale; one that vanished
    without stopping (crash, network) shows as lost."""
    from smartfactory.ingest.health import format_status

    settings = settings_from(mqtt_url=mqtt_url)
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
    if as_json:
        click.echo(json.dumps(seen, indent=2))
        return
    if not seen:
        raise click.ClickException(f"no ingestion worker reported on {settings.mqtt_url}; start `smartfactory ingest`")
    click.echo(format_status(seen, now_ms=int(time.time() * 1000)))


@click.group()
def config() -> None:
    """Inspect settings."""


@config.command("show")
@friendly_errors
def config_show() -> None:
    """Print the effective settings (environment + defaults) as JSON, secrets masked."""
    click.echo(json.dumps(masked_dump(settings_from()), indent=2, default=str))


@click.group()
def simulators() -> None:
    """Inspect machine types."""


@simulators.command("list")
@friendly_errors
def simulators_list() -> None:
    """List every discovered machine type (source, sensors, part characteristics, faults); report broken files."""
    settings = settings_from()
    catalog = discover(settings.sim.dir)
    for line in catalog_lines(catalog):
        click.echo(line)
    for problem in catalog.problems:
        click.echo(f"problem: {problem}", err=True)


@click.command()
@mqtt_option
@click.argument("machine")
@click.argument("fault", required=False)
@click.option("--sensor", default=None, help="Sensor or part characteristic the fault acts on (default: all).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Fault parameter: size=3, duration=5m.")
@click.option("--clear", is_flag=True, help="Repair: remove every fault from MACHINE (or only FAULT, if given).")
@friendly_errors
def inject(
    mqtt_url: str | None,
    machine: str,
    fault: str | None,
    sensor: str | None,
    params: tuple[str, ...],
    clear: bool,
) -> None:
    """Inject FAULT into MACHINE of a running simulator, or --clear it.

    MACHINE is a name (cnc-02), line/name (line-1/cnc-02) or the full path
    (acme/plant1/machining/line-1/cnc-02). FAULT is a signal fault (shift, drift, variance, growing_variance,
    stuck, spikes, dropout, cycle, warmup), a machine fault (breakdown, stop, slowdown) or one of the machine
    type's own (tool_wear); `smartfactory simulators list` lists them with their parameters. The simulator
    publishes the fault as a ground-truth event on MACHINE/event with its exact simulated start time.
    """
    settings = settings_from(mqtt_url=mqtt_url)
    if not clear and not fault:
        raise click.UsageError("give a FAULT (e.g. shift --sensor power --param size=3) or --clear")
    path, spec = resolve_machine(machine, settings.sim.dir, settings.sim.plant)
    if fault and not clear:
        check_fault(spec, settings.sim.dir, fault, sensor)
    values: dict[str, float | str] = {}
    for item in params:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--param {item!r}: write KEY=VALUE, e.g. size=3")
        try:
            values[key] = float(raw)
        except ValueError:
            values[key] = raw
    command = CommandPayload(action="clear" if clear else "inject", fault=fault, sensor=sensor, params=values)
    client = MqttClient(parse_mqtt_url(settings.mqtt_url))
    client.connect(settings.mqtt.connect_timeout)
    client.publish(path.topic(MessageClass.CMD), payload_to_json(command), qos=1)
    client.close()
    echo(f"sent {command.action} {fault or 'all faults'} to {path}; the simulator confirms on {path}/event")
