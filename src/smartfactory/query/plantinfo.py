"""What a reader knows about the plant: machine facts from the store, calendar and OEE settings from the plant file.

Two sources, neither of them the simulator's code:

- **the store**: every machine announces its facts in its retained birth message (`StatusPayload.info`, a
  `wire.MachineInfo`: machine type, ideal cycle time, and per signal its kind, unit, spec limits and display
  resolution); ingestion stores them (`Storage.read_machine_info()`, newest per machine). A real machine that
  sends a birth supplies them the same way as a simulated one.
- **the plant file** (`smartfactory.plant`, pure data): the plant's name, its shift calendar, the OEE settings
  (small-stop threshold, start-up window), and the ideal cycle times it sets explicitly per machine.

Ideal cycle time of a machine, one rule for every reader: the one its birth announced; for a machine that
announced none (a store filled before births carried facts, or a machine that does not know its rating) the
plant file's explicit `ideal_cycle_s`; otherwise it has none, and OEE leaves it out and names it
(`query.oee`). Nothing is estimated from the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory import kpi
from smartfactory.errors import SmartfactoryError
from smartfactory.plant import Plant, load_plant, resolve_plant_file
from smartfactory.query.series import split_series
from smartfactory.storage import Storage
from smartfactory.wire import MachineInfo, SignalInfo


@dataclass(frozen=True, slots=True)
class SpecLimits:
    """Specification limits of one signal (any of them may be unknown)."""

    lsl: float | None = None
    usl: float | None = None
    target: float | None = None

    @property
    def known(self) -> bool:
        return self.lsl is not None or self.usl is not None

    @classmethod
    def of(cls, signal: SignalInfo | None) -> SpecLimits:
        if signal is None:
            return cls()
        return cls(signal.lsl, signal.usl, signal.target)


@dataclass(frozen=True, slots=True)
class PlantSettings:
    """What the plant file tells a reader: name, calendar, OEE settings, explicit ideal cycle times per machine."""

    name: str
    source: str
    calendar: kpi.ShiftCalendar | None
    oee: kpi.OeeSettings
    ideal_cycle_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_plant(cls, plant: Plant, source: Path) -> PlantSettings:
        return cls(plant.name, plant.source or str(source), plant.calendar, plant.oee, plant.ideal_cycle_times())


def load_plant_settings(sim_dir: Path, plant: str) -> PlantSettings:
    """The plant file named `plant` (simulators/plants/NAME.toml in `sim_dir`, or a .toml path).

    Raises `ConfigError` (from `smartfactory.plant`) when it cannot be found or read."""
    path = resolve_plant_file(plant, sim_dir)
    return PlantSettings.from_plant(load_plant(path), path)


def ideal_cycles(machines: Mapping[str, MachineInfo], plant: PlantSettings | None) -> dict[str, float]:
    """Ideal cycle time per machine path: announced in the birth, else set in the plant file (module docstring)."""
    out = dict(plant.ideal_cycle_s) if plant is not None else {}
    out.update({m: info.ideal_cycle_s for m, info in machines.items() if info.ideal_cycle_s is not None})
    return out


@dataclass(frozen=True, slots=True)
class PlantInfo:
    """Stored machine facts (per machine path) and the plant file's settings; `problems` says what is missing."""

    machines: dict[str, MachineInfo] = field(default_factory=dict)
    settings: PlantSettings | None = None
    problems: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.settings.name if self.settings is not None else "plant"

    @property
    def calendar(self) -> kpi.ShiftCalendar | None:
        return self.settings.calendar if self.settings is not None else None

    @property
    def oee(self) -> kpi.OeeSettings:
        return self.settings.oee if self.settings is not None else kpi.OeeSettings()

    @property
    def ideal_cycle_s(self) -> dict[str, float]:
        return ideal_cycles(self.machines, self.settings)

    def signal(self, machine: str, name: str) -> SignalInfo | None:
        info = self.machines.get(machine)
        return None if info is None else info.signals.get(name)

    def signal_for_series(self, series: str) -> SignalInfo | None:
        """What the series' machine announced about it (kind, unit, spec limits, decimals); None if nothing."""
        parts = split_series(series)
        return self.signal(parts.machine, parts.sensor)

    def spec_for_series(self, series: str) -> SpecLimits:
        """A sensor's spec limits, as its machine announced them."""
        return SpecLimits.of(self.signal_for_series(series))

    def spec_for_part(self, machine: str, characteristic: str) -> SpecLimits:
        return SpecLimits.of(self.signal(machine, characteristic))


def plant_info(store: Storage, sim_dir: Path, plant: str) -> PlantInfo:
    """Machine facts from `store` and the settings of plant file `plant`; a plant file that cannot be read is
    a problem (listed in `problems`), not an error: the facts in the store still serve."""
    problems: list[str] = []
    try:
        settings: PlantSettings | None = load_plant_settings(sim_dir, plant)
    except (SmartfactoryError, OSError, ValueError) as exc:
        settings = None
        problems.append(f"plant file not readable ({exc}): no shift calendar, default OEE settings")
    machines = store.read_machine_info()
    if not machines:
        problems.append(
            "no machine has announced its facts (birth messages) in this store yet: no spec limits or ideal "
            "cycle times from the machines"
        )
    return PlantInfo(dict(machines), settings, tuple(problems))
