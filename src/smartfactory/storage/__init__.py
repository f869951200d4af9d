"""Storage: one protocol (`Storage`), two backends chosen by URL.

- `sqlite:///path/to/file.db`: embedded default (`storage/sqlite.py`).
- `influxdb://host:8086?org=ORG&bucket=BUCKET` (`influxdbs://` for TLS; token from `SMARTFACTORY_INFLUX_TOKEN`):
  production (`storage/influx.py`). Schema, options and idempotency: docs/storage.md.
"""

from __future__ import annotations

from smartfactory.errors import ConfigError
from smartfactory.storage.base import Storage

__all__ = ["Storage", "open_store"]


def open_store(url: str, *, token: str | None = None, retention_days: float | None = None) -> Storage:
    """Open the store a URL names; `ConfigError` with the accepted forms when the scheme is unknown.

    `retention_days` makes a SQLite store delete older data itself; an InfluxDB bucket has its own retention
    period (set when the bucket is created, see docs/deployment.md), so there it is ignored.
    """
    if url.startswith("sqlite:"):
        from smartfactory.storage.sqlite import SqliteStorage

        return SqliteStorage(url, retention_days=retention_days)
    if url.startswith(("influxdb:", "influxdbs:")):
        from smartfactory.storage.influx import InfluxStorage

        return InfluxStorage(url, token=token)
    raise ConfigError(
        f"unknown store URL {url!r}: use sqlite:///path/to/file.db or influxdb://host:8086?org=ORG&bucket=BUCKET"
    )
