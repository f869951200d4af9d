"""The MQTT edge: the only package that imports paho, and the brokers the demo and the tests start.

- `edge.mqtt`: `MqttClient` (paho's public API; connect, publish with back-pressure, subscribe, manual
  acknowledgement, persistent sessions, last will), the `Message` and `Will` it speaks in, `broker_answers`.
- `edge.broker`: find or start a broker: `ensure_broker`, `start_mosquitto`, `start_amqtt`, `RunningBroker`.
- `edge.sparkplug`: Sparkplug B edge nodes fed with wire-v1 messages (`simulate`/`bridge opcua --format sparkplug`),
  not imported here (it loads protobuf).
- `edge.fastread`: an opt-in faster packet reader on paho's private internals (`SMARTFACTORY_MQTT__FAST_READER`),
  not imported unless asked for.
"""

from __future__ import annotations

from smartfactory.edge.broker import Durability, RunningBroker, ensure_broker, start_amqtt, start_mosquitto
from smartfactory.edge.mqtt import Message, MessageHandler, MqttClient, ProtocolVersion, Will, broker_answers

__all__ = [
    "Durability",
    "Message",
    "MessageHandler",
    "MqttClient",
    "ProtocolVersion",
    "RunningBroker",
    "Will",
    "broker_answers",
    "ensure_broker",
    "start_amqtt",
    "start_mosquitto",
]
