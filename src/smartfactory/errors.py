"""One exception tree for smartfactory. Every message says what went wrong and what to do next.

SmartfactoryError
├── ConfigError            bad settings, URLs, plant or scenario files
├── BrokerError            cannot reach or start an MQTT broker
├── StoreError             the store cannot be opened, read or written
│   └── StoreUnavailable   the store is down for now; ingestion spools and retries
├── WireError              a message that does not follow the wire format (becomes a dead letter)
└── SimulatorError         a simulator file or machine type that cannot be loaded
"""

from __future__ import annotations


class SmartfactoryError(Exception):
    """Base of every error smartfactory raises on purpose."""


class ConfigError(SmartfactoryError):
    """A setting, URL, plant file or scenario file is invalid."""


class BrokerError(SmartfactoryError):
    """The MQTT broker cannot be reached or started."""


class StoreError(SmartfactoryError):
    """The store cannot be opened, read or written."""


class StoreUnavailable(StoreError):
    """The store is temporarily unreachable (server down, disk full); the write may be retried later."""


class WireError(SmartfactoryError):
    """A message breaks the wire format. `reason` is a short machine-readable code used for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SimulatorError(SmartfactoryError):
    """A simulator file or machine type cannot be loaded or configured."""
