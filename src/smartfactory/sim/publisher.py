"""The simulator's MQTT side: one connection per machine, so that every machine has its own last will.

Each machine connects with a last will `{"status": "offline"}` (retained, QoS 1) on its `…/status` topic and
then publishes a retained birth message `{"status": "online", "ts": …, "info": …}`, whose `info` (`MachineInfo`)
tells readers the machine's type, ideal cycle time, sampling interval and every signal's kind, unit, spec limits
and resolution, the plant file's changes applied; the birth is repeated after every
reconnect, because the broker may have published the will meanwhile. A clean stop publishes `offline` itself.
Each connection subscribes to its machine's `…/cmd` topic and hands commands to the simulation.

QoS: telemetry at the configured QoS (default 1); state, quality, event and status always at QoS 1, because
OEE and detection delays are computed from them. Back-pressure: a publish blocks while `max_outstanding`
messages of that connection wait for the broker (`MqttClient`), so memory stays bounded while the broker is
away; QoS 1 messages held then are sent after the reconnect (paho retries them), QoS 0 ones are dropped.

End-to-end retry: a broker that dies without saving (SIGKILL, power cut) loses QoS 1 messages it had already
acknowledged since its last save (mosquitto's `autosave_interval`, 1 s in the generated and compose configs; issue
13 measured 283 of 8,728 readings lost so). So each connection keeps its QoS 1 messages of the last `REPLAY_S`
seconds and publishes those again after a reconnect; ingestion stores a reading once per series and millisecond, so
a repeat changes nothing (it counts as a duplicate). Client ids begin with `smartfactory-`, as a broker with accounts
requires (`edge.broker.CLIENT_ID_PREFIX`, deploy/mosquitto/mosquitto.conf). `addresses` gives machines accounts of
their own (classroom mode: on a listener that names each session after its account, so one account per connection).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from smartfactory.edge.mqtt import Message, MqttClient, Will
from smartfactory.errors import BrokerError, ConfigError
from smartfactory.settings import BrokerAddress
from smartfactory.sim.encode import PUBLISHED, status_payload
from smartfactory.sim.engine import PlacedMachine
from smartfactory.wire import MessageClass

log = logging.getLogger(__name__)
#: Messages one machine's connection may hold unacknowledged before publishing blocks.
MAX_OUTSTANDING = 1000
#: Seconds of QoS 1 messages (before the connection was last seen up) published again after a reconnect: more than
#: a broker's save interval (1 s), so what it acknowledged and lost in a crash is sent again.
REPLAY_S = 3.0
#: Most messages one connection keeps for that (memory bound at high simulation speeds).
REPLAY_MAX = 10_000


@dataclass(slots=True)
class _Kept:
    """QoS 1 messages of one connection recently published while it was up, for publishing again after a reconnect."""

    messages: deque[tuple[float, str, bytes]] = field(default_factory=lambda: deque(maxlen=REPLAY_MAX))
    last_up: float = 0.0  # monotonic time the connection was last seen connected at a publish

    def keep(self, now: float, topic: str, payload: bytes, connected: bool) -> None:
        if connected:
            self.last_up = now
            horizon = now - REPLAY_S
            while self.messages and self.messages[0][0] < horizon:
                self.messages.popleft()
        self.messages.append((now, topic, payload))

    def due(self) -> list[tuple[str, bytes]]:
        """The messages of the last REPLAY_S seconds the connection was up (later ones paho resends itself)."""
        horizon = self.last_up - REPLAY_S
        return [(t, p) for at, t, p in self.messages if horizon <= at <= self.last_up]


class PlantPublisher:
    """Connections of a simulated plant; call it like `publish(topic, payload, retain)`."""

    def __init__(
        self,
        address: BrokerAddress,
        machines: Sequence[PlacedMachine],
        *,
        qos: int = 1,
        keepalive: int = 30,
        max_outstanding: int = MAX_OUTSTANDING,
        on_command: Callable[[str, bytes], None] | None = None,
        clock: Callable[[], float] = time.time,
        addresses: Mapping[str, BrokerAddress] | None = None,
    ) -> None:
        """`addresses` (machine path → address) overrides `address` machine by machine; every machine needs one."""
        self.address = address
        self.machines = machines
        self.qos = qos
        self.clock = clock
        self._closing = False
        self.dropped = 0
        run_id = uuid.uuid4().hex[:6]
        self.clients: list[MqttClient] = []
        self._route: dict[str, tuple[int, int]] = {}  # topic → (client index, qos)
        self._sessions: list[int] = []
        self._kept: list[_Kept] = []
        self.replayed = 0  # messages published again after reconnects (see REPLAY_S)
        for index, placed in enumerate(machines):
            status = placed.path.topic(MessageClass.STATUS)
            own = address
            if addresses is not None:
                if str(placed.path) not in addresses:
                    raise ConfigError(f"no broker account for machine {placed.path}: was the plant file changed?")
                own = addresses[str(placed.path)]
            client = MqttClient(
                own,
                client_id=f"smartfactory-sim-{run_id}-{index}-{placed.path.machine}"[:64],
                will=Will(status, status_payload("offline"), qos=1, retain=True),
                keepalive=keepalive,
                max_outstanding=max_outstanding,
            )
            if on_command is not None:
                client.set_message_handler(command_handler(on_command))
            client.subscribe(placed.path.topic(MessageClass.CMD), qos=1)
            self.clients.append(client)
            self._sessions.append(0)
            self._kept.append(_Kept())
            for cls in PUBLISHED:
                self._route[placed.path.topic(cls)] = (index, qos if cls is MessageClass.TELEMETRY else 1)

    def connect(self, timeout: float = 5.0) -> None:
        """Connect every machine and publish its birth message; on failure close what was opened."""
        try:
            for index, client in enumerate(self.clients):
                client.connect(timeout)
                self._birth(index)
        except BaseException:
            self.close(offline=False)
            raise

    def _birth(self, index: int) -> None:
        client = self.clients[index]
        self._sessions[index] = client.session
        topic = self.machines[index].path.topic(MessageClass.STATUS)
        birth = status_payload("online", int(self.clock() * 1000), self.machines[index].info)
        client.publish(topic, birth, qos=1, retain=True)

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        index, qos = self._route[topic]
        client = self.clients[index]
        if client.session != self._sessions[index] and client.connected:
            self._birth(index)  # reconnected: the broker may have published our will meanwhile
            self._replay(index)  # and it may have lost what it acknowledged just before it went away
        if qos == 1 and not retain:
            self._kept[index].keep(time.monotonic(), topic, payload, client.connected)
        self._send(client, topic, payload, qos, retain)

    def _replay(self, index: int) -> None:
        for topic, payload in self._kept[index].due():
            self._send(self.clients[index], topic, payload, 1, False)
            self.replayed += 1

    def _send(self, client: MqttClient, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        while True:
            if self._closing and not client.connected:
                self.dropped += 1  # stopping while the broker is away: nothing would carry it
                return
            try:
                client.publish(topic, payload, qos=qos, retain=retain, timeout=0.5)
                return
            except BrokerError:
                if self._closing:
                    self.dropped += 1
                    return

    @property
    def outstanding(self) -> int:
        return sum(client.outstanding for client in self.clients)

    def wait_published(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(client.wait_published(max(0.0, deadline - time.monotonic())) for client in self.clients)

    def release(self) -> None:
        """Stop waiting for an absent broker: publishes that cannot go out any more are dropped (and counted)."""
        self._closing = True

    def close(self, *, offline: bool = True, flush_timeout: float = 30.0) -> None:
        """Mark every machine offline (retained), wait up to `flush_timeout` s in all for the broker to acknowledge
        what is still queued (a fast run can hold up to `max_outstanding` messages per machine), and disconnect."""
        self._closing = True
        if self.dropped:
            log.warning("%d messages were dropped because the broker was away at the stop", self.dropped)
        ts = int(self.clock() * 1000)
        deadline = time.monotonic() + flush_timeout
        for index, client in enumerate(self.clients):
            if offline and client.connected:
                topic = self.machines[index].path.topic(MessageClass.STATUS)
                try:
                    client.publish(topic, status_payload("offline", ts), qos=1, retain=True, timeout=1.0)
                except BrokerError as exc:
                    log.warning("could not mark %s offline: %s", self.machines[index].path, exc)
            client.close(flush_timeout=max(0.0, deadline - time.monotonic()))
            if client.outstanding:
                log.warning(
                    "%s: %d messages were not acknowledged by the broker within %g s of the stop",
                    self.machines[index].path,
                    client.outstanding,
                    flush_timeout,
                )

    def abort(self) -> None:
        """Drop every connection without a DISCONNECT: the broker publishes each machine's last will."""
        self._closing = True
        for client in self.clients:
            client.abort()


def command_handler(on_command: Callable[[str, bytes], None]) -> Callable[[Message], None]:
    return lambda message: on_command(message.topic, message.payload)
