"""Plant files live in `smartfactory.plant` (pure data, importable without the simulator); this module keeps
the old import path working for the simulator's callers."""

from smartfactory.plant import MachineSpec, Plant, load_plant, parse_plant, resolve_plant_file

__all__ = ["MachineSpec", "Plant", "load_plant", "parse_plant", "resolve_plant_file"]
