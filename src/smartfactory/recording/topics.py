"""What kind of message a topic carries, for a recording's totals: a UNS class, Sparkplug B, a system topic."""

from __future__ import annotations

from smartfactory.errors import WireError
from smartfactory.wire import SYSTEM_ROOT, MessageClass, Topic

#: Sparkplug B's topic namespace (Sparkplug 3.0, "Topic Namespace Elements")
SPARKPLUG_NAMESPACE = "spBv1.0"


def topic_class(topic: str) -> str:
    """`telemetry`, `state`, `event`, … for the wire format's topics; `sparkplug` for `spBv1.0/…`; `system`
    for `_sf/…`; `other` for anything else."""
    first = topic.split("/", 1)[0]
    if first == SPARKPLUG_NAMESPACE:
        return "sparkplug"
    if first == SYSTEM_ROOT:
        return "system"
    try:
        return Topic.parse(topic).cls.value
    except WireError:
        return "other"


def is_truth(topic: str) -> bool:
    """True for the simulator's ground-truth events (`…/event`: faults and repairs as they really happened)."""
    return topic_class(topic) == MessageClass.EVENT.value
