"""Commands that read or inspect: `export`, `status`, `config show`, `simulators list`, `inject`."""

from __future__ import annotations

import csv
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, store_option
from smartfactory.errors import ConfigError
from smartfactory.mqtt import Message, MqttClient
from smartfactory.services import open_configured_store
from smartfactory.settings import masked_dump, parse_mqtt_url
from smartfactory.sim.loader import discover
from smartfactory.wire import (
    HEALTH_PREFIX,
    CommandPayload,
    MachinePath,
    MessageClass,
    format_ts,
    ms_from_datetime,
    payload_to_json,
)


def parse_time(text: str | None) -> int | None:
    """`2026-11-22T10:00Z`, `2026-11-22` (UTC), or relative to now: `15m`, `2h`, `7d` ago."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].replace(".", "", 1).isdigit():
        delta = timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return ms_from_datetime(datetime.now(UTC) - delta)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"cannot read time {text!r}: use ISO-8601 (2026-11-22T10:00Z) or 15m / 2h / 7d") from None
    return ms_from_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@click.command()
@store_option
@click.option("--since", default=None, help="Start (ISO-8601, or 15m / 2h / 7d ago).")
@click.option("--until", default=None, help="End, exclusive (same forms).")
@click.option("--machine", default=None, help="Only this machine (name or full path).")
@click.option("--sensor", default=None, help="Only this sensor.")
@click.option("--deadletter", is_flag=True, help="Export dead letters (rejected messages) instead of readings.")
@friendly_errors
def export(
    store: str | None,
    since: str | None,
    until: str | None,
    machine: str | None,
    sensor: str | None,
    deadletter: bool,
) -> None:
    """Write stored readings as CSV to stdout (topic, ts, value, unit), streaming in chunks."""
    settings = settings_from(store=store)
    storage = open_configured_store(settings)
    out = csv.writer(sys.stdout, lineterminator="\n")
    try:
        if deadletter:
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
        out.writerow(["topic", "ts", "value", "unit"])
        rows = 0
        for chunk in storage.iter_readings(parse_time(since), parse_time(until), machine, sensor):
            out.writerows((r.series, format_ts(r.ts_ms), repr(r.value), r.unit or "") for r in chunk)
            rows += len(chunk)
        echo(f"exported {rows} readings")
    finally:
        storage.close()


@click.command()
@mqtt_option
@click.option("--wait", type=float, default=3.0, show_default=True, help="Seconds to listen for health messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def status(mqtt_url: str | None, wait: float, as_json: bool) -> None:
    """Show the health counters the ingestion workers publish (received, stored, rejected, queue, lag)."""
    settings = settings_from(mqtt_url=mqtt_url)
    seen: dict[str, dict[str, object]] = {}
    lock = threading.Lock()

    def on_message(message: Message) -> None:
        with lock:
            seen[message.topic.rsplit("/", 1)[-1]] = json.loads(message.payload)

    client = MqttClient(parse_mqtt_url(settings.mqtt_url), on_message=on_message)
    client.subscribe(f"{HEALTH_PREFIX}/+", qos=0)
    client.connect(settings.mqtt.connect_timeout)
    time.sleep(wait)
    client.close()
    if as_json:
        click.echo(json.dumps(seen, indent=2))
        return
    if not seen:
        raise click.ClickException(f"no ingestion worker reported on {settings.mqtt_url}; start `smartfactory ingest`")
    for worker, health in sorted(seen.items()):
        click.echo(f"{worker}:")
        for key, value in health.items():
            click.echo(f"  {key:<15} {value}")


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
    """List every discovered machine type and where it came from; report broken files."""
    settings = settings_from()
    catalog = discover(settings.sim.dir)
    for name, machine_type in sorted(catalog.types.items()):
        sensors = ", ".join(machine_type.cls.sensors)
        click.echo(f"{name:<20} {machine_type.source}\n{'':<20} {machine_type.summary} [{sensors}]")
    for problem in catalog.problems:
        click.echo(f"problem: {problem}", err=True)


@click.command()
@mqtt_option
@click.argument("machine")
@click.argument("fault", required=False)
@click.option("--sensor", default=None, help="Sensor the fault acts on (default: all).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Fault parameter, e.g. size=3.")
@click.option("--clear", is_flag=True, help="Remove every fault from MACHINE (a repair).")
@friendly_errors
def inject(
    mqtt_url: str | None,
    machine: str,
    fault: str | None,
    sensor: str | None,
    params: tuple[str, ...],
    clear: bool,
) -> None:
    """Inject FAULT (shift, drift) into MACHINE (full path enterprise/site/area/line/machine) of a running simulator."""
    settings = settings_from(mqtt_url=mqtt_url)
    levels = machine.split("/")
    if len(levels) != 5:
        raise click.UsageError("MACHINE is the full path, e.g. acme/plant1/machining/line-1/cnc-01")
    if not clear and not fault:
        raise click.UsageError("give a FAULT (e.g. shift --param size=3) or --clear")
    values: dict[str, float | str] = {}
    for item in params:
        key, _, raw = item.partition("=")
        try:
            values[key] = float(raw)
        except ValueError:
            values[key] = raw
    command = CommandPayload(action="clear" if clear else "inject", fault=fault, sensor=sensor, params=values)
    client = MqttClient(parse_mqtt_url(settings.mqtt_url))
    client.connect(settings.mqtt.connect_timeout)
    client.publish(MachinePath(*levels).topic(MessageClass.CMD), payload_to_json(command), qos=1)
    client.close()
    echo(f"sent {command.action} {fault or ''} to {machine}")
