"""Sparkplug B topics (specification 3.0.0, section 4.1):
`spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]` and a host application's `spBv1.0/STATE/{host_id}`.

Group, edge node and device ids are UTF-8 text without `/`, `+` or `#` (spec 4.1.1); the device id is present on
exactly the device messages (DBIRTH, DDEATH, DDATA, DCMD). Parse errors are `SparkplugError` with reason
`bad_topic`; `SparkplugTopic.parse(str(t)) == t` for every valid topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from smartfactory.sparkplug.payload import SparkplugError

NAMESPACE = "spBv1.0"
STATE = "STATE"


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"


DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD})


def _id_problem(what: str, value: str) -> str | None:
    if not value:
        return f"{what} is empty"
    if any(c in "/+#" for c in value):
        return f"{what} {value[:60]!r} contains '/', '+' or '#'"
    return None


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """A parsed Sparkplug B edge-node or device topic."""

    group_id: str
    message_type: MessageType | str  # a plain string is accepted and kept as the MessageType
    edge_node_id: str
    device_id: str | None = None

    def __post_init__(self) -> None:
        kind = _message_type(self.message_type)
        object.__setattr__(self, "message_type", kind)
        for what, value in (("group_id", self.group_id), ("edge_node_id", self.edge_node_id)):
            problem = _id_problem(what, value)
            if problem:
                raise SparkplugError("bad_topic", problem)
        if kind in DEVICE_TYPES:
            if self.device_id is None:
                raise SparkplugError("bad_topic", f"{kind} needs a device_id level")
            problem = _id_problem("device_id", self.device_id)
            if problem:
                raise SparkplugError("bad_topic", problem)
        elif self.device_id is not None:
            raise SparkplugError("bad_topic", f"{kind} takes no device_id level")

    @property
    def is_device(self) -> bool:
        return self.device_id is not None

    def __str__(self) -> str:
        base = f"{NAMESPACE}/{self.group_id}/{self.message_type}/{self.edge_node_id}"
        return base if self.device_id is None else f"{base}/{self.device_id}"

    @classmethod
    def parse(cls, text: str) -> SparkplugTopic:
        """`spBv1.0/group/NDATA/node[/device]` → `SparkplugTopic`; `SparkplugError("bad_topic")` otherwise
        (including the STATE topic: see `parse_state_topic`)."""
        levels = text.split("/")
        if levels[0] != NAMESPACE:
            raise SparkplugError("bad_topic", f"{text[:200]!r} is not in the {NAMESPACE} namespace")
        if len(levels) == 3 and levels[1] == STATE:
            raise SparkplugError("bad_topic", f"{text[:200]!r} is a host application's STATE topic")
        if len(levels) not in (4, 5):
            raise SparkplugError(
                "bad_topic",
                f"{text[:200]!r} has {len(levels)} levels; expected {NAMESPACE}/group/type/edge_node[/device]",
            )
        return cls(levels[1], _message_type(levels[2]), levels[3], levels[4] if len(levels) == 5 else None)


def _message_type(text: str) -> MessageType:
    try:
        return MessageType(text)
    except ValueError:
        known = ", ".join(t.value for t in MessageType)
        raise SparkplugError("bad_topic", f"message type {text[:40]!r} is not one of {known}") from None


def state_topic(host_id: str) -> str:
    """The retained STATE topic of a host application (spec 3.0.0, section 7.4)."""
    problem = _id_problem("host_id", host_id)
    if problem:
        raise SparkplugError("bad_topic", problem)
    return f"{NAMESPACE}/{STATE}/{host_id}"


def parse_state_topic(text: str) -> str | None:
    """The host id of a STATE topic, or None when `text` is not one."""
    levels = text.split("/")
    if len(levels) == 3 and levels[0] == NAMESPACE and levels[1] == STATE and not _id_problem("host_id", levels[2]):
        return levels[2]
    return None
