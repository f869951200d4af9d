"""Ingestion as a Sparkplug B host application: the glue between `sparkplug.host.HostSession` (pure) and the service.

`SparkplugStage.decode(topic, payload, received_ms)` judges one message of the `spBv1.0/` namespace like
`Decoder.decode` judges a wire-v1 one: it returns the records to store (`Decoded`) with the dead letters of what was
rejected, and publishes the session's rebirth requests (NCMD) at once through `send`. Wire-v1 JSON carried in
`_sf/{class}` String metrics (machine state, part results, events, births with the machine's facts) goes through
the service's own `Decoder`, so it is validated exactly like the same message sent as JSON.

`HostState` is the host's STATE (Sparkplug B 3.0.0, section 7.4): its own MQTT connection with the retained
`{"online": false, "timestamp": T}` will on `spBv1.0/STATE/{host_id}`, the retained `{"online": true,
"timestamp": T}` after every connect (the same T as the will of that connection), and `online: false` published
on a clean stop. A connection of its own because the ingest connection's will already reports the worker's health
(`_sf/health/{worker}`, `state: lost`) and MQTT allows one will per connection; both belong to the same process, so
the broker publishes both wills when it dies.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from smartfactory.edge.mqtt import MqttClient, Will
from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.model import DeadLetter, FaultEvent, MachineInfoRecord, PartResult, StateChange
from smartfactory.settings import IngestSettings, SparkplugSettings
from smartfactory.sparkplug.host import HostSession
from smartfactory.sparkplug.mapping import SparkplugMapping
from smartfactory.sparkplug.topic import NAMESPACE, state_topic

log = logging.getLogger(__name__)
PREFIX = NAMESPACE + "/"
#: Host applications' STATE topics: like `_sf/health`, system messages that are not counted as received.
STATE_PREFIX = f"{NAMESPACE}/STATE/"
#: Filters a worker of a shared subscription also takes unshared, so that every worker knows every birth and death.
SESSION_FILTERS = tuple(f"{NAMESPACE}/+/{kind}/#" for kind in ("NBIRTH", "NDEATH", "DBIRTH", "DDEATH"))

Send = Callable[[str, bytes], None]


def mapping_of(settings: SparkplugSettings) -> SparkplugMapping:
    return SparkplugMapping(group_levels=settings.group_levels, node_device=settings.node_device)


class SparkplugStage:
    """The host session of one ingestion worker, speaking the decoder's language."""

    def __init__(
        self,
        decoder: Decoder,
        settings: IngestSettings,
        send: Send,
        *,
        mapping: SparkplugMapping | None = None,
        counters: Counter[str] | None = None,
    ) -> None:
        self.decoder = decoder
        self.send = send
        shared = settings.group is not None
        self.host = HostSession(
            mapping=mapping or SparkplugMapping(),
            max_payload_bytes=decoder.max_payload_bytes,
            max_future_ms=decoder.max_future_ms,
            max_age_ms=decoder.max_age_ms,
            rebirth_interval_ms=int(settings.sparkplug_rebirth_interval * 1000),
            check_seq=not shared,  # a shared subscription gives each worker part of a node's messages
            admit=decoder.caps.admit,
            counters=counters,
        )

    def decode(self, topic: str, payload: bytes, received_ms: int) -> Decoded:
        result = self.host.feed(topic, payload, received_ms)
        for ncmd_topic, ncmd in result.rebirths:
            self.send(ncmd_topic, ncmd)
        if not result.embedded:
            return Decoded(result.readings, deadletters=result.deadletters)
        states: list[StateChange] = []
        parts: list[PartResult] = []
        events: list[FaultEvent] = []
        infos: list[MachineInfoRecord] = []
        letters = list(result.deadletters)
        readings = result.readings
        for json_topic, body in result.embedded:
            decoded = self.decoder.decode(json_topic, body, received_ms)
            if isinstance(decoded, DeadLetter):
                letters.append(_from_metric(decoded, topic, len(payload)))
                continue
            readings.extend(decoded.readings)
            states.extend(decoded.states)
            parts.extend(decoded.parts)
            events.extend(decoded.events)
            infos.extend(decoded.infos)
            letters.extend(_from_metric(letter, topic, len(payload)) for letter in decoded.deadletters)
        return Decoded(readings, states=states, parts=parts, events=events, infos=infos, deadletters=letters)


def _from_metric(letter: DeadLetter, topic: str, size: int) -> DeadLetter:
    """A dead letter of an embedded JSON payload, told on the Sparkplug topic it came in on."""
    detail = f"in metric _sf/{letter.topic.rsplit('/', 1)[-1]}: {letter.detail}"[:500]
    return DeadLetter(letter.received_ms, topic[:1024], letter.reason, detail, letter.payload, size)


def state_payload(online: bool, timestamp_ms: int) -> bytes:
    """A host application's STATE body (spec 3.0.0, section 7.4.1): JSON `{"online": …, "timestamp": …}`."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}, separators=(",", ":")).encode()


class HostState:
    """The retained STATE of the host: online after every connect, offline as the will and on a clean stop."""

    def __init__(self, host_id: str, make_client: Callable[[Will], MqttClient], *, poll_s: float = 0.5) -> None:
        self.topic = state_topic(host_id)
        self.timestamp_ms = int(time.time() * 1000)
        self.client = make_client(Will(self.topic, state_payload(False, self.timestamp_ms), qos=1, retain=True))
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="sparkplug-state", daemon=True)
        self._announced = 0  # the connection (MqttClient.session) the online STATE was published on

    def start(self, connect_timeout: float = 5.0) -> None:
        """Connect and publish online (the ingest subscription is in place by then, as the spec asks)."""
        self.client.connect(connect_timeout)
        self._announce()
        self._thread.start()

    def _announce(self) -> None:
        session = self.client.session
        self.client.publish(self.topic, state_payload(True, self.timestamp_ms), qos=1, retain=True, timeout=5.0)
        # until the broker acknowledges it, an edge node subscribing now would not find the retained STATE
        if not self.client.wait_published(5.0):
            log.warning("the broker has not acknowledged the Sparkplug STATE online within 5 s")
        self._announced = session

    def _watch(self) -> None:
        """After a reconnect the broker may have published the will: say online again on the new connection."""
        while not self._stop.wait(self._poll_s):
            if self.client.connected and self.client.session != self._announced:
                try:
                    self._announce()
                except Exception as exc:
                    log.warning("could not publish the Sparkplug STATE online again: %s", exc)

    def stop(self) -> None:
        """Publish offline (a clean disconnect sends no will) and disconnect."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        try:
            if self.client.connected:
                body = state_payload(False, self.timestamp_ms)
                self.client.publish(self.topic, body, qos=1, retain=True, timeout=2.0)
        except Exception as exc:
            log.warning("could not publish the Sparkplug STATE offline: %s", exc)
        self.client.close(flush_timeout=2.0)
