"""Messages that must not stop ingestion or silence SPC (issue 13), each against a real mosquitto and real SQLite.

- poison numbers: 50 × 1e308, alternating ±1e308 and ±1.79e308 in telemetry batches, through limit learning
  (`smartfactory ingest` as a process, phase I shortened to 50)
- a series id of 150 characters: its alarm is published and can be acknowledged
- one reading stamped 23 h ahead: later readings are still charted, a 450 σ outlier raises an alarm
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.ingest.service import IngestService
from smartfactory.ingest.spool import Spool
from smartfactory.model import Alarm, Reading
from smartfactory.services import build_monitor, spool_directory, start_ingest
from smartfactory.settings import BrokerAddress
from smartfactory.spc.errors import SpcError
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import AlarmPayload, format_ts
from tests.ingest.conftest import (
    IngestProcess,
    Listener,
    Publisher,
    count_readings,
    ingest_settings,
    needs_mosquitto,
    send_barrier,
    wait_until,
)

pytestmark = [pytest.mark.integration, needs_mosquitto]
#: In-control readings before the outlier: enough for the live monitor's phase I (500 clean readings).
PHASE1 = 600
#: A phase I (`spc.phase1_points`) short enough for the poison series to reach limit learning: each sends this many.
SHORT_PHASE1 = 50


def batch_payload(start_ms: int, values: list[float], sensor: str = "x") -> bytes:
    return json.dumps({"batch": [{"ts": start_ms + i, "values": {sensor: v}} for i, v in enumerate(values)]}).encode()


def honest(enterprise: str, count: int, start_ms: int) -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(3)
    return [
        (f"{enterprise}/p/a/l/honest/telemetry/t", json.dumps({"value": float(v), "ts": start_ms + i}).encode())
        for i, v in enumerate(rng.normal(20.0, 0.1, count))
    ]


@pytest.mark.slow
def test_overflowing_values_neither_stop_ingestion_nor_lose_honest_readings(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: `Limits` raised inside the writer thread and `smartfactory ingest` exited 1, in a loop (the batch
    was never acknowledged, so every restart got it again): 0 of 100 honest readings stored.

    The process charts with the `we` design (the individuals chart whose `Limits` raised) and a phase I of
    `SHORT_PHASE1` readings, so every series here reaches limit learning (at the default 500, none would).
    Overflow-safe arithmetic learns finite limits from alternating ±1e308; ±1.79e308, whose σ itself is beyond
    the largest double, cannot learn: stored, never charted, logged and counted. No series needs the service's
    last-resort containment (no `spc_error`, nothing switched off)."""
    settings = ingest_settings(broker, tmp_path)
    health = Listener(broker.address, f"_sf/health/{settings.ingest.client_id}")
    spc = {"SMARTFACTORY_SPC__DETECTOR": "we", "SMARTFACTORY_SPC__PHASE1_POINTS": str(SHORT_PHASE1)}
    process = IngestProcess(settings, tmp_path / "ingest.log", extra_env=spc)
    assert wait_until(lambda: any(b.get("state") == "ok" for b in health.bodies()) or not process.alive())
    now = int(time.time() * 1000) - 10_000
    machine = f"{enterprise}/p/a/l/poison/telemetry"
    alternating = [1e308 if i % 2 else -1e308 for i in range(SHORT_PHASE1)]
    # ±1.79e308: the moving range itself (3.6e308 / 1.128) is beyond the largest double, overflow-safe or not
    extreme = [1.79e308 if i % 2 else -1.79e308 for i in range(SHORT_PHASE1 + 10)]
    poison = [
        (machine, batch_payload(now, [1e308] * SHORT_PHASE1, "big")),
        (machine, batch_payload(now, alternating, "alternating")),
        (machine, batch_payload(now, extreme, "extreme")),
    ]
    publisher = publisher_factory(broker.address)
    publisher.send(poison + honest(enterprise, 100, now))
    honest_series = f"{enterprise}/p/a/l/honest/telemetry/t"
    poisoned = {f"{machine}/{sensor}" for sensor in ("big", "alternating", "extreme")}

    store = SqliteStorage(settings.store)
    try:
        total = 3 * SHORT_PHASE1 + 10 + 100
        assert wait_until(lambda: count_readings(settings.store) == total), process.output()
        assert len(store.read_series(honest_series)) == 100
        assert len(store.read_series(f"{machine}/extreme")) == SHORT_PHASE1 + 10  # stored, though no chart holds them

        # limit learning ran: the honest series and alternating ±1e308 have finite limits, ±1.79e308 none
        assert wait_until(lambda: {honest_series, f"{machine}/alternating"} <= {v.series for v in store.read_limits()})
        limits = {v.series: v for v in store.read_limits()}
        assert f"{machine}/extreme" not in limits
        swing = limits[f"{machine}/alternating"]
        assert swing.center == 0.0
        assert 1e308 < swing.sigma < math.inf
        # the series that cannot learn is logged and counted: one log line each, the count in it
        unlearned = poisoned - set(limits)
        assert wait_until(lambda: f"({len(unlearned)} series cannot learn)" in process.output()), process.output()
        assert f"SPC cannot learn limits for {machine}/extreme" in process.output()

        assert wait_until(lambda: any(b.get("stored") == total and b["state"] == "ok" for b in health.bodies()))
        report = next(b for b in reversed(health.bodies()) if b.get("stored") == total)
        assert report["contained"].get("spc_error", 0) == 0  # contained by the arithmetic, not by an exception
        assert report["spc_disabled"] == 0
        assert report["spc_cannot_learn"] == len(unlearned)  # counted in the health report too
        assert process.alive(), process.output()
        # the writer goes on: more honest readings still arrive and are stored
        publisher.send(honest(enterprise, 200, now + 1000)[100:])
        assert wait_until(lambda: count_readings(settings.store) == total + 100), process.output()
        assert process.terminate() == 0, process.output()
    finally:
        store.close()
        health.close()
        if process.alive():
            process.kill()


