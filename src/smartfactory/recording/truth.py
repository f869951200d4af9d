"""The ground truth in a recording: the simulator's `…/event` messages (fault starts, repairs, refusals).

The simulator publishes every fault and repair as it really applied it, at its exact simulated instant
(docs/wire.md, EventPayload), so a recording of the broker holds the ground truth without a file beside it.

    for t_ms, event in truth_events(open_recording(path)):
        event.machine, event.kind, event.fault, event.ts_ms
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from smartfactory.errors import WireError
from smartfactory.model import FaultEvent
from smartfactory.recording.reader import Recording
from smartfactory.recording.topics import is_truth
from smartfactory.wire import EventPayload, Topic


def truth_events(recording: Recording) -> Iterator[tuple[int, FaultEvent]]:
    """(receive time in ms after the start, event) for every readable ground-truth event, in recorded order.

    The event is built as ingestion stores it (`model.FaultEvent`); messages on `…/event` that do not decode
    are left out (ingestion dead-letters them)."""
    for message in recording.messages():
        if not is_truth(message.topic):
            continue
        try:
            path = Topic.parse(message.topic).path
            payload = EventPayload.from_bytes(message.payload)
        except (WireError, ValidationError):
            continue
        yield (
            message.t_ms,
            FaultEvent(
                machine=str(path),
                ts_ms=payload.ts,
                kind=payload.kind,
                fault=payload.fault,
                sensor=payload.sensor,
                params=dict(payload.params),
                affects=tuple(payload.affects or ()),
            ),
        )
