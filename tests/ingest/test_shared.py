"""Scaling out: two workers in one shared-subscription group split the stream; each reading is stored once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress
from tests.ingest.conftest import (
    Publisher,
    expected_readings,
    ingest_settings,
    needs_mosquitto,
    readings_for,
    stored_readings,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]


def test_two_workers_in_a_group_store_exactly_the_published_set(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    group = f"g-{enterprise}"
    first = ingest_settings(broker, tmp_path, group=group, client_id=f"{enterprise}-w1")
    second = first.model_copy(update={"ingest": first.ingest.model_copy(update={"client_id": f"{enterprise}-w2"})})
    workers = [start_ingest(first), start_ingest(second)]
    assert workers[0].service.subscription() == f"$share/{group}/#"
    published = readings_for(enterprise, 4000, sensors=7)
    publisher_factory(broker.address).send(published)

    def stored() -> int:
        return sum(w.service.counters.stored for w in workers)

    assert wait_until(lambda: stored() >= len(published))
    for worker in workers:
        assert worker.stop()
    counters = [w.service.counters for w in workers]
    assert all(c.stored > 200 for c in counters)  # both took a real share
    assert sum(c.stored for c in counters) == len(published)  # the union, each reading once
    assert sum(c.duplicates for c in counters) == 0
    assert stored_readings(first.store) == expected_readings(published)
