"""Commands that run one part of the pipeline each (`broker`, `simulate`, `ingest`, `dashboard`) or all (`demo`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, stop_on_signals, store_option
from smartfactory.durations import EXAMPLES, parse_duration
from smartfactory.edge.broker import RunningBroker, ensure_broker, packet_limit, start_amqtt, start_mosquitto
from smartfactory.services import (
    RunningIngest,
    RunningSimulator,
    dashboard_command,
    start_dashboard,
    start_ingest,
    start_simulator,
)
from smartfactory.settings import parse_mqtt_url
from smartfactory.sim.scenario import load_scenario, resolve_scenario_file, scenario_lines
from smartfactory.sim.truth import write_truth

if TYPE_CHECKING:
    from smartfactory.opcua.security import Security


def _masked(url: str) -> str:
    """The broker URL with its password masked: banners end up in logs (`docker compose logs`)."""
    return parse_mqtt_url(url).url(masked=True)


def wait_for_stop(duration: float | None) -> None:
    """Block until Ctrl-C / SIGTERM, or until `duration` seconds have passed."""
    with stop_on_signals() as stop:
        stop.wait(duration)


@click.command()
@mqtt_option
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder for broker data.")
@click.option(
    "--kind",
    type=click.Choice(["auto", "mosquitto", "amqtt"]),
    default="auto",
    show_default=True,
    help="Which broker to start: mosquitto when installed (auto), or the in-process amqtt.",
)
@friendly_errors
def broker(mqtt_url: str | None, data_dir: Path | None, kind: str) -> None:
    """Run an MQTT broker on the configured address until Ctrl-C."""
    settings = settings_from(mqtt_url=mqtt_url, data_dir=data_dir)
    address = parse_mqtt_url(settings.mqtt_url)
    limit = packet_limit(settings.ingest.max_payload_bytes)  # max_packet_size: refused before it is read
    if kind == "amqtt":
        running = start_amqtt(address)
    elif kind == "mosquitto":
        running = start_mosquitto(address, settings.data_dir / "mosquitto", max_packet_size=limit)
    else:
        running = ensure_broker(address, settings.data_dir, max_packet_size=limit)
    echo(running.describe())
    if running.kind == "existing":
        return
    echo("Ctrl-C stops it.")
    try:
        wait_for_stop(None)
    finally:
        running.stop()


#: History a plain `demo` starts with: the monitor's phase I and a first OEE window, written in ~2 s.
DEMO_BACKFILL = "30m"
SPEED_HELP = "Simulated seconds per real second: 1 = real time, 60 = an hour a minute, 0 = as fast as possible."
#: `--format` of the simulator: wire format v1 (JSON on the ISA-95 topics) or Sparkplug B (docs/sparkplug.md).
format_option = click.option(
    "--format",
    "wire_format",
    type=click.Choice(["uns", "sparkplug"]),
    default="uns",
    show_default=True,
    help="uns: JSON on ISA-95 topics (docs/wire.md); sparkplug: Sparkplug B, an edge node per line (docs/sparkplug.md)",
)


@click.command()
@mqtt_option
@click.option("--plant", default=None, help="Plant name (simulators/plants/NAME.toml) or a .toml path.")
@click.option("--seed", type=int, default=None, help="Random seed; the same seed gives the same readings.")
@click.option("--speed", type=click.FloatRange(min=0), default=None, help=SPEED_HELP)
@click.option(
    "--duration", default=None, help=f"Stop after this much simulated time after the live start ({EXAMPLES})."
)
@click.option("--count", type=int, default=None, help="Stop after this many telemetry messages.")
@click.option("--qos", type=click.IntRange(0, 1), default=None, help="QoS of telemetry (default 1).")
@click.option("--scenario", default=None, help="Faults on cue: simulators/scenarios/NAME.yaml (or a path).")
@click.option("--backfill", default=None, help="First write this much history up to now, fast (e.g. 7d, 2h).")
@click.option(
    "--truth",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="At the end, write the simulator's own (ground-truth) OEE of the run as JSON to this file.",
)
@format_option
@click.option(
    "--opcua-endpoint", default=None, metavar="URL", help="Also serve the plant over OPC UA, opc.tcp://HOST:PORT."
)
@click.option("--no-mqtt", is_flag=True, help="Publish only over OPC UA (needs --opcua-endpoint).")
@click.option(
    "--opcua-security",
    type=click.Choice(["none", "sign-encrypt"]),
    default="none",
    show_default=True,
    help="OPC UA channel: none, or Basic256Sha256 SignAndEncrypt (docs/opcua.md).",
)
@click.option("--opcua-user", default=None, help="OPC UA user (anonymous refused); password from OPCUA_PASSWORD.")
@friendly_errors
def simulate(
    mqtt_url: str | None,
    plant: str | None,
    seed: int | None,
    speed: float | None,
    duration: str | None,
    count: int | None,
    qos: int | None,
    scenario: str | None,
    backfill: str | None,
    truth: Path | None,
    wire_format: str,
    opcua_endpoint: str | None,
    no_mqtt: bool,
    opcua_security: str,
    opcua_user: str | None,
) -> None:
    """Run the simulated plant, publishing its readings to the broker (and/or serving them over OPC UA)."""
    settings = settings_from(mqtt_url=mqtt_url, **_sections(mqtt={"qos": qos}))
    if no_mqtt and opcua_endpoint is None:
        raise click.UsageError("--no-mqtt publishes only over OPC UA: give --opcua-endpoint too")
    opcua = _opcua_security(opcua_endpoint, opcua_security, opcua_user, settings.data_dir)
    chosen = load_scenario(resolve_scenario_file(scenario, settings.sim.dir)) if scenario else None
    duration_s = parse_duration(duration) if duration is not None else chosen.duration_s if chosen else None
    effective_speed = speed if speed is not None else (chosen.speed if chosen else None)
    if effective_speed is None:
        effective_speed = settings.sim.speed
    if effective_speed == 0 and duration_s is None and count is None:
        raise click.UsageError("--speed 0 runs as fast as possible: give --duration or --count too")
    if truth is not None and duration_s is None:
        raise click.UsageError("--truth needs a run of known length: give --duration")
    running = start_simulator(
        settings,
        duration_s=duration_s,
        max_messages=count,
        scenario=scenario,
        backfill_s=None if backfill is None else parse_duration(backfill),
        speed=speed,
        seed=seed,
        plant=plant,
        progress=sys.stderr,
        record_truth=truth is not None,
        wire_format=wire_format,
        opcua_endpoint=opcua_endpoint,
        opcua_security=opcua,
        mqtt=not no_mqtt,
    )
    machines = ", ".join(str(m.path) for m in running.simulation.machines)
    url = _masked(settings.mqtt_url)
    if opcua_endpoint is not None:  # OPC UA too, or (--no-mqtt) alone
        url = opcua_endpoint if no_mqtt else f"{url} and {opcua_endpoint}"
    echo(f"simulating {len(running.simulation.machines)} machines ({machines}) → {url}; Ctrl-C stops")
    for line in scenario_lines(running.scenario):
        echo(line)
    try:
        _wait_thread_or_signal(running.thread)
    finally:
        running.stop()
    stats = running.stats
    echo(f"published {stats.telemetry} telemetry messages ({stats.readings} readings), {stats.parts} parts")
    if running.error is not None:
        raise click.ClickException(f"the simulator stopped: {running.error}")
    if truth is not None:
        write_truth(truth, running.simulation, running.stats.live_start_ms)
        echo(f"ground-truth OEE written to {truth}")


def _opcua_security(endpoint: str | None, mode: str, user: str | None, data_dir: Path) -> Security | None:
    """The OPC UA server's security options (certificates under DATA_DIR/opcua); None without an endpoint."""
    if endpoint is None:
        return None
    from smartfactory.opcua.security import Security, warn_exposed  # asyncua loads only when OPC UA is asked for
    from smartfactory.opcua.server import parse_endpoint

    security = Security.from_options(mode, user, data_dir / "opcua")
    warning = warn_exposed(parse_endpoint(endpoint)[0], security)
    if warning:
        echo(warning)
    return security


