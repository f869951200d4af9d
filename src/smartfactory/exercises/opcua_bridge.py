"""Exercise opcua-bridge: a plant that speaks only OPC UA, bridged onto MQTT into the store; what arrived, and
what an OPC UA server cannot give a client that was not there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smartfactory.exercises.base import Exercise, Prepared, machine_matches
from smartfactory.exercises.grading import Item, close_to, missing, number
from smartfactory.exercises.layout import Manifest
from smartfactory.exercises.produce import Plan, Produced
from smartfactory.storage import Storage, open_store

TRUTH_FILE = "simulator-truth.json"
MACHINES = ("cnc-01", "cnc-02", "imm-01")
DURATION = "10m"
SPEED = 5
MISSED_TOLERANCE_S = 2.0


class OpcUaBridgeExercise(Exercise):
    name = "opcua-bridge"
    title = "Bridge an OPC UA plant onto MQTT"
    topic = "Interoperability: OPC UA address space and subscriptions, an edge gateway, no history for late clients"
    needs = "mosquitto (or `smartfactory broker`), the asyncua package, four terminals; about 5 minutes"

    def _machine(self, seed: int) -> str:
        rng = self.rng(seed)
        return MACHINES[rng.randrange(len(MACHINES))]

    answers = (
        ("machines", "0", "machines the bridge found (its --write-nodes line: N machines, M nodes)"),
        ("parts_made", "0", "parts the machine made in the run (the simulator's truth file)"),
        ("parts_stored", "0", "parts of the machine in the store"),
        ("missed_s", "0.0", "simulated seconds from the run's start to the machine's first stored reading"),
    )

    def plan(self, seed: int) -> Plan | None:
        return None

    def prepare(self, seed: int, folder: Path, produced: Produced | None) -> Prepared:
        port = 20_000 + seed % 20_000
        facts = {
            "mqtt_url": f"mqtt://127.0.0.1:{port}",
            "endpoint": f"opc.tcp://127.0.0.1:{port + 20_000}",
            "client_id": f"opcua-bridge-{seed}",
            "machine": self._machine(seed),
            "duration": DURATION,
            "speed": SPEED,
            "truth_file": str(folder / TRUTH_FILE),
        }
        return Prepared(facts, {"truth_file": TRUTH_FILE, "machine": self._machine(seed)})

    def check(self, folder: Path, manifest: Manifest, truth: dict[str, Any], answers: dict[str, Any]) -> list[Item]:
        path = folder / str(truth["truth_file"])
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return [Item("simulator_run", False, None, f"no simulator truth at {path}: run the simulate command "
                                                       "of the sheet to its end (it writes this file)")]  # fmt: skip
        if run.get("seed") != manifest.seed:
            return [Item("simulator_run", False, run.get("seed"), f"the simulator ran with another seed than the "
                                                                  f"sheet's {manifest.seed}")]  # fmt: skip
        machine = str(truth["machine"])
        made = next((int(r["total_count"]) for r in run.get("rows", []) if r.get("level") == "machine"
                     and r.get("shift") is None and machine_matches(str(r.get("name")), machine)), None)  # fmt: skip
        store = open_store(manifest.store)
        try:
            infos = store.read_machine_info()
            path_of = next((m for m in infos if machine_matches(m, machine)), None)
            parts = [] if path_of is None else store.read_parts(machine=path_of)
            first = _first_reading(store, path_of)
        finally:
            store.close()
        items: list[Item] = []
        if not infos:
            why = "the store holds no machine at all: was the bridge running into this ingestion?"
            return [Item("machines", False, answers.get("machines"), why)]
        items.append(_exact("machines", answers.get("machines"), len(infos),
                            "the machines whose births the bridge published"))  # fmt: skip
        if made is None:
            items.append(Item("parts_made", False, answers.get("parts_made"), f"the truth file has no row for "
                                                                              f"{machine}"))  # fmt: skip
        else:
            items.append(_exact("parts_made", answers.get("parts_made"), made, f"the parts {machine} made"))
        stored = len(parts)
        explain = f"the parts of {machine} in the store" + (
            f" ({made - stored} of {made} made never reached it)" if made is not None and stored < made else ""
        )
        items.append(_exact("parts_stored", answers.get("parts_stored"), stored, explain))
        if first is None:
            items.append(Item("missed_s", False, answers.get("missed_s"), f"no reading of {machine} is stored"))
        elif answers.get("missed_s") is None:
            items.append(missing("missed_s", "seconds, e.g. 12.5"))
        else:
            reference = (first - int(run["since_ms"])) / 1000.0
            items.append(close_to("missed_s", answers.get("missed_s"), reference, MISSED_TOLERANCE_S, " s",
                                  "the first stored reading's time minus the truth file's since_ms"))  # fmt: skip
        return items


def _first_reading(store: Storage, machine: str | None) -> int | None:
    if machine is None:
        return None
    first: int | None = None
    for chunk in store.iter_readings(machine=machine):
        if chunk:
            ts = min(r.ts_ms for r in chunk)
            first = ts if first is None else min(first, ts)
    return first


def _exact(name: str, given: Any, reference: int, what: str) -> Item:
    if given is None:
        return missing(name, "a count")
    value = number(given)
    if value == reference:
        return Item(name, True, given, f"that is {what}", "exact")
    return Item(name, False, given, f"not {what}: that is {reference}" if value is not None else "not a number",
                "exact")  # fmt: skip
