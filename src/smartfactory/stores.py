"""Opening the configured store: for writing (ingestion creates it) or for reading (commands that only read).

A command that only reads (`oee`, `export`, `report detection`) must not create a store as a side effect: an
empty `data/smartfactory.db` left behind by a typo in `--store` looks like a plant that stored nothing. So
`open_existing_store` refuses a SQLite file that does not exist, before anything is created, and says where it
looked and what to do. (An InfluxDB bucket is never created by reading, so there it opens as usual.)

This module imports no simulator and no MQTT code, so a reading command loads neither.
"""

from __future__ import annotations

from smartfactory.errors import StoreError
from smartfactory.settings import Settings
from smartfactory.storage import Storage, open_store


def open_configured_store(settings: Settings) -> Storage:
    """The store of the settings, created if absent (the writer's way: ingestion, demo)."""
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    return open_store(settings.store, token=token, retention_days=settings.retention_days)


def open_existing_store(settings: Settings) -> Storage:
    """The store of the settings, for reading only: `StoreError` (and nothing created) when a SQLite file is
    absent. No retention pruning either: a reader deletes nothing."""
    url = settings.store
    if url.startswith("sqlite:"):
        from smartfactory.storage.sqlite import path_from_url

        path = path_from_url(url)
        if not path.is_file():
            where = "the folder does not exist" if not path.parent.is_dir() else "no such file"
            raise StoreError(
                f"no store at {path} ({where}); this command only reads and creates nothing. Point --store "
                "(or SMARTFACTORY_STORE) at the file ingestion writes, e.g. sqlite:///data/smartfactory.db, "
                "or fill one first with `smartfactory demo` or `smartfactory ingest`."
            )
    token = settings.influx_token.get_secret_value() if settings.influx_token else None
    return open_store(url, token=token)
