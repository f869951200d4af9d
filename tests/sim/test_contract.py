"""The contract every discovered simulator (simulators/ and the entry-point group) must keep.

For each machine type: every message it makes is valid wire format (checked with the pydantic models in
`wire` and with the ingestion decoder), every declared sensor and characteristic shows up, verdicts agree with
the spec limits, states and reasons are the codes OEE knows, the same seed gives the same bytes, and the
declaration is sane (LSL < target < USL, a sensor's nominal inside its limits where it declares any), and the
birth message describes every signal (kind, unit, spec limits) as the type declares it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from smartfactory.ingest.decode import Decoder
from smartfactory.kpi.codes import REASONS, State
from smartfactory.model import DeadLetter
from smartfactory.sim.checks import check_machine_type
from smartfactory.sim.encode import status_payload
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog, discover
from smartfactory.sim.runner import run
from smartfactory.wire import (
    EventPayload,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    StatePayload,
    StatusPayload,
    Topic,
)
from tests.sim.conftest import SIMULATORS, T0, one_machine_plant
from tests.sim.test_determinism import FakeClock

MODELS: dict[MessageClass, type[BaseModel]] = {
    MessageClass.TELEMETRY: MachineTelemetry,
    MessageClass.STATE: StatePayload,
    MessageClass.QUALITY: QualityPayload,
    MessageClass.EVENT: EventPayload,
    MessageClass.STATUS: StatusPayload,
}
NOW_S = (T0 + 48 * 3_600_000) / 1000
DISCOVERED = discover(SIMULATORS)
TYPES = sorted(DISCOVERED.types)


def test_the_built_in_plant_has_what_the_issue_asks_for() -> None:
    assert not DISCOVERED.problems
    assert {"cnc_mill", "injection_moulder", "filler"} <= set(TYPES)


def simulate(catalog: Catalog, type_name: str, seed: int, *, paced: bool = False) -> list[tuple[str, bytes, bool]]:
    cls = catalog.get(type_name).cls
    hours = max(2.0, 40 * cls.ideal_cycle_s / 3600)  # long enough for dozens of parts and some stops
    sim = Simulation(one_machine_plant(type_name), catalog, seed=seed, start_ms=T0)
    # failures, jams and changeovers a hundred times as often, so that every state shows up in a short run
    for placed in sim.machines:
        model = placed.run.model
        placed.run.to_fail = placed.run.to_fail / 100 if model.mtbf_s else placed.run.to_fail
        placed.run.to_stop = placed.run.to_stop / 100 if model.small_stop_every_s else placed.run.to_stop
    sent: list[tuple[str, bytes, bool]] = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        sent.append((topic, payload, retain))

    if paced:
        clock = FakeClock(NOW_S)
        run(sim, publish, speed=30, duration_s=600, clock=clock, wait=clock.wait)
    else:
        run(sim, publish, speed=0, duration_s=hours * 3600, clock=lambda: NOW_S)
    return sent


@pytest.mark.parametrize("type_name", TYPES)
def test_declaration_is_sane(type_name: str) -> None:
    cls = DISCOVERED.get(type_name).cls
    assert check_machine_type(cls) == []
    for name, char in cls.quality.items():
        if char.lsl is not None and char.usl is not None:
            assert char.lsl < char.target < char.usl, name
    for name, sensor in cls.sensors.items():  # sensors may declare limits too (duck-typed, as the dashboard reads)
        lsl, usl = getattr(sensor, "lsl", None), getattr(sensor, "usl", None)
        if lsl is not None:
            assert lsl < sensor.nominal, name
        if usl is not None:
            assert sensor.nominal < usl, name
    assert (cls.__doc__ or "").strip(), "give the class a one-line docstring: `simulators list` shows it"


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("paced", [False, True], ids=["batch", "live"])
def test_every_message_is_valid_wire_format(type_name: str, paced: bool) -> None:
    cls = DISCOVERED.get(type_name).cls
    sent = simulate(DISCOVERED, type_name, seed=3, paced=paced)
    decoder = Decoder(max_future_s=1e9, max_age_s=1e9)
    seen_sensors: set[str] = set()
    states: list[dict[str, Any]] = []
    parts = 0
    for topic, payload, retain in sent:
        parsed = Topic.parse(topic)
        assert parsed.cls in MODELS, topic
        MODELS[parsed.cls].model_validate_json(payload)  # raises on any breach of the schema
        assert retain == (parsed.cls in (MessageClass.STATE, MessageClass.STATUS))
        decoded = decoder.decode(topic, payload, int(NOW_S * 1000))
        assert not isinstance(decoded, DeadLetter), decoded
        body = json.loads(payload)
        if parsed.cls is MessageClass.TELEMETRY:
            for sample in body.get("batch", [body]):
                seen_sensors |= set(sample["values"])
            assert set(body["units"]) <= set(cls.sensors) | set(cls.quality)
        elif parsed.cls is MessageClass.STATE:
            states.append(body)
        elif parsed.cls is MessageClass.QUALITY:
            parts += 1
            outside = [
                k
                for k, v in body["measurements"].items()
                if (q := cls.quality.get(k)) is not None
                and ((q.lsl is not None and v < q.lsl) or (q.usl is not None and v > q.usl))
            ]
            assert body["verdict"] == ("scrap" if outside else "good")
    if not paced:
        assert seen_sensors == set(cls.sensors) | set(cls.quality)
        assert parts >= 20 or not cls.quality
    for state in states:
        code = State(state["state"])
        if code in (State.DOWN, State.SETUP, State.PLANNED) and state.get("reason") is not None:
            assert state["reason"] in REASONS[code], state


@pytest.mark.parametrize("type_name", TYPES)
def test_the_same_seed_gives_the_same_bytes(type_name: str) -> None:
    assert simulate(DISCOVERED, type_name, seed=11) == simulate(DISCOVERED, type_name, seed=11)


@pytest.mark.parametrize("type_name", TYPES)
def test_the_birth_describes_every_signal_of_the_type(type_name: str) -> None:
    cls = DISCOVERED.get(type_name).cls
    sim = Simulation(one_machine_plant(type_name), DISCOVERED, seed=1, start_ms=T0)
    (placed,) = sim.machines
    info = StatusPayload.model_validate_json(status_payload("online", T0, placed.info)).info
    assert info is not None
    assert (info.machine_type, info.ideal_cycle_s, info.sample_interval_s) == (
        type_name,
        cls.ideal_cycle_s,
        cls.sample_interval_s,
    )
    assert set(info.signals) == set(cls.sensors) | set(cls.quality)
    for name, char in cls.quality.items():
        signal = info.signals[name]
        assert (signal.kind, signal.unit, signal.lsl, signal.usl, signal.target) == (
            "quality",
            char.unit,
            char.lsl,
            char.usl,
            char.target,
        )
    for name, sensor in cls.sensors.items():
        assert info.signals[name].kind == ("count" if sensor.count else "process")
        assert info.signals[name].decimals == sensor.decimals
