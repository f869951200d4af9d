"""Quick detection figures of the live monitor (the full scorecard is `smartfactory report detection`): several
faults injected at once, on different series, into the default plant, `--seeds` runs at --speed 0 in-process.

`python -m tests.ingest.detect_quick --seeds 20` prints, per fault, the delay from onset to the first alarm on the
signal it affects (seconds; parts for part characteristics) and, for tool wear, whether it came before the first
scrap part.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from smartfactory.ingest.monitor import load_limits_file
from smartfactory.plant import load_plant, resolve_plant_file
from smartfactory.sim.engine import Action, Simulation
from smartfactory.sim.loader import discover
from tests.ingest.plant_replay import SIMULATORS, replay

ONSET_S = 40 * 60.0
FAULTS: list[tuple[str, str, str | None, dict[str, float | str], str, float | None]] = [
    # name, machine, sensor, params, affected series suffix, seconds per point (None: a 1 s reading)
    ("3σ step fill_weight", "filler-01", "fill_weight", {"sigmas": 3}, "filler-01/telemetry/fill_weight", 1.04),
    ("3σ step diameter", "cnc-01", "diameter", {"sigmas": 3}, "cnc-01/telemetry/diameter", 58.3),
    ("1σ step part_weight", "imm-01", "part_weight", {"sigmas": 1}, "imm-01/telemetry/part_weight", 25.9),
    (
        "3σ shift conveyor_speed (1 Hz)",
        "filler-01",
        "conveyor_speed",
        {"sigmas": 3},
        "filler-01/telemetry/conveyor_speed",
        None,
    ),
    ("stuck spindle_temp", "cnc-01", "spindle_temp", {}, "cnc-01/telemetry/spindle_temp", None),
    ("silent motor_current", "filler-01", "motor_current", {"prob": 1.0}, "filler-01/telemetry/motor_current", None),
    ("tool wear k=2 (diameter)", "cnc-02", None, {"k": 2}, "cnc-02/telemetry/diameter", 58.3),
]
KIND = {"3σ step fill_weight": "shift", "3σ step diameter": "shift", "1σ step part_weight": "shift",
        "3σ shift conveyor_speed (1 Hz)": "shift", "stuck spindle_temp": "stuck", "silent motor_current": "dropout",
        "tool wear k=2 (diameter)": "tool_wear"}  # fmt: skip


def inject(sim: Simulation, start: int) -> None:
    at = start + round(ONSET_S * 1000)
    for name, machine, sensor, params, _, _ in FAULTS:
        sim.at(at, Action(sim.find(machine), "inject", KIND[name], sensor, dict(params)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.ingest.detect_quick", description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=101)
    parser.add_argument("--minutes-after", type=float, default=50.0)
    parser.add_argument("--set", action="append", default=[], help="monitor keyword=value")
    args = parser.parse_args(argv)
    plant = load_plant(resolve_plant_file("default", SIMULATORS))
    catalog = discover(SIMULATORS)
    settings: dict[str, Any] = {"configured": load_limits_file(SIMULATORS / "limits" / "default.toml")}
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = float(value) if "." in value else int(value) if value.isdigit() else value
    delays: dict[str, list[float]] = {f[0]: [] for f in FAULTS}
    missed: dict[str, int] = {f[0]: 0 for f in FAULTS}
    before_scrap = 0
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        result = replay(plant, catalog, seed=seed, hours=(ONSET_S / 60 + args.minutes_after) / 60, monitor=settings,
                        inject=inject)  # fmt: skip
        onset = result.start_ms + round(ONSET_S * 1000)
        for name, _, _, _, suffix, _ in FAULTS:
            hit = result.first(suffix, onset)
            if hit is None:
                missed[name] += 1
                continue
            delay = (hit.alarm.ts_ms - onset) / 1000.0
            delays[name].append(delay)
            if name.startswith("tool wear"):
                scrap = [t for t in result.scrap.get(next(p for p in result.paths if p.endswith("cnc-02")), [])
                         if t >= onset]  # fmt: skip
                if not scrap or hit.alarm.ts_ms < min(scrap):
                    before_scrap += 1
    table = {}
    for name, _, _, _, _, per in FAULTS:
        d = sorted(delays[name])
        row: dict[str, Any] = {"detected": f"{len(d)}/{args.seeds}"}
        if d:
            row["median_s"] = round(statistics.median(d), 1)
            row["p90_s"] = round(d[min(len(d) - 1, int(0.9 * len(d)))], 1)
            if per:
                row["median_points"] = round(statistics.median(d) / per, 1)
        table[name] = row
    table["tool wear k=2 (diameter)"]["before_first_scrap"] = f"{before_scrap}/{args.seeds}"
    print(json.dumps({"settings": {k: v for k, v in settings.items() if k != "configured"}, "faults": table},
                     indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
