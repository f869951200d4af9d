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

Durations are seconds or text such as `90s`, `2m`, `1h30m`, `7d` (`smartfactory.durations`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import Field, PlainValidator, ValidationError, ValidationInfo, field_validator, model_validator

from smartfactory.configfile import FileModel, NonNegative, Where, config_error, dotted
from smartfactory.durations import parse_duration
from smartfactory.errors import ConfigError


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


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def _param(value: object) -> float | str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a number or text, got {value!r}")
    return float(value) if isinstance(value, int | float) else value


def _clear(value: object) -> bool | str:
    if value is True or isinstance(value, str):
        return value
    raise ValueError(f"clear is true (every fault) or the name of one fault, not {value!r}")


Duration = Annotated[float, PlainValidator(_duration)]


class EventEntry(FileModel):
    """One entry of `events:` as written."""

    hint: ClassVar[str] = "an event has at (e.g. 2m), machine (e.g. cnc-02) and inject: FAULT or clear: true|FAULT"

    at: Duration
    machine: str
    inject: str | None = None
    clear: Annotated[bool | str, PlainValidator(_clear)] | None = None
    sensor: str | None = None
    params: dict[str, Annotated[float | str, PlainValidator(_param)]] = Field(default_factory=dict)
    note: str = ""

    @field_validator("params", mode="before")
    @classmethod
    def _no_params(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("params")
    @classmethod
    def _durations(cls, params: dict[str, float | str]) -> dict[str, float | str]:
        """`duration` and every `*_s` parameter may be written as text such as 12m."""
        return {k: _duration(v) if k == "duration" or k.endswith("_s") else v for k, v in params.items()}

    @model_validator(mode="after")
    def _one_action(self) -> EventEntry:
        if (self.inject is None) == (self.clear is None):
            raise ValueError("give exactly one of inject: FAULT or clear: true|FAULT")
        return self

    def to_event(self) -> ScenarioEvent:
        fault = self.inject if self.inject is not None else None if self.clear is True else str(self.clear)
        action = "inject" if self.inject is not None else "clear"
        return ScenarioEvent(self.at, self.machine, action, fault, self.sensor, dict(self.params), self.note)


class ScenarioFile(FileModel):
    """A scenario file as written (see the module docstring)."""

    name: str | None = None
    description: str = ""
    plant: str | None = None
    seed: int | None = None
    speed: NonNegative | None = None
    backfill: Duration | None = None
    duration: Duration | None = None
    auto_stops: bool | None = None
    shifts: bool | None = None
    events: list[EventEntry] = Field(default_factory=list)

    @field_validator("events", "description", mode="before")
    @classmethod
    def _empty(cls, value: Any, info: ValidationInfo) -> Any:
        """`events:` or `description:` with nothing after them."""
        return ([] if info.field_name == "events" else "") if value is None else value


def _where(source: str) -> Where:
    def where(loc: tuple[str | int, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "events" and isinstance(loc[1], int):
            return f"{source} event #{loc[1] + 1}" + (f" [{dotted(loc[2:])}]" if loc[2:] else "")
        return f"{source} [{dotted(loc)}]" if loc else source

    return where


def parse_scenario(text: str, source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """A scenario from YAML text; `ConfigError` naming the file and the event when something is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a scenario is a mapping with name, description and events")
    try:
        document = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source, ScenarioFile, _where(source)) from None
    return Scenario(
        name=document.name if document.name is not None else default_name,
        events=tuple(sorted((e.to_event() for e in document.events), key=lambda e: e.at_s)),
        description=document.description.strip(),
        plant=document.plant,
        seed=document.seed,
        speed=document.speed,
        backfill_s=document.backfill,
        duration_s=document.duration,
        auto_stops=document.auto_stops,
        shifts=document.shifts,
        source=source,
    )


def scenario_lines(scenario: Scenario | None) -> list[str]:
    """What a scenario will do, for the console: its name, description and timeline."""
    if scenario is None:
        return []
    lines = [f"scenario {scenario.name}: {scenario.description}".rstrip(": ")]
    lines.extend(f"  at {event.describe()}" for event in scenario.events)
    return lines
