"""Run a simulation against a clock and publish what it produces.

Three speeds:

- `speed` > 0 paces simulated time against the wall clock (1 = real time, 60 = an hour a minute), in steps of
  `step_s` wall seconds; telemetry goes out one message per machine and sampling instant.
- `speed` = 0 runs as fast as the broker takes the messages, with telemetry in `batch` messages.
- `backfill_s` first generates that much history as fast as possible (batched, with `progress` reports) until
  simulated time has caught up with the wall clock, then continues at `speed`.

Timestamps must stay believable for ingestion, which rejects readings more than `ingest.max_future_s` (1 day)
ahead of its clock: simulated time never runs more than `max_ahead_s` (23 h) ahead of the wall clock; an
accelerated run that gets there slows down to real time. `plan_start` picks a start time so that a run of known
length ends at "now" instead (a simulated shift at speed 60 starts 7 h 52 min in the past).

The clock (`clock`, epoch seconds) and the way to wait (`wait`, returns True to stop) are injectable, so tests
run paced mode without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from smartfactory.sim.encode import Encoder, Outgoing, status_payload
from smartfactory.sim.engine import Simulation
from smartfactory.sim.scenario import Scenario
from smartfactory.wire import MessageClass

#: publish(topic, payload, retain); the publisher picks the QoS from the topic's class.
Publish = Callable[[str, bytes, bool], None]
#: progress(simulated ms done, simulated ms to do, stats so far)
Progress = Callable[[int, int, "RunStats"], None]

MAX_AHEAD_S = 23 * 3600.0
BATCH_TICKS = 300
CHUNK_S = 300.0


@dataclass(slots=True)
class RunStats:
    messages: int = 0
    telemetry: int = 0
    readings: int = 0
    parts: int = 0
    events: int = 0
    live_start_ms: int | None = None


def plan_start(now_ms: int, *, speed: float, duration_s: float | None = None, backfill_s: float = 0.0) -> int:
    """Simulated start time (epoch ms) so that no timestamp lies in the future when it is published.

    With a backfill, history starts `backfill_s` before now. A run as fast as possible (`speed` 0) of known
    duration ends now; an accelerated run (speed > 1) of known duration starts early enough to end at the
    moment it finishes, so it never runs ahead of the wall clock. Otherwise the run starts now.
    """
    if backfill_s > 0:
        return now_ms - round(backfill_s * 1000)
    if duration_s is not None and speed == 0:
        return now_ms - round(duration_s * 1000)
    if duration_s is not None and speed > 1:
        return now_ms - round(duration_s * 1000 * (1 - 1 / speed))
    return now_ms


class _Stop(Exception):
    pass


def run(
    sim: Simulation,
    publish: Publish,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    max_messages: int | None = None,
    stop: threading.Event | None = None,
    backfill_s: float = 0.0,
    scenario: Scenario | None = None,
    clock: Callable[[], float] = time.time,
    wait: Callable[[float], bool] | None = None,
    progress: Progress | None = None,
    stats: RunStats | None = None,
    batch_ticks: int = BATCH_TICKS,
    max_ahead_s: float = MAX_AHEAD_S,
    step_s: float = 0.05,
) -> int:
    """Simulate and publish until `duration_s` simulated seconds after the live start, `max_messages`
    telemetry messages, or `stop`; return the number of telemetry messages sent."""
    stop = stop or threading.Event()
    wait = wait or stop.wait
    stats = stats if stats is not None else RunStats()
    max_ahead_ms = round(max_ahead_s * 1000)

    def emit(messages: list[Outgoing]) -> None:
        for message in messages:
            if message.cls is MessageClass.TELEMETRY:
                if max_messages is not None and stats.telemetry >= max_messages:
                    raise _Stop
                stats.telemetry += 1
                stats.readings += message.readings
            elif message.cls is MessageClass.QUALITY:
                stats.parts += 1
            elif message.cls is MessageClass.EVENT:
                stats.events += 1
            publish(message.topic, message.payload, message.retain)
            stats.messages += 1

    def wall_ms() -> int:
        return int(clock() * 1000)

    fast = Encoder(sim.machines, ticks_per_message=batch_ticks)
    encoder = fast
    try:
        if backfill_s > 0:
            first = sim.now_ms

            def report() -> None:
                if progress is not None:
                    progress(sim.now_ms - first, wall_ms() - first, stats)

            _fast(sim, fast, emit, stop, wait, goal=wall_ms, cap=wall_ms, step_s=step_s, report=report)
            emit(fast.flush())
        stats.live_start_ms = live_start = sim.now_ms
        if scenario is not None:
            sim.schedule(scenario, live_start)
        end_ms = None if duration_s is None else live_start + round(duration_s * 1000)

        def goal() -> float:
            return math.inf if end_ms is None else end_ms

        def cap() -> int:
            return wall_ms() + max_ahead_ms

        if speed <= 0:
            _fast(sim, fast, emit, stop, wait, goal=goal, cap=cap, step_s=step_s, report=None)
        else:
            encoder = Encoder(sim.machines, ticks_per_message=1)
            wall0, sim0 = clock(), sim.now_ms
            while not stop.is_set():
                target = min(sim0 + int((clock() - wall0) * speed * 1000), goal(), cap())
                if target > sim.now_ms:
                    emit(encoder.encode(sim.advance(int(target))))
                if sim.now_ms >= goal() or wait(step_s):
                    break
        emit(encoder.flush())
        if encoder is not fast:
            emit(fast.flush())
    except _Stop:
        pass
    return stats.telemetry


def _fast(
    sim: Simulation,
    encoder: Encoder,
    emit: Callable[[list[Outgoing]], None],
    stop: threading.Event,
    wait: Callable[[float], bool],
    *,
    goal: Callable[[], float],
    cap: Callable[[], int],
    step_s: float,
    report: Callable[[], None] | None,
) -> None:
    """As fast as possible up to `goal()`, never beyond `cap()` (waiting while capped)."""
    chunk_ms = round(CHUNK_S * 1000)
    while not stop.is_set():
        target = min(sim.now_ms + chunk_ms, goal(), cap())
        if target <= sim.now_ms:
            if sim.now_ms >= goal() or wait(step_s):
                return
            continue
        emit(encoder.encode(sim.advance(int(target))))
        if report is not None:
            report()


__all__ = ["Publish", "RunStats", "Simulation", "plan_start", "run", "status_payload"]
