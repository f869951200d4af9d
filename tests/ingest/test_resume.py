"""A restarted worker behind a large backlog (issue 13): its persistent session is resumed and the broker sends the
queued messages first, so a SUBACK for the re-subscription arrives only behind all of them. Waiting for it made the
start take as long as the backlog (20,000 messages: 3.3 s) and fail beyond the 5 s timeout (50,000 and 100,000
messages: `did not confirm the subscription within 5 s`, measured on the 2-core VM). A resumed session is now not
confirmed: the broker holds its subscription already. Real mosquitto, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import start_ingest
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
BACKLOG = 20_000  # below the Receive Maximum (65,535): the broker sends all of it right after the CONNACK


def test_a_resumed_session_starts_while_its_backlog_still_arrives(broker: RunningBroker, tmp_path: Path) -> None:
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    first = start_ingest(settings)
    assert not first.service.client.session_present  # a new session: its subscription was confirmed
    assert first.stop()
    published = readings_for("resume", BACKLOG, sensors=5)
    publisher = Publisher(broker.address)
    publisher.send(published, wait=120)
    publisher.close()

    running = start_ingest(settings)  # raised BrokerError (no SUBACK in 5 s) with 50,000 queued before the fix
    received_at_start = running.service.counters.received
    try:
        assert running.service.client.session_present
        # start returned without waiting behind the backlog: before the fix all of it had arrived by then
        assert received_at_start < BACKLOG
        assert wait_until(lambda: running.service.counters.stored >= BACKLOG, timeout=180)
    finally:
        assert running.stop()
    assert stored_readings(settings.store) == expected_readings(published)  # every queued reading, once
