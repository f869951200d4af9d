"""`smartfactory record` and `smartfactory replay`: capture a broker's messages into a file, publish them again.

The file format, the guarantees and the exit codes are in docs/recording.md. Neither command imports the simulator
or a store: `record` is a subscriber like any other, `replay` a publisher.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from smartfactory.cli.common import echo, friendly_errors, mqtt_option, settings_from, stop_on_signals
from smartfactory.durations import EXAMPLES, parse_duration
from smartfactory.edge.mqtt import MqttClient
from smartfactory.recording.reader import Recording, open_recording
from smartfactory.recording.recorder import Recorder
from smartfactory.recording.replayer import ReplayStats
from smartfactory.recording.replayer import replay as replay_recording
from smartfactory.settings import parse_mqtt_url

#: exit status of `replay` (and `replay --check`) when the recording is damaged: the intact part was replayed
EXIT_DAMAGED = 3


class DamagedRecording(click.ClickException):
    exit_code = EXIT_DAMAGED


@click.command()
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The recording to write."
)
@mqtt_option
@click.option(
    "--topic",
    "topics",
    multiple=True,
    default=("#",),
    show_default=True,
    help="Topic filter to record (repeatable); '#' is every topic but $SYS (UNS JSON, spBv1.0/…, _sf/…).",
)
@click.option("--duration", default=None, help=f"Stop after this long (wall clock: {EXAMPLES}); default: Ctrl-C.")
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many messages.")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@friendly_errors
def record(
    out: Path, mqtt_url: str | None, topics: tuple[str, ...], duration: str | None, count: int | None, force: bool
) -> None:
    """Record every message on the broker (with its timing, QoS and retain flag) into a .sfrec file.

    Ctrl-C (or SIGTERM) stops the recording and still writes a complete file.
    """
    settings = settings_from(mqtt_url=mqtt_url)
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; choose another --out or add --force to overwrite it")
    duration_s = None if duration is None else parse_duration(duration)
    address = parse_mqtt_url(settings.mqtt_url)
    recorder = Recorder(address, out, topics, connect_timeout=settings.mqtt.connect_timeout)
    with stop_on_signals() as stop:
        try:
            recorder.start()
            echo(
                f"recording {', '.join(topics)} on {address.url()} (MQTT {recorder.protocol}) into {out}; "
                f"{recorder.stats.messages} retained messages at the start"
                + ("" if duration_s or count else "; Ctrl-C stops")
            )
            recorder.run(stop, duration_s=duration_s, max_messages=count)
        finally:
            stats = recorder.stop()
    size = out.stat().st_size if out.exists() else 0
    classes = ", ".join(f"{kind} {n}" for kind, n in sorted(stats.by_class.items())) or "none"
    echo(
        f"recorded {stats.messages} messages ({stats.initial} retained at the start, {stats.truth_events} "
        f"ground-truth events; {classes}) into {out} ({size:,} bytes), ended by {stats.ended_by}"
    )


def _report_problems(recording: Recording) -> None:
    for problem in recording.problems:
        echo(f"warning: {recording.path}: {problem}")


def _damage_text(recording: Recording, replayed: str) -> str:
    about = "" if recording.skipped_exact else "at least "
    return (
        f"{recording.path} is damaged in {len(recording.problems)} place(s) (first at byte "
        f"{recording.problems[0].offset}): {replayed}, {about}{recording.skipped} messages skipped"
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Replay K times as fast as recorded (0: as fast as the broker takes them).",
)
@mqtt_option
@click.option("--check", is_flag=True, help="Only check the file and print what it holds; publish nothing.")
@friendly_errors
def replay(file: Path, speed: float, mqtt_url: str | None, check: bool) -> None:
    """Publish a recording again: same order, payloads, QoS and retain flags, timing scaled by --speed.

    A damaged or truncated file replays what is intact, names each damaged place by byte offset and exits with
    status 3.
    """
    recording = open_recording(file)
    _report_problems(recording)
    header = recording.header
    echo(
        f"{recording.summary()}; recorded from {header.get('broker', '?')} (format version {header['version']}, "
        f"smartfactory {header.get('smartfactory', '?')})"
    )
    if check:
        if recording.end is not None and isinstance(recording.end.get("by_class"), dict):
            by_class = ", ".join(f"{kind} {n}" for kind, n in recording.end["by_class"].items())
            echo(f"messages by kind: {by_class}")
        if recording.problems:
            raise DamagedRecording(_damage_text(recording, f"{recording.intact} intact messages"))
        return
    settings = settings_from(mqtt_url=mqtt_url)
    address = parse_mqtt_url(settings.mqtt_url)
    client = MqttClient(address, client_id="")
    client.connect(settings.mqtt.connect_timeout)
    pace = "as fast as possible" if speed == 0 else f"at {speed:g}× speed"
    echo(f"replaying {recording.intact} messages to {address.url()} {pace}; Ctrl-C stops")

    def progress(stats: ReplayStats) -> None:
        echo(f"  {stats.published} of {recording.intact} published")

    try:
        with stop_on_signals() as stop:
            stats = replay_recording(recording, client, speed=speed, stop=stop, progress=progress)
    finally:
        client.close()
    behind = f", at most {stats.max_behind_s:.2f} s behind schedule" if speed > 0 else ""
    echo(
        f"replayed {stats.published} messages ({stats.retained} retained) in {stats.elapsed_s:.1f} s{behind}"
        + (" (stopped early)" if stats.stopped else "")
    )
    if recording.problems:
        raise DamagedRecording(_damage_text(recording, f"replayed the {stats.published} intact messages"))
    if stats.stopped:
        sys.exit(130)
