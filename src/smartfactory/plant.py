"""The plant file as pure data: which machines of which types stand where, and when the plant works.

A plant file is TOML in `simulators/plants/`. Readers (the CLI's `oee`, the dashboard) learn the calendar and
the OEE settings from it without running a simulator; the simulator reads the rest. Every table is a pydantic
model with `extra="forbid"`, so a typo is an error that names the file, the place and what is allowed.

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
days = ["mon", "tue", "wed", "thu", "fri"]      # optional: every day
breaks = [{start = "10:00", end = "10:30", name = "lunch"}]

[oee]                         # kpi.OeeSettings
small_stop_s = 300

[types.cnc_mill.state_model]  # defaults for every machine of a type (sensors, quality, state_model, ...)
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
[machines.state_model]            # optional: change any StateModel field (mtbf_s, mttr_s, ...)
mttr_s = 900
```

`[machines.states]` (the older name of `state_model`) is still read. The same module holds the limits file
(configured SPC control limits per series). The file models share `smartfactory.configfile` with the scenario
files. Pure: no import of `smartfactory.sim`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, InstanceOf, ValidationError, field_validator

from smartfactory.configfile import (
    Count,
    Decimals,
    FileModel,
    NonNegative,
    Positive,
    Where,
    config_error,
    dotted,
    parse_toml,
    read_toml,
)
from smartfactory.errors import ConfigError, WireError
from smartfactory.kpi.calendar import DAYS, Break, Shift, ShiftCalendar
from smartfactory.kpi.model import OeeSettings
from smartfactory.wire import MachinePath, parse_series

# ------------------------------------------------------------------------------------- the plant file


class SensorSettings(FileModel):
    """Changes to one `Sensor` of a machine type (the fields of `smartfactory.sim.Sensor`)."""

    unit: str | None = None
    nominal: float | None = None
    sd: NonNegative | None = None
    phi: Annotated[float, Field(ge=0, lt=1)] | None = None
    decimals: Decimals | None = None
    idle: float | None = None
    tau_s: NonNegative | None = None
    idle_sd: NonNegative | None = None
    every_s: Positive | None = None
    low: float | None = None
    high: float | None = None
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    count: bool | None = None
    alarm_weight: Annotated[float, Field(gt=0)] | None = None


class CharacteristicSettings(FileModel):
    """Changes to one `Characteristic` of a machine type (the fields of `smartfactory.sim.Characteristic`)."""

    unit: str | None = None
    target: float | None = None
    sd: NonNegative | None = None
    lsl: float | None = None
    usl: float | None = None
    decimals: Decimals | None = None
    phi: Annotated[float, Field(ge=0, lt=1)] | None = None
    wear_per_part: float | None = None
    wear_offset_parts: Annotated[int, Field(ge=0)] | None = None
    alarm_weight: Annotated[float, Field(gt=0)] | None = None


class StateSettings(FileModel):
    """Changes to a machine type's `StateModel` (the fields of `smartfactory.sim.StateModel`); seconds."""

    mtbf_s: NonNegative | None = None
    mttr_s: NonNegative | None = None
    small_stop_every_s: NonNegative | None = None
    small_stop_s: NonNegative | None = None
    small_stop_reason: str | None = None
    idle_every_s: NonNegative | None = None
    idle_s: NonNegative | None = None
    tool_life_parts: Count | None = None
    tool_change_s: NonNegative | None = None
    changeover_every_parts: Count | None = None
    changeover_s: NonNegative | None = None
    speed_loss: float | None = None
    cycle_cv: NonNegative | None = None


