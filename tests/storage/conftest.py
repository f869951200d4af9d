"""Backends the storage contract suite runs against, and a victoria-metrics fixture for the InfluxDB write path.

- SQLite: always.
- InfluxDB 2: when `SMARTFACTORY_INFLUX_URL` (e.g. http://127.0.0.1:8086), `SMARTFACTORY_INFLUX_ORG` and
  `SMARTFACTORY_INFLUX_TOKEN` (a token allowed to create and delete buckets) are set; each test gets a bucket of
  its own, deleted afterwards. docs/deployment.md shows how to run it against the compose stack.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from smartfactory.storage import Storage
from smartfactory.storage.sqlite import SqliteStorage
from tests.storage.victoria import BINARY, VictoriaMetrics

INFLUX_ENV = ("SMARTFACTORY_INFLUX_URL", "SMARTFACTORY_INFLUX_ORG", "SMARTFACTORY_INFLUX_TOKEN")


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[Storage]:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'contract.db'}")
    yield store
    store.close()


@contextmanager
def _influx(tmp_path: Path) -> Iterator[Storage]:
    from smartfactory.storage.influx import InfluxStorage, create_bucket, delete_bucket
    from smartfactory.storage.influxconf import store_url

    server, org, token = (os.environ[name] for name in INFLUX_ENV)
    url = store_url(server, org, f"sf-contract-{uuid.uuid4().hex[:10]}")
    create_bucket(url, token)
    store = InfluxStorage(url, token=token)
    try:
        yield store
    finally:
        store.close()
        delete_bucket(url, token)


BACKENDS: dict[str, Callable[[Path], AbstractContextManager[Storage]]] = {"sqlite": _sqlite}
if all(os.environ.get(name) for name in INFLUX_ENV):
    BACKENDS["influxdb"] = _influx


def _param(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.influx, id=name) if name == "influxdb" else pytest.param(name, id=name)


@pytest.fixture(params=[_param(name) for name in sorted(BACKENDS)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    with BACKENDS[request.param](tmp_path) as backend:
        yield backend


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A private victoria-metrics (InfluxDB v2 write API) for one test."""
    if BINARY is None:
        pytest.skip("victoria-metrics is not installed (CI installs it: apt-get install victoria-metrics)")
    server = VictoriaMetrics(tmp_path / "victoria")
    server.start()
    yield server
    server.stop()
