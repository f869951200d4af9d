"""Discover machine types: every `Machine` subclass in `simulators/*.py` and in the entry-point group
`smartfactory.simulators`. Built-in machines load the same way as students' ones.

A file that fails to import, or a type whose declaration is not sane (`check_machine_type`: spec limits
around the target, AR(1) φ below 1, names usable as topic levels), is reported (file, line, what went wrong)
and skipped; the others still load. Two types with the same name are an error naming both places.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from smartfactory.errors import SimulatorError
from smartfactory.sim.checks import check_machine_type
from smartfactory.sim.machine import Machine

ENTRY_POINT_GROUP = "smartfactory.simulators"


@dataclass(frozen=True, slots=True)
class MachineType:
    name: str
    cls: type[Machine]
    source: str  # file path or "entry point NAME (package)"

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.cls) or ""
        return doc.splitlines()[0] if doc else ""


@dataclass(slots=True)
class Catalog:
    types: dict[str, MachineType] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, name: str) -> MachineType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none"
            raise SimulatorError(
                f"unknown machine type {name!r}; known types: {known}. See `smartfactory simulators list`."
            ) from None

    def add(self, machine_type: MachineType) -> None:
        other = self.types.get(machine_type.name)
        if other is not None:
            raise SimulatorError(
                f"machine type {machine_type.name!r} is defined twice: in {other.source} and in "
                f"{machine_type.source}; rename one (set `type_name` on the class)"
            )
        self.types[machine_type.name] = machine_type


def type_name_of(cls: type[Machine]) -> str:
    """`type_name` if the class sets one, else its name in snake_case (CncMill → cnc_mill)."""
    explicit = cls.__dict__.get("type_name")
    if isinstance(explicit, str):
        return explicit
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def _describe_failure(path: Path, exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    line = frames[-1].lineno if frames else getattr(exc, "lineno", None)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: {type(exc).__name__}: {exc} (this file is skipped; the other machines still run)"


def _line_of(cls: type, path: Path) -> str:
    try:
        return f"{path}:{inspect.getsourcelines(cls)[1]}"
    except (OSError, TypeError):
        return str(path)


def _add_checked(catalog: Catalog, machine_type: MachineType, where: str) -> None:
    problems = check_machine_type(machine_type.cls)
    if problems:
        catalog.problems.append(f"{where}: machine type {machine_type.name!r} is skipped: " + "; ".join(problems))
        return
    catalog.add(machine_type)


def load_folder(folder: Path, catalog: Catalog) -> None:
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue  # _template.py and helpers are not machines
        module_name = f"smartfactory_simulators.{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError("not a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            catalog.problems.append(_describe_failure(path, exc))
            continue
        found = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Machine)
            and obj is not Machine
            and obj.__module__ == module_name
        ]
        if not found:
            catalog.problems.append(f"{path}: defines no Machine subclass (see simulators/_template.py)")
        for cls in found:
            _add_checked(catalog, MachineType(type_name_of(cls), cls, str(path)), _line_of(cls, path))


def load_entry_points(catalog: Catalog) -> None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {point.name} ({point.value})"
        try:
            obj = point.load()
        except Exception as exc:
            catalog.problems.append(f"{source}: {type(exc).__name__}: {exc}")
            continue
        if not (inspect.isclass(obj) and issubclass(obj, Machine)):
            catalog.problems.append(f"{source}: is not a Machine subclass")
            continue
        _add_checked(catalog, MachineType(point.name, obj, source), source)


def discover(folder: Path | None) -> Catalog:
    """All machine types from the simulators folder and installed packages."""
    catalog = Catalog()
    if folder is not None and folder.is_dir():
        load_folder(folder, catalog)
    load_entry_points(catalog)
    return catalog
