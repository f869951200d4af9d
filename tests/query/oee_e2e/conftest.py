"""Fixtures of the OEE end-to-end tests: a small plant file, a seeded SQLite store, and the pipeline settings
(private broker, fresh SQLite file) the simulator and ingestion share."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.edge.broker import RunningBroker
from smartfactory.model import PartResult, StateChange
from smartfactory.services import RunningIngest, start_ingest
from smartfactory.settings import Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage


@pytest.fixture
def broker(private_broker: RunningBroker) -> RunningBroker:
    """A broker of this test's own, not the session's shared one: ingestion subscribes to `#`, so on a
    shared broker it would receive every earlier test's retained messages."""
    return private_broker


RunOee = Callable[..., dict[str, Any]]


def write_store(url: str, states: Sequence[StateChange], parts: Sequence[PartResult]) -> None:
    store = SqliteStorage(url)
    try:
        store.write_states(states)
        store.write_parts(parts)
    finally:
        store.close()


def invoke(*args: str) -> tuple[int, str, str]:
    """Run `smartfactory ARGS` in-process; (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def run_oee() -> RunOee:
    """`smartfactory oee --format json ARGS` → the parsed JSON document (asserts exit code 0)."""

    def run(*args: str) -> dict[str, Any]:
        code, out, err = invoke("oee", "--format", "json", *args)
        assert code == 0, err
        document: dict[str, Any] = json.loads(out)
        return document

    return run


@pytest.fixture
def e2e_settings(broker: RunningBroker, tmp_path: Path) -> Settings:
    """Settings pointing at the test's private broker and a fresh SQLite file; no SPC (only OEE is checked)."""
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'e2e.db'}",
        data_dir=tmp_path,
        spc={"rules": "none"},
        ingest={"client_id": f"oee-e2e-{tmp_path.name[-12:]}", "flush_interval": 0.05},
    )


@pytest.fixture
def e2e_ingest(e2e_settings: Settings) -> Iterator[RunningIngest]:
    running = start_ingest(e2e_settings)
    yield running
    running.stop()
