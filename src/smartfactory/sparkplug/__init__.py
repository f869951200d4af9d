"""Sparkplug B v3.0: payload codec, topics, the mapping onto ISA-95 machine paths, the pure session logic of an
edge node (`edge.py`) and a host application (`host.py`), and the translation of wire-v1 messages into edge node
frames (`translate.py`, used by `edge.sparkplug`).

Pure: no MQTT client, no sockets; this package is the one door to the protobuf library (tests/test_house.py).
Ingestion's glue is `smartfactory.ingest.sparkplug`; the wire-level description is docs/wire.md, "Sparkplug B".
"""

from smartfactory.sparkplug.mapping import (
    DEFAULT_MAPPING,
    SparkplugMapping,
    machine_path_to_sparkplug,
    sparkplug_to_machine_path,
)
from smartfactory.sparkplug.payload import (
    DataType,
    Metric,
    SparkplugError,
    SparkplugPayload,
    decode_payload,
    encode_payload,
)
from smartfactory.sparkplug.topic import NAMESPACE, MessageType, SparkplugTopic, parse_state_topic, state_topic

__all__ = [
    "DEFAULT_MAPPING",
    "NAMESPACE",
    "DataType",
    "MessageType",
    "Metric",
    "SparkplugError",
    "SparkplugMapping",
    "SparkplugPayload",
    "SparkplugTopic",
    "decode_payload",
    "encode_payload",
    "machine_path_to_sparkplug",
    "parse_state_topic",
    "sparkplug_to_machine_path",
    "state_topic",
]