class MachineSettings(FileModel):
    """What a plant file may change about a machine: in `[types.NAME]` for every machine of that type, or on
    the machine itself (which wins, field by field)."""

    sensors: dict[str, SensorSettings] = Field(default_factory=dict)
    quality: dict[str, CharacteristicSettings] = Field(default_factory=dict)
    state_model: StateSettings = Field(
        default_factory=StateSettings, validation_alias=AliasChoices("state_model", "states")
    )
    ideal_cycle_s: Positive | None = None
    sample_interval_s: Positive | None = None

    def over(self, base: MachineSettings) -> MachineSettings:
        """These settings on top of `base` (a type's defaults): tables merged one level deep."""

        def merged(kind: type[FileModel], mine: Mapping[str, FileModel], theirs: Mapping[str, FileModel]) -> Any:
            names = [*theirs, *(n for n in mine if n not in theirs)]
            return {
                n: kind.model_validate(
                    {**(theirs[n].changes() if n in theirs else {}), **mine.get(n, kind()).changes()}
                )
                for n in names
            }

        return MachineSettings(
            sensors=merged(SensorSettings, self.sensors, base.sensors),
            quality=merged(CharacteristicSettings, self.quality, base.quality),
            state_model=StateSettings.model_validate({**base.state_model.changes(), **self.state_model.changes()}),
            ideal_cycle_s=self.ideal_cycle_s if self.ideal_cycle_s is not None else base.ideal_cycle_s,
            sample_interval_s=self.sample_interval_s if self.sample_interval_s is not None else base.sample_interval_s,
        )


class MachineEntry(MachineSettings):
    """One `[[machines]]` entry."""

    hint: ClassVar[str] = "give area, line, name and type"

    area: str
    line: str
    name: str
    type: str


class PlantSection(FileModel):
    name: str | None = None
    enterprise: str = "acme"
    site: str = "plant1"


class BreakSection(FileModel):
    hint: ClassVar[str] = 'a break is {start = "HH:MM", end = "HH:MM", name = "..."}'

    start: str
    end: str
    name: str = "break"


class ShiftSection(FileModel):
    hint: ClassVar[str] = "give name, start and end (HH:MM), optionally days and breaks"

    name: str
    start: str
    end: str
    days: list[str] = Field(default_factory=lambda: list(DAYS))
    breaks: list[BreakSection] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _lower(cls, days: list[str]) -> list[str]:
        return [d.lower() for d in days]


class CalendarSection(FileModel):
    timezone: str = "UTC"
    shifts: list[ShiftSection] = Field(default_factory=list)

    def to_calendar(self) -> ShiftCalendar:
        shifts = tuple(
            Shift(s.name, s.start, s.end, tuple(s.days), tuple(Break(b.start, b.end, b.name) for b in s.breaks))
            for s in self.shifts
        )
        return ShiftCalendar(shifts, self.timezone)


class OeeSection(FileModel):
    small_stop_s: NonNegative | None = None
    startup_window_s: NonNegative | None = None

    def to_settings(self) -> OeeSettings:
        return OeeSettings(**self.changes())


class PlantFile(FileModel):
    """The whole plant file as written."""

    plant: PlantSection = Field(default_factory=PlantSection)
    calendar: CalendarSection | None = None
    oee: OeeSection = Field(default_factory=OeeSection)
    types: dict[str, MachineSettings] = Field(default_factory=dict)
    machines: list[MachineEntry] = Field(default_factory=list)


class MachineSpec(MachineSettings):
    """One machine of the plant: where it stands, its type, and what the plant file changes about it (the
    type's defaults from `[types.NAME]` with the machine's own settings on top)."""

    path: InstanceOf[MachinePath]
    type: str


class Plant(BaseModel):
    """A plant as the simulator and the readers use it: machines, calendar (None: every hour is planned) and
    OEE settings. `source` is the file it came from, for messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    machines: tuple[MachineSpec, ...]
    calendar: InstanceOf[ShiftCalendar] | None = None
    oee: InstanceOf[OeeSettings] = Field(default_factory=OeeSettings)
    source: str = ""

    def find(self, ref: str) -> MachineSpec:
        """The machine `ref` names: its full path, line/name or name; `ConfigError` unless exactly one."""
        matches = [m for m in self.machines if str(m.path) == ref or str(m.path).endswith("/" + ref)]
        if len(matches) != 1:
            known = ", ".join(m.path.machine for m in self.machines)
            problem = "is ambiguous in" if matches else "is not in"
            raise ConfigError(
                f"machine {ref!r} {problem} the plant {self.name!r} (machines: {known}); or give the full path"
            )
        return matches[0]

    def ideal_cycle_times(self) -> dict[str, float]:
        """Ideal cycle time in seconds per machine path, where the plant file gives one."""
        return {str(m.path): m.ideal_cycle_s for m in self.machines if m.ideal_cycle_s is not None}


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
    """The plant described by a TOML file; `ConfigError` naming the file and the machine when it is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read plant file {path}: {exc}") from None
    return parse_plant(text, str(path))


