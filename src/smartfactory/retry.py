"""The one retry policy: exponential back-off with optional jitter (pure: sleep and randomness are injected).

A failure is either transient (server down, overloaded, 5xx, 429: worth another try after a pause, raised as
`errors.TransientError`) or final (bad token, missing bucket, malformed data: trying again cannot help).
Three places retry with this policy:

- the InfluxDB store retries a transient HTTP failure a few times (`call_with_retries`, honouring a server's
  `Retry-After`) before it reports `StoreUnavailable`;
- ingestion retries a failed store write and probes an unavailable store while it spools (`Backoff`, no limit);
- the MQTT edge reconnects to a lost broker (paho's network thread waits `initial` doubling to `max`; see
  `edge.mqtt.RECONNECT`).

Pause before retry n (1-based): `min(max, initial × factor^(n-1))`, then shortened by up to `jitter` of itself
at random, so that many clients that failed together do not retry together ("equal"/"full" jitter as in
M. Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015: jitter 0.5 / 1.0).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from smartfactory.errors import TransientError

T = TypeVar("T")
Random = Callable[[], float]
"""A source of uniform numbers in [0, 1), such as `random.Random(seed).random`."""

_jitter = random.Random().random
"""Jitter's own generator: a retry in a background thread (a reconnecting MQTT client, say) must not move the
global `random` state under a caller who seeded it (a student's notebook, a Hypothesis test)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before each retry, and how many retries before giving up (`retries=None`: never)."""

    initial: float = 0.5
    factor: float = 2.0
    max: float = 8.0
    jitter: float = 0.0
    retries: int | None = 3

    def __post_init__(self) -> None:
        if not self.initial >= 0 or not self.max >= 0:
            raise ValueError(f"retry pauses must be ≥ 0 (initial {self.initial}, max {self.max})")
        if not self.factor >= 1:
            raise ValueError(f"the back-off factor must be ≥ 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction of the pause, 0 to 1, got {self.jitter}")
        if self.retries is not None and self.retries < 0:
            raise ValueError(f"retries must be ≥ 0, got {self.retries}")

    def delay(self, attempt: int, retry_after: float | None = None, rng: Random = _jitter) -> float:
        """Pause before retry number `attempt` (1-based); a server's `retry_after` lengthens it (up to `max`)."""
        try:
            backoff = min(self.max, self.initial * self.factor ** max(0, attempt - 1))
        except OverflowError:  # factor^attempt beyond a float: long since capped
            backoff = self.max
        if self.jitter:
            backoff *= 1.0 - self.jitter * rng()
        if retry_after is not None:
            return min(self.max, max(backoff, float(retry_after)))
        return backoff

    def backoff(self, rng: Random = _jitter) -> Backoff:
        """A fresh sequence of pauses under this policy."""
        return Backoff(self, rng)


class Backoff:
    """The pauses of one run of failures: `next()` gives the next pause, `reset()` starts over after a success."""

    __slots__ = ("_rng", "attempt", "policy")

    def __init__(self, policy: RetryPolicy, rng: Random = _jitter) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = rng

    def next(self, retry_after: float | None = None) -> float:
        self.attempt += 1
        return self.policy.delay(self.attempt, retry_after, self._rng)

    def reset(self) -> None:
        self.attempt = 0

    @property
    def exhausted(self) -> bool:
        """True once every retry the policy allows has been handed out."""
        return self.policy.retries is not None and self.attempt >= self.policy.retries


def call_with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
    rng: Random = _jitter,
) -> T:
    """Run `operation`; on `TransientError` pause and try again up to `policy.retries` times, then re-raise.

    Any other exception is final and propagates at once.
    """
    backoff = policy.backoff(rng)
    while True:
        try:
            return operation()
        except TransientError as exc:
            if backoff.exhausted:
                raise
            pause = backoff.next(exc.retry_after)
            if on_retry is not None:
                on_retry(backoff.attempt, exc, pause)
            sleep(pause)


__all__ = ["Backoff", "Random", "RetryPolicy", "call_with_retries"]
