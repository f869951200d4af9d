"""A foreign OPC UA client (asyncua's own `Client`, not our bridge) against the simulator's server, started the way
`smartfactory simulate --no-mqtt --opcua-endpoint` starts it (`services.start_simulator`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua

from smartfactory.opcua.units import unit_id
from smartfactory.services import RunningSimulator, start_simulator
from smartfactory.settings import load_settings

NS = "urn:smartfactory:plant"
STATES = {"running", "idle", "setup", "down", "planned"}


@pytest.fixture
def simulator(endpoint: str, tmp_path: Path) -> Iterator[RunningSimulator]:
    settings = load_settings(data_dir=tmp_path)
    running = start_simulator(settings, speed=30, opcua_endpoint=endpoint, mqtt=False)
    yield running
    running.stop()


async def _browse(client: Client, ns: int, *names: str) -> ua.Node:
    return await client.nodes.objects.get_child([f"{ns}:{name}" for name in names])


def test_a_foreign_client_browses_machines_units_ranges_and_changing_values(
    simulator: RunningSimulator, endpoint: str
) -> None:
    machine = simulator.simulation.machines[0]  # acme/plant1/machining/line-1/cnc-01 in the default plant
    path, info = machine.path, machine.info
    quality = next(name for name, s in info.signals.items() if s.kind == "quality" and s.lsl is not None)
    process = next(name for name, s in info.signals.items() if s.kind == "process")

    async def scenario() -> dict[str, object]:
        async with Client(endpoint) as client:
            ns = await client.get_namespace_index(NS)
            obj = await _browse(client, ns, path.enterprise, path.site, path.area, path.line, path.machine)
            names = {(await child.read_browse_name()).Name for child in await obj.get_children()}
            var = await obj.get_child(f"{ns}:{quality}")
            props = {(await p.read_browse_name()).Name: await p.read_value() for p in await var.get_properties()}
            proc = await obj.get_child(f"{ns}:{process}")
            proc_props = {(await p.read_browse_name()).Name: await p.read_value() for p in await proc.get_properties()}
            stamps: list[object] = []
            values: list[object] = []
            deadline = time.monotonic() + 30
            while len(set(stamps)) < 3 and time.monotonic() < deadline:
                value = await proc.read_data_value(raise_on_bad_status=False)
                if value.StatusCode.is_good() and value.SourceTimestamp not in stamps:
                    stamps.append(value.SourceTimestamp)
                    values.append(value.Value.Value)
                await asyncio.sleep(0.05)
            state = None
            while state not in STATES and time.monotonic() < deadline:
                current = await (await obj.get_child(f"{ns}:State")).read_data_value(raise_on_bad_status=False)
                state = current.Value.Value if current.StatusCode.is_good() else None  # none yet: waiting for data
                await asyncio.sleep(0.05)
            return {
                "names": names,
                "props": props,
                "proc_props": proc_props,
                "stamps": stamps,
                "values": values,
                "state": state,
            }

    seen = asyncio.run(scenario())
    assert set(info.signals) | {"State", "StateReason", "Status", "PartId", "Verdict", "PartsTotal"} <= seen["names"]
    props = seen["props"]
    assert isinstance(props, dict)
    units = props["EngineeringUnits"]
    assert units.DisplayName.Text == info.signals[quality].unit
    assert units.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
    assert (props["EURange"].Low, props["EURange"].High) == (info.signals[quality].lsl, info.signals[quality].usl)
    assert props["SignalKind"] == "quality"
    proc_props = seen["proc_props"]
    assert isinstance(proc_props, dict)
    assert proc_props["EngineeringUnits"].DisplayName.Text == info.signals[process].unit
    assert "EURange" not in proc_props  # a process signal has no spec limits in its birth: no range is invented
    stamps = seen["stamps"]
    assert isinstance(stamps, list)
    assert len(set(stamps)) >= 3
    assert stamps == sorted(stamps)
    assert all(isinstance(v, float) for v in seen["values"])
    assert seen["state"] in STATES


def test_the_unit_id_of_a_unece_code_is_its_characters_packed() -> None:
    # OPC 10000-8, EUInformation: "MMT" (millimetre) is 0x4D4D54
    assert unit_id("MMT") == 0x4D4D54 == 5066068
    assert unit_id("CEL") == 4408652
    with pytest.raises(ValueError, match="1 to 4"):
        unit_id("TOOLONG")
