"""`smartfactory inject`: send a fault (or a repair) to a running simulator and report what it really did.

The running plant is found on the broker, not in a plant file: every simulated machine keeps a retained birth
message on `…/status` whose `MachineInfo` lists its signals and the faults it accepts, with their parameters and
allowed ranges. So the command

1. reads the retained births (a marker published after subscribing comes back once they have all arrived),
2. resolves MACHINE among the machines that are online and checks FAULT, `--sensor` and every `--param`,
3. subscribes to the machine's `…/event` topic, publishes the command on `…/cmd`, and
4. waits for the simulator's answer: the ground-truth `fault` (or `repair`) event, with the simulated instant
   it was applied, or a `rejected` event with the reason. No answer within `--timeout` is an error too.

This module talks MQTT through the edge only; it never imports the simulator.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import click
from pydantic import ValidationError

from smartfactory.cli.common import friendly_errors, mqtt_option, settings_from
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import BrokerError, ConfigError, WireError
from smartfactory.settings import parse_mqtt_url
from smartfactory.wire import (
    HIERARCHY,
    SYSTEM_ROOT,
    CommandPayload,
    EventPayload,
    MachineInfo,
    MachinePath,
    MessageClass,
    StatusPayload,
    Topic,
    format_ts,
)

#: Every machine's retained status (birth or last will): enterprise/site/area/line/machine/status.
STATUS_FILTER = "+/+/+/+/+/" + MessageClass.STATUS.value
#: After the first answer to a clear, further repairs of the same instant are collected for this long (s).
CLEAR_GRACE_S = 0.5


@dataclass
class Plant:
    """What the broker knows about the running plant: machines online (with their facts) and offline."""

    online: dict[MachinePath, MachineInfo | None] = field(default_factory=dict)
    offline: set[MachinePath] = field(default_factory=set)

    def add(self, message: Message) -> None:
        if not message.payload:
            return  # a deleted retained message
        try:
            path = Topic.parse(message.topic).path
            status = StatusPayload.from_bytes(message.payload)
        except (WireError, ValidationError):
            return  # not a machine's status: nothing to learn from it
        if status.status == "online":
            self.online[path] = status.info
            self.offline.discard(path)
        else:
            self.offline.add(path)
            self.online.pop(path, None)

    def find(self, ref: str, where: str) -> MachinePath:
        """The online machine `ref` names: its full path, line/name or name (a trailing part of the path)."""

        def matching(paths: set[MachinePath] | list[MachinePath]) -> list[MachinePath]:
            return sorted((p for p in paths if str(p) == ref or str(p).endswith("/" + ref.strip("/"))), key=str)

        found = matching(list(self.online))
        if len(found) == 1:
            return found[0]
        if found:
            raise ConfigError(
                f"{ref!r} matches several machines ({', '.join(map(str, found))}): give line/name or the path"
            )
        if not self.online:
            stopped = f" ({len(self.offline)} machines are offline)" if self.offline else ""
            raise ConfigError(
                f"no simulator is running on {where}: no machine has announced itself there{stopped}. "
                "Start the plant with `smartfactory simulate` (or `smartfactory demo`) on this broker"
            )
        if matching(self.offline):
            raise ConfigError(f"{ref!r} is offline: its simulator stopped; start it again with `smartfactory simulate`")
        known = ", ".join(self.label(p) for p in sorted(self.online, key=str))
        levels = ref.strip("/").split("/")
        if len(levels) == len(HIERARCHY) and "/".join(levels[:2]) not in self.sites():
            # a full path under an enterprise/site this account sees no machine of: on a broker with per-account
            # permissions (classroom mode) that is another namespace, whose births the broker never sends us
            sees = known if len(self.sites()) > 1 else f"{self.sites()[0]}: {known}"
            raise ConfigError(
                f"{ref!r}: no machine under {'/'.join(levels[:2])} has announced itself to this account on {where} "
                f"(it sees {sees}): that plant is not running, or the broker does not let this account read or "
                "command it (in a class, a student sees and commands only their own namespace)"
            )
        raise ConfigError(f"{ref!r} is not a machine of the running plant; it has: {known}")

    def sites(self) -> list[str]:
        """The enterprise/site prefixes of the machines online (one, unless the broker carries several plants)."""
        return sorted({f"{p.enterprise}/{p.site}" for p in self.online})

    def label(self, path: MachinePath) -> str:
        """How output names a machine: line/name, or the whole path when several plants (a class's namespaces)
        share the broker and line/name alone would not say whose machine it is."""
        return str(path) if len(self.sites()) > 1 else f"{path.line}/{path.machine}"


def read_plant(client: MqttClient, timeout: float) -> Plant:
    """The births retained on the broker (the client must already be connected)."""
    plant = Plant()
    # A command-shaped topic, so that an account allowed only `+/+/+/+/+/cmd` (the operator of docs/deployment.md)
    # may publish it; no simulator listens there and ingestion ignores `_sf/…`.
    marker = f"{SYSTEM_ROOT}/cli/inject/{uuid.uuid4().hex}/probe/{MessageClass.CMD.value}"
    done = threading.Event()
    lock = threading.Lock()

    def on_message(message: Message) -> None:
        if message.topic == marker:
            done.set()
        elif message.topic.endswith("/" + MessageClass.STATUS.value):
            with lock:
                plant.add(message)

    client.set_message_handler(on_message)
    client.subscribe(marker, qos=1, timeout=timeout)
    client.subscribe(STATUS_FILTER, qos=1, timeout=timeout)
    # The broker sends the retained births right after confirming the subscription; a message published after
    # that comes back behind them, so when it is here, every birth is.
    client.publish(marker, b"", qos=1)
    echoed = done.wait(timeout)
    with lock:
        found = Plant(dict(plant.online), set(plant.offline))
    if not echoed and not found.online:
        raise BrokerError(
            f"no machine birth arrived from {client.address.url()} within {timeout:g} s, and the broker did not "
            f"echo a probe on {marker}: may this account publish +/+/+/+/+/cmd and read +/+/+/+/+/status?"
        )
    return found


def parse_params(items: tuple[str, ...]) -> dict[str, float | str]:
    """`--param KEY=VALUE` pairs: numbers as numbers, anything else (5m, a reason code) as text."""
    values: dict[str, float | str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key or not raw:
            raise click.UsageError(f"--param {item!r}: write KEY=VALUE, e.g. size=3")
        if key in values:
            raise click.UsageError(f"--param {key} is given twice")
        try:
            number = float(raw)
        except ValueError:
            values[key] = raw
        else:
            values[key] = number if math.isfinite(number) else raw
    return values


def check_command(
    path: MachinePath, info: MachineInfo | None, fault: str, sensor: str | None, params: Mapping[str, float | str]
) -> None:
    """Refuse, before sending, what the machine's birth says it does not accept (`ConfigError` saying what it
    does accept; `FaultInfo.problems` is the check the simulator applies too). A birth without a fault
    catalogue (a simulator of an older version, or a real machine) is not checked: its answer decides."""
    if info is None or not info.faults:
        return
    what = f"{path.line}/{path.machine} ({info.machine_type})"
    spec = info.faults.get(fault)
    if spec is None:
        raise ConfigError(f"{what} knows no fault {fault!r}; it knows: {', '.join(info.faults)}")
    problems = spec.problems(fault, sensor, params, list(info.signals))
    if problems:
        raise ConfigError(f"{what}: " + "; ".join(problems))


class Answers:
    """The machine's events after the command was sent: those that answer it, in arrival order."""

    def __init__(self, action: str, fault: str | None) -> None:
        self.action = action
        self.fault = fault
        self.events: list[EventPayload] = []
        self.first = threading.Event()
        self._lock = threading.Lock()

    def answers(self, event: EventPayload) -> bool:
        if event.kind == "rejected":
            return event.fault in (self.fault, self.action)
        if self.action == "inject":
            return event.kind == "fault" and event.fault == self.fault
        return event.kind == "repair" and self.fault in (None, event.fault)

    def on_message(self, message: Message) -> None:
        try:
            event = EventPayload.from_bytes(message.payload)
        except ValidationError:
            return
        if self.answers(event):
            with self._lock:
                self.events.append(event)
            self.first.set()

    def taken(self) -> list[EventPayload]:
        with self._lock:
            return list(self.events)