def _machine_where(data: Mapping[str, Any], source: str) -> Where:
    """Places in a plant file: machines by number and name, other tables by their TOML name."""

    def where(loc: tuple[str | int, ...]) -> str:
        if len(loc) >= 2 and loc[0] == "machines" and isinstance(loc[1], int):
            entries = data.get("machines")
            entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
            name = entry.get("name") if isinstance(entry, Mapping) else None
            text = f"{source} machine #{loc[1] + 1}" + (f" ({name})" if isinstance(name, str) else "")
            return text + (f" [{dotted(loc[2:])}]" if loc[2:] else "")
        return f"{source} [{dotted(loc)}]" if loc else source

    return where


def parse_plant(text: str, source: str = "<plant>") -> Plant:
    """A plant from TOML text; `ConfigError` naming the file and the machine when something is wrong."""
    data = parse_toml(text, source)
    try:
        document = PlantFile.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source, PlantFile, _machine_where(data, source)) from None
    calendar = None
    if document.calendar is not None:
        try:
            calendar = document.calendar.to_calendar()
        except ConfigError as exc:
            raise ConfigError(f"{source} [calendar]: {exc}") from None
    try:
        oee = document.oee.to_settings()
    except ConfigError as exc:
        raise ConfigError(f"{source} [oee]: {exc}") from None
    top = document.plant
    machines: list[MachineSpec] = []
    seen: set[MachinePath] = set()
    for index, entry in enumerate(document.machines):
        where = f"{source} machine #{index + 1} ({entry.name})"
        try:
            path = MachinePath(top.enterprise, top.site, entry.area, entry.line, entry.name)
        except WireError as exc:
            raise ConfigError(f"{where}: {exc.detail}") from None
        if path in seen:
            raise ConfigError(f"{where}: {path} appears twice; machine paths must be unique")
        seen.add(path)
        settings = entry.over(document.types.get(entry.type, MachineSettings()))
        machines.append(MachineSpec(path=path, type=entry.type, **dict(settings)))
    if not machines:
        raise ConfigError(f"{source} defines no [[machines]]: add one per machine (area, line, name, type)")
    return Plant(
        name=top.name if top.name is not None else Path(source).stem,
        machines=tuple(machines),
        calendar=calendar,
        oee=oee,
        source=source,
    )


# ------------------------------------------------------------------------------------- the limits file


class SeriesLimits(FileModel):
    """Configured individuals-chart limits of one series: centre line, σ and the width in σ (default 3)."""

    hint: ClassVar[str] = "limits need numeric center and sigma, optionally nsigmas"

    center: float
    sigma: NonNegative
    nsigmas: Positive = 3.0


class LimitsFile(FileModel):
    """Configured SPC limits (`spc.limits_file`), one table per series id::

    [limits."acme/plant1/machining/line-1/cnc-01/telemetry/diameter"]
    center = 25.000
    sigma = 0.004
    """

    limits: dict[str, SeriesLimits] = Field(default_factory=dict)

    @field_validator("limits")
    @classmethod
    def _series_ids(cls, limits: dict[str, SeriesLimits]) -> dict[str, SeriesLimits]:
        for series in limits:
            try:
                parse_series(series)
            except WireError as exc:
                raise ValueError(
                    f"{exc.detail}: write the series id as ENT/SITE/AREA/LINE/MACHINE/telemetry/SENSOR"
                ) from None
        return limits


def load_limits_file(path: Path) -> dict[str, SeriesLimits]:
    """Configured limits per series id from a TOML limits file; `ConfigError` that says what to fix."""
    data, source = read_toml(path, "the limits file")
    try:
        return dict(LimitsFile.model_validate(data).limits)
    except ValidationError as exc:
        raise config_error(exc, source, LimitsFile) from None


__all__ = [
    "BreakSection",
    "CalendarSection",
    "CharacteristicSettings",
    "LimitsFile",
    "MachineEntry",
    "MachineSettings",
    "MachineSpec",
    "OeeSection",
    "Plant",
    "PlantFile",
    "PlantSection",
    "SensorSettings",
    "SeriesLimits",
    "ShiftSection",
    "StateSettings",
    "load_limits_file",
    "load_plant",
    "parse_plant",
    "resolve_plant_file",
]