def _sections(**sections: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Nested overrides without None values; sections left empty are dropped."""
    out = {}
    for name, values in sections.items():
        kept = {k: v for k, v in values.items() if v is not None}
        if kept:
            out[name] = kept
    return out


def _wait_thread_or_signal(thread: threading.Thread | None) -> None:
    with stop_on_signals() as stop:
        while thread is not None and thread.is_alive() and not stop.wait(0.2):
            pass


@click.command()
@mqtt_option
@store_option
@click.option("--group", default=None, help="Shared-subscription group: workers in one group split the load.")
@click.option("--client-id", default=None, help="Fixed client id of the persistent session.")
@friendly_errors
def ingest(mqtt_url: str | None, store: str | None, group: str | None, client_id: str | None) -> None:
    """Subscribe to the plant, validate every message and store it; runs until Ctrl-C or SIGTERM.

    On Ctrl-C or SIGTERM it stops taking messages, writes and acknowledges everything it took (the broker keeps
    the rest for the next run), prints its final counters as JSON and exits 0; 1 if the flush did not finish.
    """
    settings = settings_from(
        mqtt_url=mqtt_url, store=store, **_sections(ingest={"group": group, "client_id": client_id})
    )
    flushed = False
    with stop_on_signals() as stop:
        running = start_ingest(settings)
        url = _masked(settings.mqtt_url)
        echo(f"ingesting {url} ({running.service.subscription()}) → {settings.store}; Ctrl-C stops")
        try:
            while not stop.wait(0.5):
                if not running.service.running:  # the writer died: exit non-zero so a supervisor restarts us
                    echo("the ingestion writer stopped unexpectedly (see the log above); exiting")
                    break
        finally:
            # A second Ctrl-C must not interrupt the flush halfway: say so and carry on.
            with stop_on_signals(lambda _: echo("still writing what was received; it stops as soon as that is stored")):
                flushed = running.stop()
            echo(f"stopped: {json.dumps(running.service.health())}")
    if not flushed or not stop.is_set():
        raise SystemExit(1)


@click.command()
@store_option
@mqtt_option
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; 0.0.0.0 exposes it in a lab).")
@click.option("--port", type=int, default=None, help="Port (default 8501).")
@click.option(
    "--theme",
    type=click.Choice(["auto", "light", "dark"]),
    default="auto",
    show_default=True,
    help="Colour theme for every viewer (auto follows each browser; viewers can switch in ⋮ → Settings).",
)
@click.option("--large-font", is_flag=True, help="Larger base font for a projector (each viewer also has a toggle).")
@friendly_errors
def dashboard(
    store: str | None, mqtt_url: str | None, host: str | None, port: int | None, theme: str, large_font: bool
) -> None:
    """Serve the Streamlit dashboard."""
    settings = settings_from(store=store, mqtt_url=mqtt_url, **_sections(dashboard={"host": host, "port": port}))
    echo(f"dashboard on http://{settings.dashboard.host}:{settings.dashboard.port} reading {settings.store}")
    if settings.dashboard.host not in ("127.0.0.1", "localhost", "::1"):
        echo("exposed beyond this computer: anyone who reaches this port can view the plant and acknowledge alarms")
    extra = ["--client.toolbarMode", "minimal"]  # no developer menu ("Deploy") for a lecture hall
    if theme != "auto":
        extra += ["--theme.base", theme]
    if large_font:
        extra += ["--theme.baseFontSize", "20"]
    env = {**os.environ, "SMARTFACTORY_STORE": settings.store, "SMARTFACTORY_MQTT_URL": settings.mqtt_url}
    child = subprocess.Popen([*dashboard_command(settings), *extra], env=env)
    raise SystemExit(supervise(child))


def supervise(child: subprocess.Popen[bytes], grace_s: float = 5.0) -> int:
    """Wait for `child`; on Ctrl-C or SIGTERM stop it (terminate, then kill after `grace_s`) before returning,
    so no Streamlit server is left holding the port. Returns the child's exit status (0 when we stopped it)."""
    with stop_on_signals() as stop:
        while child.poll() is None and not stop.wait(0.2):
            pass
    if child.poll() is not None:
        return child.returncode
    stop_child(child, grace_s)
    return 0


def stop_child(child: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """Terminate `child` and wait for it; kill it if it is still there after `grace_s` seconds."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(grace_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@click.command()
@mqtt_option
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the SQLite store and broker data (default ./data).",
)
@click.option("--duration", default=None, help=f"Run this long (wall clock: {EXAMPLES}), then stop (exit 0).")
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard (headless, for scripts).")
@click.option("--seed", type=int, default=None, help="Simulator seed.")
@click.option("--speed", type=click.FloatRange(min=0), default=None, help=SPEED_HELP)
@click.option("--port", type=int, default=None, help="Dashboard port (default 8501).")
@click.option("--scenario", default=None, help="Faults on cue: simulators/scenarios/NAME.yaml (or a path).")
@click.option(
    "--backfill",
    default=None,
    help=f"Start with this much simulated history up to now (e.g. 7d, 2h30m; default {DEMO_BACKFILL} without a "
    "scenario, the scenario's own with one), so the first screen already shows limits, OEE and a story.",
)
@format_option
@friendly_errors
def demo(
    mqtt_url: str | None,
    data_dir: Path | None,
    duration: str | None,
    no_dashboard: bool,
    seed: int | None,
    speed: float | None,
    port: int | None,
    scenario: str | None,
    backfill: str | None,
    wire_format: str,
) -> None:
    """Run the whole pipeline on embedded defaults: broker, simulator, ingestion + SPC into SQLite, dashboard."""
    settings = settings_from(
        mqtt_url=mqtt_url,
        data_dir=data_dir,
        **_sections(dashboard={"port": port}),
    )
    duration_s = None if duration is None else parse_duration(duration)
    if backfill is None and scenario is None:
        backfill = DEMO_BACKFILL
    backfill_s = None if backfill is None else parse_duration(backfill)
    if "SMARTFACTORY_STORE" not in os.environ:
        settings = settings.model_copy(update={"store": f"sqlite:///{settings.data_dir / 'smartfactory.db'}"})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker_: RunningBroker | None = None
    ingest_: RunningIngest | None = None
    sim_: RunningSimulator | None = None
    dash: subprocess.Popen[bytes] | None = None
    try:
        broker_ = ensure_broker(
            parse_mqtt_url(settings.mqtt_url),
            settings.data_dir,
            max_packet_size=packet_limit(settings.ingest.max_payload_bytes),
        )
        echo(f"[broker]     {broker_.describe()}")
        ingest_ = start_ingest(settings)
        echo(f"[ingest]     {_masked(settings.mqtt_url)} → {settings.store} (SPC monitor on every series)")
        sim_ = start_simulator(
            settings,
            scenario=scenario,
            seed=seed,
            speed=speed,
            backfill_s=backfill_s,
            progress=sys.stderr,
            wire_format=wire_format,
        )
        echo(
            f"[simulator]  {len(sim_.simulation.machines)} machines, seed {sim_.simulation.seed}, speed {sim_.speed:g}×"
        )
        for line in scenario_lines(sim_.scenario):
            echo(f"[scenario]   {line}")
        if not no_dashboard:
            dash = start_dashboard(settings)
            echo(f"[dashboard]  http://{settings.dashboard.host}:{settings.dashboard.port}")
        echo("running" + (f" for {duration_s:g} s" if duration_s else "; Ctrl-C stops every part"))
        wait_for_stop(duration_s)
    finally:
        echo("stopping…")
        started = time.monotonic()
        if dash is not None:
            stop_child(dash)
        if sim_ is not None:
            sim_.stop()
        if ingest_ is not None:
            flushed = ingest_.stop()
            counters = ingest_.service.counters
            echo(
                f"[ingest]     stored {counters.stored} readings, rejected {sum(counters.rejected.values())}, "
                f"alarms {counters.alarms}"
            )
            if not flushed:  # the store stays open for the writer still in it (closed when it is out)
                echo(f"[ingest]     {ingest_.service.stop_note}")
        if broker_ is not None:
            broker_.stop()
        echo(f"stopped in {time.monotonic() - started:.1f} s")
