"""One exception tree for smartfactory. Every message says what went wrong and what to do next.

The CLI's friendly error handler (`cli.common.friendly_errors`) catches `SmartfactoryError`, so every error below
reaches a user as one line of advice instead of a traceback.

SmartfactoryError
├── ConfigError            bad settings, URLs, durations, plant or scenario files
├── BrokerError            cannot reach or start an MQTT broker
├── TransientError         worth another try after a pause (`retry_after`: the pause a server asked for)
│   └── StoreUnavailable   the store is down for now; ingestion spools and retries (also a StoreError)
├── StoreError             the store cannot be opened, read or written
│   ├── StoreUnavailable   (see above)
│   └── SpoolError         the local store-and-forward spool cannot be opened or written
│                          (ingest.spool.SpoolFull below it: the spool reached its size limit)
├── WireError              a message that does not follow the wire format (becomes a dead letter)
├── SimulatorError         a simulator file or machine type that cannot be loaded
└── SpcError               invalid numbers for a control chart, rule set or capability study (also a ValueError)

This module is pure (no imports beyond the standard library), so the pure core (`spc`, `kpi`, `wire`) may use it.
"""

from __future__ import annotations


class SmartfactoryError(Exception):
    """Base of every error smartfactory raises on purpose."""


class ConfigError(SmartfactoryError):
    """A setting, URL, duration, plant file or scenario file is invalid."""


class BrokerError(SmartfactoryError):
    """The MQTT broker cannot be reached or started."""


class TransientError(SmartfactoryError):
    """A failure worth retrying; `retry_after` is the server's requested pause in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(SmartfactoryError):
    """The store cannot be opened, read or written."""


class StoreUnavailable(StoreError, TransientError):
    """The store is temporarily unreachable (server down, disk full); the write may be retried later."""


class SpoolError(StoreError):
    """The local spool cannot be opened or written (another worker holds it, the disk fails, it is full)."""


class WireError(SmartfactoryError):
    """A message breaks the wire format. `reason` is a short machine-readable code used for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SimulatorError(SmartfactoryError):
    """A simulator file or machine type cannot be loaded or configured."""


class SpcError(SmartfactoryError, ValueError):
    """Invalid input for a control chart, a rule set or a capability study.

    Also a `ValueError`: every failure of the pure SPC engine is a problem with the numbers it was given (too few
    points, a subgroup of size 1 on an X̄-R chart, a negative count …).
    """


__all__ = [
    "BrokerError",
    "ConfigError",
    "SimulatorError",
    "SmartfactoryError",
    "SpcError",
    "SpoolError",
    "StoreError",
    "StoreUnavailable",
    "TransientError",
    "WireError",
]
