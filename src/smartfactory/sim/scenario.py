"""Scenarios: faults on cue for a lecture, as YAML files in `simulators/scenarios/`.

```yaml
name: tool-wear
description: cnc-02 starts wearing its tool; SPC run rules catch the drift before parts go out of spec.
seed: 42                 # optional: run settings the scenario was tuned with (command-line flags win)
speed: 1
backfill: 2h             # history before "now", so SPC has learned its limits when the lecture starts
duration: 20m
auto_stops: false        # no random breakdowns, jams, tool changes: only the scripted events happen
shifts: false            # ignore the plant's shift calendar (no breaks in the middle of the demo)
events:
  - at: 2m                         # after the live start (the end of the backfill)
    machine: cnc-02                # a machine name, line/name, or the full path
    inject: tool_wear              # any fault kind: see `smartfactory simulators list`
    params: {k: 1.5}
    note: the tool starts to wear  # printed when the event fires
  - at: 8m
    machine: cnc-02
    clear: true                    # the repair: true clears every fault, or name one (clear: tool_wear)
```

Durations are seconds or text such as `90s`, `2m`, `1h30m`, `7d`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from smartfactory.errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TOP = {"name", "description", "plant", "seed", "speed", "backfill", "duration", "auto_stops", "shifts", "events"}
_EVENT = {"at", "machine", "inject", "clear", "sensor", "params", "note"}


def parse_duration(value: object) -> float:
    """Seconds from a number or text like `90`, `90s`, `2m`, `1h30m`, `7d`, `1.5h`."""
    if isinstance(value, bool):
        raise ConfigError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ConfigError(f"cannot read duration {value!r}: write seconds or e.g. 90s, 2m, 1h30m, 7d")
            seconds = sum(float(n) * _UNITS_S[u] for n, u in parts)
    else:
        raise ConfigError(f"cannot read duration {value!r}: write seconds or e.g. 90s, 2m, 1h30m, 7d")
    if seconds < 0:
        raise ConfigError(f"duration {value!r} is negative")
    return seconds


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """At `at_s` seconds after the live start, inject `fault` into `machine` (or clear faults)."""

    at_s: float
    machine: str
    action: str  # "inject" | "clear"
    fault: str | None = None
    sensor: str | None = None
    params: Mapping[str, float | str] | None = None
    note: str = ""

    def describe(self) -> str:
        what = f"inject {self.fault}" if self.action == "inject" else f"clear {self.fault or 'all faults'}"
        on = f" on {self.sensor}" if self.sensor else ""
        params = ", ".join(f"{k}={v}" for k, v in (self.params or {}).items())
        minutes, seconds = divmod(round(self.at_s), 60)
        text = f"{minutes:02d}:{seconds:02d} {self.machine}: {what}{on}" + (f" ({params})" if params else "")
        return text + (f" — {self.note}" if self.note else "")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    events: tuple[ScenarioEvent, ...]
    description: str = ""
    plant: str | None = None
    seed: int | None = None
    speed: float | None = None
    backfill_s: float | None = None
    duration_s: float | None = None
    auto_stops: bool | None = None
    shifts: bool | None = None
    source: str = ""


def resolve_scenario_file(name_or_path: str, sim_dir: Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    folder = sim_dir / "scenarios"
    for suffix in (".yaml", ".yml"):
        path = folder / f"{name_or_path}{suffix}"
        if path.is_file():
            return path
    available = sorted(p.stem for p in folder.glob("*.y*ml"))
    raise ConfigError(f"no scenario {name_or_path!r} in {folder}; available: {', '.join(available) or 'none'}")


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {path}: {exc}") from None
    return parse_scenario(text, str(path), default_name=path.stem)


def _params(raw: Any, where: str) -> dict[str, float | str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: params must be a mapping such as {{size: 3}}")
    out: dict[str, float | str] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{where}: parameter {key} must be a number or text, got {value!r}")
        if key == "duration" or str(key).endswith("_s"):
            value = parse_duration(value)
        out[str(key)] = float(value) if isinstance(value, int | float) else value
    return out


def _optional(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {kind.__name__}, got {value!r}")
    return value


def parse_scenario(text: str, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a scenario is a mapping with name, description and events")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed are {sorted(_TOP)}")
    raw_events = data.get("events") or []
    if not isinstance(raw_events, list):
        raise ConfigError(f"{source}: events must be a list")
    events = []
    for index, raw in enumerate(raw_events):
        where = f"{source} event #{index + 1}"
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: an event is a mapping with at, machine and inject or clear")
        extra = sorted(set(raw) - _EVENT)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {extra}; allowed are {sorted(_EVENT)}")
        if "at" not in raw or "machine" not in raw:
            raise ConfigError(f"{where}: give at (e.g. 2m) and machine (e.g. cnc-02)")
        if ("inject" in raw) == ("clear" in raw):
            raise ConfigError(f"{where}: give exactly one of inject: FAULT or clear: true|FAULT")
        fault: str | None
        if "inject" in raw:
            action, fault = "inject", str(raw["inject"])
        else:
            action = "clear"
            fault = None if raw["clear"] is True else str(raw["clear"])
        events.append(
            ScenarioEvent(
                at_s=parse_duration(raw["at"]),
                machine=str(raw["machine"]),
                action=action,
                fault=fault,
                sensor=None if raw.get("sensor") is None else str(raw["sensor"]),
                params=_params(raw.get("params"), where),
                note=str(raw.get("note", "")),
            )
        )
    events.sort(key=lambda e: e.at_s)
    seed = _optional(data, "seed", int, source)
    speed = _optional(data, "speed", float, source)
    if speed is not None and speed < 0:
        raise ConfigError(f"{source}: speed must be ≥ 0")
    return Scenario(
        name=str(data.get("name", default_name)),
        events=tuple(events),
        description=str(data.get("description", "")).strip(),
        plant=_optional(data, "plant", str, source),
        seed=seed,
        speed=speed,
        backfill_s=None if data.get("backfill") is None else parse_duration(data["backfill"]),
        duration_s=None if data.get("duration") is None else parse_duration(data["duration"]),
        auto_stops=_optional(data, "auto_stops", bool, source),
        shifts=_optional(data, "shifts", bool, source),
        source=source,
    )


def scenario_lines(scenario: Scenario | None) -> list[str]:
    """What a scenario will do, for the console: its name, description and timeline."""
    if scenario is None:
        return []
    lines = [f"scenario {scenario.name}: {scenario.description}".rstrip(": ")]
    lines.extend(f"  at {event.describe()}" for event in scenario.events)
    return lines
