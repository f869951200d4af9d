"""Storage: one protocol (`Storage`), two backends chosen by URL.

- `sqlite:///path/to/file.db`: embedded default (`storage/sqlite.py`).
- `influxdb://host:8086?org=ORG&bucket=BUCKET` (token from `SMARTFACTORY_INFLUX_TOKEN`): production
  (`storage/influx.py`).
"""

from __future__ import annotations

from smartfactory.errors import ConfigError
from smartfactory.storage.base import Storage

__all__ = ["Storage", "open_store"]


def open_store(url: str, *, token: str | None = None) -> Storage:
    """Open the store a URL names; `ConfigError` with the accepted forms when the scheme is unknown."""
    if url.startswith("sqlite:"):
        from smartfactory.storage.sqlite import SqliteStorage

        return SqliteStorage(url)
    if url.startswith(("influxdb:", "influxdbs:")):
        from smartfactory.storage import influx  # type: ignore[attr-defined, unused-ignore]

        store: Storage = influx.InfluxStorage(url, token=token)
        return store
    raise ConfigError(
        f"unknown store URL {url!r}: use sqlite:///path/to/file.db or influxdb://host:8086?org=ORG&bucket=BUCKET"
    )