@pytest.mark.parametrize(
    ("detector", "unlearnable"), [("we", {"extreme"}), ("budget", {"big", "alternating", "extreme"})]
)
def test_a_series_whose_phase_one_gives_no_limits_is_counted_and_logged_once(
    detector: str, unlearnable: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The monitor stage alone, both designs: 1e308, ±1e308 and ±1.79e308 never raise; a series that cannot learn
    is left uncharted, counted (`MonitorStage.cannot_learn`) and logged once as a warning. The budget design also
    refuses a constant phase I (σ = 0) and one with no stationary level (lag-1 autocorrelation ≈ −1)."""
    stage = MonitorStage(detector=detector, phase1_points=SHORT_PHASE1)
    t0 = 1_800_000_000_000
    values = {
        "big": [1e308] * SHORT_PHASE1,
        "alternating": [1e308 if i % 2 else -1e308 for i in range(SHORT_PHASE1)],
        "extreme": [1.79e308 if i % 2 else -1.79e308 for i in range(3 * SHORT_PHASE1)],
    }
    with caplog.at_level("WARNING", logger="smartfactory.ingest.monitor"):
        for sensor, xs in values.items():
            stage.observe([Reading(f"e/p/a/l/poison/telemetry/{sensor}", t0 + i, x) for i, x in enumerate(xs)])
    assert stage.cannot_learn == len(unlearnable)
    for sensor in values:
        status = stage.status(f"e/p/a/l/poison/telemetry/{sensor}")
        assert status.startswith("cannot learn") is (sensor in unlearnable), status
    logged = [r.getMessage() for r in caplog.records if "cannot learn limits" in r.getMessage()]
    assert len(logged) == len(unlearnable)  # once per series, not per later reading
    assert all(r.levelname == "WARNING" for r in caplog.records if "cannot learn limits" in r.getMessage())


def test_a_150_character_series_raises_an_alarm_that_can_be_acknowledged(
    broker: RunningBroker, tmp_path: Path, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: the alarm id was `{series}@{ts}`, over `AlarmPayload.alarm_id`'s 100 characters: the writer died at
    the first alarm of such a series, after its batch was acknowledged, and no acknowledgement could name it."""
    enterprise = "e" * 60
    sensor = "s" * 71
    series = f"{enterprise}/p/a/l/m/telemetry/{sensor}"
    assert len(series) == 150
    settings = ingest_settings(broker, tmp_path)
    running = start_ingest(settings)
    alarms = Listener(broker.address, f"{enterprise}/p/a/l/m/alarm/{sensor}")
    now = int(time.time() * 1000) - 10_000
    values = [*np.random.default_rng(1).normal(5.0, 0.1, PHASE1), 500.0]
    readings = [(series, json.dumps({"value": float(v), "ts": now + i}).encode()) for i, v in enumerate(values)]
    publisher = publisher_factory(broker.address)
    publisher.send(readings)
    store = SqliteStorage(settings.store)
    try:
        assert wait_until(lambda: len(store.read_alarms()) == 1)
        (alarm,) = store.read_alarms()
        assert alarm.series == series
        assert len(alarm.alarm_id) <= 100
        assert wait_until(lambda: len(alarms.messages) >= 1)
        published = AlarmPayload.from_bytes(alarms.messages[-1].payload)
        assert (published.alarm_id, published.active) == (alarm.alarm_id, True)

        # an acknowledgement on another series' topic does not touch it: sent while the alarm is still open (an
        # acknowledged alarm is never acknowledged again, so afterwards it would prove nothing), and a barrier
        # makes sure ingestion has taken and written it before we look
        other = json.dumps({"alarm_id": alarm.alarm_id, "by": "intruder", "ts": format_ts(int(time.time() * 1000))})
        publisher.send([(f"{enterprise}/p/a/l/m/ack/other", other.encode())])
        assert wait_until(send_barrier(broker.address, settings.store))
        assert (store.read_alarms()[0].acked_by, store.read_alarms()[0].acked_ms) == (None, None)

        ack = json.dumps({"alarm_id": alarm.alarm_id, "by": "tester", "ts": format_ts(int(time.time() * 1000))})
        publisher.send([(f"{enterprise}/p/a/l/m/ack/{sensor}", ack.encode())])
        assert wait_until(lambda: store.read_alarms()[0].acked_by == "tester")
        assert running.service.running
    finally:
        store.close()
        alarms.close()
    assert running.stop()
    check = SqliteStorage(settings.store)
    assert check.read_alarms()[0].acked_by == "tester"
    check.close()


def test_a_reading_stamped_23_hours_ahead_does_not_silence_spc(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: the future reading was charted, every real reading after it was "older than charted" and skipped,
    and a 450 σ outlier raised nothing for up to 24 h."""
    settings = ingest_settings(broker, tmp_path)
    running = start_ingest(settings)
    series = f"{enterprise}/p/a/l/m/telemetry/t"
    now = int(time.time() * 1000) - 10_000
    future = (series, json.dumps({"value": 1.0, "ts": now + 23 * 3600_000}).encode())
    values = [*np.random.default_rng(2).normal(10.0, 0.1, PHASE1), 10.0 + 450 * 0.1]
    readings = [(series, json.dumps({"value": float(v), "ts": now + i}).encode()) for i, v in enumerate(values)]
    publisher_factory(broker.address).send([future, *readings])
    store = SqliteStorage(settings.store)
    try:
        assert wait_until(lambda: len(store.read_alarms()) == 1)
        (alarm,) = store.read_alarms()
        assert alarm.ts_ms == now + PHASE1  # the outlier
        assert len(store.read_series(series)) == PHASE1 + 2  # the future reading is stored (within max_future_s)
        health = running.service.health()
        assert health["contained"]["future_not_charted"] == 1
        assert health["alarms"] >= 1
    finally:
        store.close()
        running.stop()


class FailingMonitor:
    """The real monitor, except that it raises on the series of one machine (any monitor bug, any number no chart
    can hold): what the service must contain."""

    def __init__(self, inner: MonitorStage, poisoned: str) -> None:
        self.inner = inner
        self.poisoned = poisoned
        self.raised = 0

    def observe(self, readings: list[Reading]) -> list[Alarm]:
        if any(self.poisoned in r.series for r in readings):
            self.raised += 1
            raise SpcError("limits need a finite centre and sigma ≥ 0, got inf, 0.0")
        return self.inner.observe(readings)

    def __getattr__(self, name: str) -> Any:  # births, states, tick, limits: the real monitor's
        return getattr(self.inner, name)


def test_a_monitor_that_raises_is_contained_to_its_series(
    broker: RunningBroker, tmp_path: Path, enterprise: str, publisher_factory: Callable[[BrokerAddress], Publisher]
) -> None:
    """Before: the exception reached the writer thread's top and ingestion stopped ("failed"), with the batch
    unacknowledged: redelivered at every restart, a crash loop. Now the series loses SPC, nothing else."""
    settings = ingest_settings(broker, tmp_path)
    store = SqliteStorage(settings.store)
    monitor = FailingMonitor(build_monitor(settings, store), "/poison/")  # type: ignore[arg-type]
    client = MqttClient(broker.address, client_id=settings.ingest.client_id, persistent=True, protocol="5",
                        manual_ack=True)  # fmt: skip
    service = IngestService(client, store, settings.ingest, monitor=monitor, spool=Spool(spool_directory(settings)))  # type: ignore[arg-type]
    client.set_message_handler(service.on_message)
    client.connect()
    service.start()
    try:
        now = int(time.time() * 1000) - 10_000
        poison = (f"{enterprise}/p/a/l/poison/telemetry", batch_payload(now, [1.0] * 50))
        good = honest(enterprise, 100, now)
        publisher_factory(broker.address).send([poison, *good[:50], poison, *good[50:]])
        assert wait_until(lambda: service.counters.stored == 150)
        assert service.running
        health = service.health()
        assert health["state"] == "ok"
        assert health["contained"]["spc_error"] == 1  # switched off at the first failure: not called again
        assert health["spc_disabled"] == 1
        assert monitor.raised == 1
    finally:
        service.stop()
        store.close()


def test_a_run_ahead_of_the_clock_is_charted_from_its_second_reading_but_a_stray_reading_never(
    tmp_path: Path,
) -> None:
    """A simulator faster than real time (or a publisher whose clock was stepped forward) runs ahead
    continuously: its first reading beyond the window is held back, every one continuing it is charted.
    A stray future reading is never charted, and the honest readings after it are."""
    store = SqliteStorage(f"sqlite:///{tmp_path / 's.db'}")
    settings = ingest_settings_for_unit(tmp_path)
    service = IngestService(MqttClient(BrokerAddress("127.0.0.1", 9)), store, settings.ingest, monitor=None)
    t0 = 1_800_000_000_000
    series = "e/p/a/l/m/telemetry/t"
    charted: list[Reading] = []
    service._chartable([Reading(series, t0 + 23 * 3_600_000, 1.0)], t0, charted)  # stray: 23 h ahead
    assert charted == []
    service._chartable([Reading(series, t0 + 1000, 1.0)], t0 + 1000, charted)  # honest: charted, ends the run
    assert len(charted) == 1
    # a simulator at 5x: reading time runs 5 s per second of receive time, soon beyond the 5 s window
    fast = [(t0 + 2000 + i * 5000, t0 + 2000 + i * 1000) for i in range(40)]
    taken = []
    for ts, received in fast:
        out: list[Reading] = []
        service._chartable([Reading(series, ts, 1.0)], received, out)
        taken.append(bool(out))
    first_beyond = next(i for i, (ts, received) in enumerate(fast) if ts > received + 5000)
    assert taken == [True] * first_beyond + [False] + [True] * (len(fast) - first_beyond - 1)
    out = []
    service._chartable([Reading(series, fast[-1][0] + 23 * 3_600_000, 1.0)], fast[-1][1], out)
    assert out == []  # a jump of 23 h does not continue the run: not charted
    service._chartable([Reading(series, fast[-1][1] + 1000, 1.0)], fast[-1][1] + 1000, out)
    assert len(out) == 1  # an honest reading within the window is charted as ever
    assert service.counters.contained["future_not_charted"] == 3
    store.close()


def ingest_settings_for_unit(tmp_path: Path) -> Any:
    from smartfactory.settings import load_settings

    return load_settings(store=f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path)
