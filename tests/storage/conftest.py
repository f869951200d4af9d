"""Backends the storage contract suite runs against: SQLite always; more backends add themselves here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartfactory.storage import Storage
from smartfactory.storage.sqlite import SqliteStorage


def _sqlite(tmp_path: Path) -> Storage:
    return SqliteStorage(f"sqlite:///{tmp_path / 'contract.db'}")


BACKENDS: dict[str, Callable[[Path], Storage]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    backend = BACKENDS[request.param](tmp_path)
    yield backend
    backend.close()
