"""`smartfactory bridge opcua`: carry an OPC UA server's values onto MQTT in wire format v1 or as Sparkplug B
(docs/opcua.md)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from pathlib import Path

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, stop_on_signals
from smartfactory.edge.broker import CLIENT_ID_PREFIX
from smartfactory.edge.mqtt import MqttClient
from smartfactory.edge.sparkplug import SparkplugEdgeNodes
from smartfactory.opcua.bridge import BridgeOptions, OpcUaBridge
from smartfactory.opcua.browse import browse_endpoint
from smartfactory.opcua.nodemap import load_node_map
from smartfactory.opcua.outbox import Outbox
from smartfactory.opcua.security import PASSWORD_ENV, SECURITY_MODES, Security
from smartfactory.settings import Settings, parse_mqtt_url
from smartfactory.sparkplug.mapping import SparkplugMapping


@click.group()
def bridge() -> None:
    """Bridges from other plant protocols onto MQTT."""


@bridge.command("opcua")
@click.option("--endpoint", required=True, metavar="URL", help="OPC UA server, opc.tcp://HOST:PORT.")
@mqtt_option
@click.option(
    "--format",
    "wire_format",
    type=click.Choice(["uns", "sparkplug"]),
    default="uns",
    show_default=True,
    help="uns: wire format v1, JSON on ISA-95 topics (docs/wire.md); sparkplug: Sparkplug B, an edge node per line "
    "and a device per machine, made from its birth (docs/sparkplug.md).",
)
@click.option(
    "--nodes",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Node map (YAML, docs/opcua.md); without it the server is browsed (a smartfactory server).",
)
@click.option(
    "--sampling-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Sampling interval asked of the server for each node (0: as fast as it can).",
)
@click.option(
    "--publishing-ms",
    type=click.FloatRange(min=10),
    default=100.0,
    show_default=True,
    help="Publishing interval of the subscription.",
)
@click.option(
    "--deadband",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Absolute deadband: a change smaller than this is not reported (0: every change).",
)
@click.option(
    "--queue-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Changes the server keeps per node between two publishes (oldest dropped first).",
)
@click.option(
    "--security",
    type=click.Choice(SECURITY_MODES),
    default="none",
    show_default=True,
    help="none, or sign-encrypt: Basic256Sha256 SignAndEncrypt with a certificate made on first use.",
)
@click.option("--user", default=None, help=f"User name; the password is read from {PASSWORD_ENV}.")
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the bridge's certificate and key (default DATA_DIR/opcua).",
)
@click.option(
    "--write-nodes",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Browse the server, write its node map to this file and exit (a start for your own map).",
)
@friendly_errors
def opcua(
    endpoint: str,
    mqtt_url: str | None,
    wire_format: str,
    nodes: Path | None,
    sampling_ms: float,
    publishing_ms: float,
    deadband: float,
    queue_size: int,
    security: str,
    user: str | None,
    cert_dir: Path | None,
    write_nodes: Path | None,
) -> None:
    """Subscribe to an OPC UA server and publish its values in wire format v1 (or Sparkplug B), until Ctrl-C.

    It survives a restart of the server (reconnects with back-off and subscribes again) and logs what an outage
    lost: an OPC UA server keeps no history, so changes while no session was there are gone. At the end it
    prints its counters as JSON.
    """
    settings = settings_from(mqtt_url=mqtt_url)
    sec = Security.from_options(security, user, cert_dir or settings.data_dir / "opcua")
    if write_nodes is not None:
        found = asyncio.run(browse_endpoint(endpoint, sec))
        write_nodes.write_text(found.to_yaml(), encoding="utf-8")
        echo(f"{len(found.machines)} machines, {found.node_count} nodes → {write_nodes}")
        return
    options = BridgeOptions(
        endpoint=endpoint,
        security=sec,
        node_map=load_node_map(nodes) if nodes is not None else None,
        sampling_ms=sampling_ms,
        publishing_ms=publishing_ms,
        deadband=deadband,
        queue_size=queue_size,
    )
    address = parse_mqtt_url(settings.mqtt_url)
    outbox = _outbox(settings, wire_format)
    runner = OpcUaBridge(options, outbox)
    echo(f"bridging {endpoint} ({sec.describe()}) → {address.url(masked=True)}; Ctrl-C stops")
    try:
        _run_until_signal(runner)
    finally:
        outbox.close()
    # the Sparkplug B edge nodes count what they could not send (the broker away at the stop) on their own
    dropped = outbox.dropped + int(getattr(outbox.sink, "dropped", 0))
    echo(f"stopped: {json.dumps({**runner.stats.as_dict(), 'mqtt_sent': outbox.sent, 'mqtt_dropped': dropped})}")


def _outbox(settings: Settings, wire_format: str) -> Outbox:
    """The way out to the broker, connected: one MQTT connection for wire v1, or Sparkplug B edge nodes that
    connect as the births of their lines' machines arrive."""
    address = parse_mqtt_url(settings.mqtt_url)
    if wire_format == "sparkplug":
        nodes = SparkplugEdgeNodes(
            address,
            qos=settings.mqtt.qos,
            keepalive=settings.mqtt.keepalive,
            mapping=SparkplugMapping(settings.sparkplug.group_levels, settings.sparkplug.node_device),
            adopt=True,
            client_prefix=f"{CLIENT_ID_PREFIX}opcua-spb",
        )
        nodes.connect(settings.mqtt.connect_timeout)
        return Outbox.of(nodes)
    client_id = f"{CLIENT_ID_PREFIX}opcua-bridge-{uuid.uuid4().hex[:8]}"
    client = MqttClient(address, client_id=client_id, keepalive=settings.mqtt.keepalive)
    client.connect(settings.mqtt.connect_timeout)
    return Outbox(client, qos=settings.mqtt.qos)


def _run_until_signal(runner: OpcUaBridge) -> None:
    """Run the bridge's loop in this thread; Ctrl-C or SIGTERM sets its stop event."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        try:
            loop.run_until_complete(runner.run(stop))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=main, name="opcua-bridge", daemon=True)
    thread.start()
    with stop_on_signals() as signalled:
        while thread.is_alive() and not signalled.wait(0.2):
            pass
    if thread.is_alive():
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
    loop.close()
    if failure:
        raise failure[0]
