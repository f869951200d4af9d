"""Plant configs: which machines of which types stand where. TOML files in `simulators/plants/`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartfactory.errors import ConfigError
from smartfactory.wire import MachinePath


@dataclass(frozen=True, slots=True)
class MachineSpec:
    path: MachinePath
    type: str
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plant:
    name: str
    machines: tuple[MachineSpec, ...]


def resolve_plant_file(name_or_path: str, sim_dir: Path) -> Path:
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
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read plant file {path}: {exc}") from None
    top = data.get("plant", {})
    machines = []
    for index, entry in enumerate(data.get("machines", [])):
        try:
            machine_path = MachinePath(
                top.get("enterprise", "acme"),
                top.get("site", "plant1"),
                entry["area"],
                entry["line"],
                entry["name"],
            )
            machines.append(MachineSpec(machine_path, entry["type"], dict(entry.get("sensors", {}))))
        except KeyError as exc:
            raise ConfigError(f"{path}: machine #{index + 1} lacks {exc.args[0]!r}") from None
        except Exception as exc:
            raise ConfigError(f"{path}: machine #{index + 1}: {exc}") from None
    if not machines:
        raise ConfigError(f"{path} defines no [[machines]]")
    return Plant(top.get("name", path.stem), tuple(machines))
