"""Pacing: real time, accelerated, as fast as possible, backfill up to now, and never too far in the future."""

from __future__ import annotations

import json

import pytest

from smartfactory.sim.runner import RunStats, plan_start, run
from smartfactory.sim.scenario import parse_scenario
from smartfactory.wire import parse_ts
from tests.sim.conftest import HOUR, T0, MakeSim
from tests.sim.test_determinism import FakeClock

NOW_S = (T0 + 30 * 24 * HOUR) / 1000  # the fake wall clock: a month after T0


def stamps(payload: bytes) -> list[int]:
    body = json.loads(payload)
    if "batch" in body:
        return [s["ts"] for s in body["batch"]]
    return [parse_ts(body["ts"])]


def test_plan_start_keeps_every_timestamp_in_the_past() -> None:
    now = 1_000_000_000
    assert plan_start(now, speed=1.0) == now
    assert plan_start(now, speed=1.0, backfill_s=3600) == now - 3_600_000
    assert plan_start(now, speed=0, duration_s=600) == now - 600_000  # as fast as possible: ends now
    # an 8-hour shift at speed 60 takes 8 minutes: start 7 h 52 min ago, end now
    assert plan_start(now, speed=60, duration_s=8 * 3600) == now - round(8 * 3600_000 * 59 / 60)
    assert plan_start(now, speed=0.5, duration_s=600) == now  # slower than real time never catches up


def test_an_accelerated_run_ending_now_never_runs_ahead_of_the_wall_clock(make_sim: MakeSim) -> None:
    clock = FakeClock(NOW_S)
    start = plan_start(int(NOW_S * 1000), speed=60, duration_s=3600)
    latest_lead = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if topic.endswith("/telemetry"):
            latest_lead.append(max(stamps(payload)) - clock() * 1000)

    run(make_sim(start_ms=start), publish, speed=60, duration_s=3600, clock=clock, wait=clock.wait)
    assert len(latest_lead) > 4 * 3000
    assert max(latest_lead) <= 0  # nothing is ever stamped after the moment it is sent
    assert clock() == pytest.approx(NOW_S + 60, abs=0.2)  # an hour of plant in a minute


def test_a_run_without_end_is_held_back_at_max_ahead(make_sim: MakeSim) -> None:
    clock = FakeClock(NOW_S)
    lead: list[float] = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if topic.endswith("/telemetry"):
            lead.append(max(stamps(payload)) - clock() * 1000)

    sent = run(
        make_sim(start_ms=int(NOW_S * 1000)),
        publish,
        speed=3600,
        max_messages=6_000,
        max_ahead_s=300,
        clock=clock,
        wait=clock.wait,
    )
    assert sent == 6_000  # stopped exactly at the count
    assert max(lead) <= 300_000
    assert max(lead) > 290_000  # it did get there, then went on at real time


def test_backfill_ends_at_now_reports_progress_then_goes_live(make_sim: MakeSim) -> None:
    clock = FakeClock(NOW_S)
    now_ms = int(NOW_S * 1000)
    sim = make_sim(start_ms=plan_start(now_ms, speed=1, backfill_s=2 * 3600))
    progress: list[tuple[int, int]] = []
    stats = RunStats()
    shapes: list[tuple[int, int]] = []  # (samples in the message, latest timestamp), in publishing order

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if topic.endswith("/telemetry"):
            ts = stamps(payload)
            shapes.append((len(ts), max(ts)))
            assert max(ts) <= clock() * 1000

    scenario = parse_scenario("events: [{at: 30s, machine: cnc-01, inject: shift, sensor: power, params: {size: 1}}]")
    run(
        sim,
        publish,
        speed=1,
        duration_s=60,
        backfill_s=2 * 3600,
        scenario=scenario,
        clock=clock,
        wait=clock.wait,
        progress=lambda done, total, s: progress.append((done, total)),
        stats=stats,
    )
    assert stats.live_start_ms == now_ms  # the history ends exactly at "now"
    assert progress[-1] == (2 * 3_600_000, 2 * 3_600_000)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    split = next(i for i, (_, ts) in enumerate(shapes) if ts >= now_ms)
    backfill, live = shapes[:split], shapes[split:]
    assert all(ts < now_ms for _, ts in backfill)
    assert all(now_ms <= ts < now_ms + 60_000 for _, ts in live)
    assert max(n for n, _ in backfill) >= 300  # history in batches
    assert max(n for n, _ in live) <= 2  # live: one sampling instant (plus a part finished since the last one)
    assert stats.events == 1  # the scenario event fired 30 s after the live start (checked in test_engine)


def test_as_fast_as_possible_batches_telemetry(make_sim: MakeSim) -> None:
    sizes = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if topic.endswith("/telemetry"):
            sizes.append(len(stamps(payload)))

    stats = RunStats()
    run(make_sim(), publish, speed=0, duration_s=3600, clock=lambda: NOW_S, stats=stats)
    assert max(sizes) >= 300  # batch messages of up to 300 sampling ticks (plus part samples)
    assert stats.readings > 10 * stats.telemetry
