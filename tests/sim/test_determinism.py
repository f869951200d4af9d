"""Same seed ⇒ byte-identical messages, whatever the pacing; a different seed ⇒ different data."""

from __future__ import annotations

import json

import pytest

from smartfactory.sim.engine import Simulation
from smartfactory.sim.records import Record, StateRec
from smartfactory.sim.runner import run
from smartfactory.wire import parse_ts
from tests.sim.conftest import HOUR, MIN, T0, MakeSim

Sent = list[tuple[str, bytes, bool]]


class FakeClock:
    """Wall-clock seconds that only move when the runner waits."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def wait(self, seconds: float) -> bool:
        self.now_s += seconds
        return False


def publish_into(sent: Sent):  # type: ignore[no-untyped-def]
    return lambda topic, payload, retain: sent.append((topic, payload, retain))


def fast_run(sim: Simulation, duration_s: float) -> Sent:
    sent: Sent = []
    run(sim, publish_into(sent), speed=0, duration_s=duration_s, clock=lambda: (T0 + 10 * HOUR) / 1000)
    return sent


def test_the_same_seed_gives_byte_identical_messages(make_sim: MakeSim) -> None:
    first = fast_run(make_sim(seed=123, start_ms=T0), 2 * 3600)
    second = fast_run(make_sim(seed=123, start_ms=T0), 2 * 3600)
    assert len(first) > 3000
    assert first == second


def test_another_seed_gives_other_readings(make_sim: MakeSim) -> None:
    first = fast_run(make_sim(seed=1), 600)
    other = fast_run(make_sim(seed=2), 600)
    assert [t for t, _, _ in first if "telemetry" in t] == [t for t, _, _ in other if "telemetry" in t]
    assert first != other


@pytest.mark.parametrize("step_ms", [777, 300_000])
def test_records_do_not_depend_on_how_time_is_chopped(make_sim: MakeSim, step_ms: int) -> None:
    # from 09:00 to 11:00: odd steps cut through ticks, cycles and stops; 5-minute steps end exactly where the
    # 10:00-10:30 lunch break starts and ends
    start, end = T0 + HOUR, T0 + 3 * HOUR
    coarse, fine = make_sim(seed=5, start_ms=start), make_sim(seed=5, start_ms=start)
    whole: list[Record] = coarse.advance(end)
    pieces: list[Record] = []
    t = start
    while t < end:
        t = min(end, t + step_ms)
        pieces.extend(fine.advance(t))
    assert pieces == whole
    assert {(r.state, r.reason) for r in whole if isinstance(r, StateRec)} >= {("planned", "break"), ("running", None)}


def samples_of(sent: Sent) -> dict[tuple[str, int], dict[str, float]]:
    """Every (machine topic, ts) → values, whether it came inline or in a batch."""
    out: dict[tuple[str, int], dict[str, float]] = {}
    for topic, payload, _ in sent:
        if not topic.endswith("/telemetry"):
            continue
        body = json.loads(payload)
        for sample in body.get("batch", [body]):
            ts = sample["ts"]
            if isinstance(ts, str):
                ts = parse_ts(ts)
            out[(topic, ts)] = sample["values"]
    return out


def test_paced_and_as_fast_as_possible_runs_carry_the_same_readings(make_sim: MakeSim) -> None:
    fast = fast_run(make_sim(seed=9), 10 * MIN / 1000)
    clock = FakeClock((T0 + 10 * HOUR) / 1000)
    paced: Sent = []
    run(make_sim(seed=9), publish_into(paced), speed=20, duration_s=600, clock=clock, wait=clock.wait)
    assert samples_of(paced) == samples_of(fast)
    assert len(samples_of(fast)) > 1500
    other = [(t, p) for t, p, _ in paced if not t.endswith("/telemetry")]
    assert other == [(t, p) for t, p, _ in fast if not t.endswith("/telemetry")]  # states, parts, events


@pytest.mark.parametrize("speed", [1.0, 60.0])
def test_paced_runs_with_the_same_seed_are_identical(make_sim: MakeSim, speed: float) -> None:
    runs = []
    for _ in range(2):
        clock = FakeClock((T0 + 10 * HOUR) / 1000)
        sent: Sent = []
        run(make_sim(seed=4), publish_into(sent), speed=speed, duration_s=120, clock=clock, wait=clock.wait)
        runs.append(sent)
    assert runs[0] == runs[1]
    assert sum(1 for t, _, _ in runs[0] if t.endswith("/telemetry")) >= 4 * 100
