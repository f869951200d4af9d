"""Plant configs: which machines of which types stand where, and when the plant works. TOML in
`simulators/plants/`.

```toml
[plant]                       # the top of the ISA-95 hierarchy
name = "Acme demo plant"
enterprise = "acme"
site = "plant1"

[calendar]                    # shifts and breaks (kpi.ShiftCalendar); leave out to plan every hour
timezone = "UTC"
[[calendar.shifts]]
name = "early"
start = "06:00"
end = "14:00"
breaks = [{start = "10:00", end = "10:30", name = "lunch"}]

[oee]                         # kpi.OeeSettings
small_stop_s = 300

[types.cnc_mill.states]       # defaults for every machine of a type (sensors, quality, states, ideal_cycle_s)
mtbf_s = 28800

[[machines]]
area = "machining"
line = "line-1"
name = "cnc-01"
type = "cnc_mill"
ideal_cycle_s = 60            # optional: the OEE ideal cycle time of this machine
sample_interval_s = 5         # optional: sample the sensors every 5 s instead of the type's interval
[machines.sensors.spindle_temp]   # optional: change any Sensor field
nominal = 41.0
[machines.quality.diameter]       # optional: change any Characteristic field (target, lsl, usl, sd, ...)
usl = 25.02
[machines.states]                 # optional: change any StateModel field (mtbf_s, mttr_s, ...)
mttr_s = 900
```

Unknown keys are errors, so a typo does not pass unnoticed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from smartfactory.errors import ConfigError, WireError
from smartfactory.kpi.calendar import ShiftCalendar
from smartfactory.kpi.model import OeeSettings
from smartfactory.sim.machine import StateModel
from smartfactory.wire import MachinePath

_TOP = {"plant", "calendar", "oee", "types", "machines"}
_PLANT = {"name", "enterprise", "site"}
_OVERRIDES = {"sensors", "quality", "states", "ideal_cycle_s", "sample_interval_s"}
_MACHINE = {"area", "line", "name", "type"} | _OVERRIDES


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """One machine of the plant: where it stands, its type and what the plant file changes about it."""

    path: MachinePath
    type: str
    sensors: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)
    ideal_cycle_s: float | None = None
    sample_interval_s: float | None = None


@dataclass(frozen=True, slots=True)
class Plant:
    name: str
    machines: tuple[MachineSpec, ...]
    calendar: ShiftCalendar | None = None
    oee: OeeSettings = field(default_factory=OeeSettings)
    source: str = ""


def resolve_plant_file(name_or_path: str, sim_dir: Path) -> Path:
    """`simulators/plants/NAME.toml`, or the path itself when it names a .toml file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" and candidate.is_file():
        return candidate
    path = sim_dir / "plants" / f"{name_or_path}.toml"
    if not path.is_file():
        available = sorted(p.stem for p in (sim_dir / "plants").glob("*.toml"))
        raise ConfigError(f"no plant {name_or_path!r} (looked for {path}); available: {', '.join(available) or 'none'}")
    return path


def load_plant(path: Path) -> Plant:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read plant file {path}: {exc}") from None
    return parse_plant(text, str(path))


def _only(data: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table, got {data!r}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed are {sorted(allowed)}")
    return data


def _tables(data: Any, where: str) -> dict[str, dict[str, Any]]:
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise ConfigError(f"{where} must be tables of settings, e.g. [{where}.NAME] key = value")
    return {str(k): dict(v) for k, v in data.items()}


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Type defaults overlaid by the machine's own settings (nested tables merged one level deep)."""
    out: dict[str, Any] = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            inner = {k: dict(v) if isinstance(v, Mapping) else v for k, v in out[key].items()}
            for sub, sub_value in value.items():
                if isinstance(sub_value, Mapping) and isinstance(inner.get(sub), Mapping):
                    inner[sub] = {**inner[sub], **sub_value}
                else:
                    inner[sub] = sub_value
            out[key] = inner
        else:
            out[key] = value
    return out


def parse_plant(text: str, source: str = "<plant>") -> Plant:
    """A plant from TOML text; `ConfigError` naming the file and the machine when something is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    _only(data, _TOP, source)
    top = _only(data.get("plant", {}), _PLANT, f"{source} [plant]")
    calendar = None
    if "calendar" in data:
        try:
            calendar = ShiftCalendar.from_mapping(data["calendar"])
        except ConfigError as exc:
            raise ConfigError(f"{source} [calendar]: {exc}") from None
    oee_data = _only(data.get("oee", {}), {"small_stop_s", "startup_window_s"}, f"{source} [oee]")
    oee = OeeSettings(**{k: float(v) for k, v in oee_data.items()})
    types = data.get("types", {})
    if not isinstance(types, Mapping):
        raise ConfigError(f"{source}: [types] must be a table of machine types")
    for type_name, defaults in types.items():
        _only(defaults, _OVERRIDES, f"{source} [types.{type_name}]")
    machines: list[MachineSpec] = []
    seen: set[str] = set()
    entries = data.get("machines", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: machines must be an array of tables ([[machines]])")
    for index, entry in enumerate(entries):
        where = f"{source} machine #{index + 1}"
        _only(entry, _MACHINE, where)
        try:
            path = MachinePath(
                str(top.get("enterprise", "acme")),
                str(top.get("site", "plant1")),
                str(entry["area"]),
                str(entry["line"]),
                str(entry["name"]),
            )
            type_name = str(entry["type"])
        except KeyError as exc:
            raise ConfigError(f"{where} lacks {exc.args[0]!r} (give area, line, name and type)") from None
        except WireError as exc:
            raise ConfigError(f"{where}: {exc.detail}") from None
        if str(path) in seen:
            raise ConfigError(f"{where}: {path} appears twice; machine paths must be unique")
        seen.add(str(path))
        merged = _merge(types.get(type_name, {}), {k: v for k, v in entry.items() if k in _OVERRIDES})
        ideal, interval = merged.get("ideal_cycle_s"), merged.get("sample_interval_s")
        for key, value in (("ideal_cycle_s", ideal), ("sample_interval_s", interval)):
            if value is not None and not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
                raise ConfigError(f"{where}: {key} must be a positive number of seconds, got {value!r}")
        machines.append(
            MachineSpec(
                path,
                type_name,
                sensors=_tables(merged.get("sensors"), "sensors"),
                quality=_tables(merged.get("quality"), "quality"),
                states=dict(_only(merged.get("states", {}), set(_state_fields()), f"{where} states")),
                ideal_cycle_s=None if ideal is None else float(ideal),
                sample_interval_s=None if interval is None else float(interval),
            )
        )
    if not machines:
        raise ConfigError(f"{source} defines no [[machines]]")
    return Plant(str(top.get("name", Path(source).stem)), tuple(machines), calendar, oee, source)


def _state_fields() -> list[str]:
    return [f.name for f in fields(StateModel)]
