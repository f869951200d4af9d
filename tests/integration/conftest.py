from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import RunningIngest, start_ingest
from smartfactory.settings import Settings, load_settings


@pytest.fixture
def broker(private_broker: RunningBroker) -> RunningBroker:
    """A broker of this test's own, not the session's shared one: ingestion subscribes to `#`, so on a
    shared broker it would receive every earlier test's retained messages."""
    return private_broker


@pytest.fixture
def pipeline_settings(broker: RunningBroker, tmp_path: Path) -> Settings:
    """Settings pointing at the test's private broker and a fresh SQLite file."""
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'pipeline.db'}",
        data_dir=tmp_path,
        ingest={"client_id": f"ingest-{tmp_path.name[-12:]}", "flush_interval": 0.05},
    )


@pytest.fixture
def ingest(pipeline_settings: Settings) -> Iterator[RunningIngest]:
    running = start_ingest(pipeline_settings)
    yield running
    running.stop()
