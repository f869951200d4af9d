"""Retrying a write that may fail for a moment (pure: the clock and the sleep are injected).

A failure is either transient (server down, overloaded, 5xx, 429: worth another try after a pause) or final
(bad token, missing bucket, malformed data: trying again cannot help). Transient failures are retried with
exponential back-off, honouring a server's `Retry-After`; when the attempts are used up the last transient
failure is raised, and the caller (ingestion) keeps its batch and tries again later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's requested pause in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 3
    first_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Pause before retry number `attempt` (1-based): doubling from `first_delay`, at most `max_delay`."""
        backoff = min(self.max_delay, self.first_delay * 2.0 ** (attempt - 1))
        if retry_after is not None:
            return min(self.max_delay, max(backoff, float(retry_after)))
        return backoff


def call_with_retries(
    operation: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
) -> T:
    """Run `operation`; on `TransientError` pause and try again up to `policy.retries` times, then re-raise."""
    attempt = 0
    while True:
        try:
            return operation()
        except TransientError as exc:
            attempt += 1
            if attempt > policy.retries:
                raise
            pause = policy.delay(attempt, exc.retry_after)
            if on_retry is not None:
                on_retry(attempt, exc, pause)
            sleep(pause)