def _params_text(params: Mapping[str, float | str]) -> str:
    shown = {k: v for k, v in params.items() if k != "reason"}
    return (
        " (" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()) + ")"
        if shown
        else ""
    )


def report(path: MachinePath, answers: list[EventPayload], name: str | None = None) -> str:
    """What the simulator did, one line per event (the machine called `name`, default line/name);
    `ClickException` when it rejected the command."""
    rejected = [e for e in answers if e.kind == "rejected"]
    name = name or f"{path.line}/{path.machine}"
    if rejected:
        event = rejected[0]
        reason = event.params.get("reason", "no reason given")
        raise click.ClickException(
            f"the simulator rejected {event.fault} on {name}: {reason} (simulated time {format_ts(event.ts)})"
        )
    lines = []
    for event in answers:
        verb = "applied" if event.kind == "fault" else "repaired"
        where = f" on sensor {event.sensor}" if event.sensor else ""
        lines.append(
            f"{verb} {event.fault}{_params_text(event.params)} to {name}{where} at simulated {format_ts(event.ts)}"
        )
    return "\n".join(lines)


@click.command()
@mqtt_option
@click.argument("machine")
@click.argument("fault", required=False)
@click.option("--sensor", default=None, help="Sensor or part characteristic the fault acts on (default: all).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Fault parameter: size=3, duration=5m.")
@click.option("--clear", is_flag=True, help="Repair: remove every fault from MACHINE (or only FAULT, if given).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the simulator's confirmation (or rejection).",
)
@friendly_errors
def inject(
    mqtt_url: str | None,
    machine: str,
    fault: str | None,
    sensor: str | None,
    params: tuple[str, ...],
    clear: bool,
    timeout: float,
) -> None:
    """Inject FAULT into MACHINE of the running plant, or --clear it; print what the simulator applied.

    MACHINE is a name (cnc-02), line/name (line-1/cnc-02) or the full path (acme/plant1/machining/line-1/cnc-02)
    of a machine online on the broker: the running plant is read from the machines' retained birth messages, so
    no plant file or SMARTFACTORY_SIM__PLANT is needed. FAULT is a signal fault (shift, drift, variance,
    growing_variance, stuck, spikes, dropout, cycle, warmup), a machine fault (breakdown, stop, slowdown) or one of
    the machine type's own (tool_wear); `smartfactory simulators list` describes them. FAULT, --sensor and every
    --param (name and range) are checked against the birth before anything is sent.

    Waits for the simulator's answer on MACHINE/event and prints what it applied, at which simulated time. Exits
    1 when the simulator rejects the command (the reason is printed) or when nothing answers within --timeout.
    """
    if not clear and not fault:
        raise click.UsageError("give a FAULT (e.g. shift --sensor power --param size=3) or --clear")
    if clear and (params or sensor):
        raise click.UsageError("--clear takes MACHINE and optionally FAULT, no --sensor or --param")
    values = parse_params(params)
    settings = settings_from(mqtt_url=mqtt_url)
    address = parse_mqtt_url(settings.mqtt_url)
    client = MqttClient(address)
    client.connect(settings.mqtt.connect_timeout)
    try:
        plant = read_plant(client, settings.mqtt.connect_timeout)
        path = plant.find(machine, address.url())
        if not clear:
            assert fault is not None
            check_command(path, plant.online[path], fault, sensor, values)
        command = CommandPayload(action="clear" if clear else "inject", fault=fault, sensor=sensor, params=values)
        answers = Answers(command.action, fault)
        client.set_message_handler(answers.on_message)
        client.subscribe(path.topic(MessageClass.EVENT), qos=1)
        client.publish(path.topic(MessageClass.CMD), command.to_bytes(), qos=1)
        if not answers.first.wait(timeout):
            raise click.ClickException(
                f"no answer from the simulator of {plant.label(path)} within {timeout:g} s on "
                f"{path.topic(MessageClass.EVENT)}: is its `smartfactory simulate` still running and connected to "
                f"{address.url()}? (the command was sent: a simulator that comes back may still apply it)"
            )
        if clear:  # a clear repairs each fault in turn, all at one instant: collect them
            answers.first.clear()
            while answers.first.wait(CLEAR_GRACE_S):
                answers.first.clear()
    finally:
        client.close()
    click.echo(report(path, answers.taken(), plant.label(path)))
