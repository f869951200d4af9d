"""A student's namespace: the top two ISA-95 levels (enterprise "lab", site "student-07") under which their plant
lives, and a plant moved there. Pure: plant and wire only."""

from __future__ import annotations

from dataclasses import dataclass

from smartfactory.errors import ConfigError, WireError
from smartfactory.plant import MachineSpec, Plant
from smartfactory.wire import MachinePath

#: The enterprise level of every classroom namespace, and the shared read-only corner the lecturer publishes in.
ENTERPRISE = "lab"
PUBLIC = f"{ENTERPRISE}/_public"


@dataclass(frozen=True, slots=True)
class Namespace:
    enterprise: str
    site: str

    def __str__(self) -> str:
        return f"{self.enterprise}/{self.site}"

    @property
    def filter(self) -> str:
        """The MQTT topic filter of everything below the namespace."""
        return f"{self}/#"

    def holds(self, series_or_path: str) -> bool:
        """True when a series id, topic or machine path lies below this namespace."""
        return series_or_path.startswith(f"{self}/")

    @classmethod
    def parse(cls, text: str) -> Namespace:
        """`"lab/student-07"` → Namespace; `ConfigError` unless two valid topic levels."""
        levels = text.strip().split("/")
        if len(levels) != 2:
            raise ConfigError(f"namespace {text!r} must be two levels, enterprise/site (e.g. lab/student-07)")
        try:
            MachinePath(levels[0], levels[1], "a", "l", "m")  # the topic grammar's own level check
        except WireError as exc:
            raise ConfigError(f"namespace {text!r}: {exc.detail}") from None
        return cls(levels[0], levels[1])


def student_namespace(index: int, width: int = 2) -> Namespace:
    """The namespace of the student with 1-based `index`: lab/student-07."""
    return Namespace(ENTERPRISE, f"student-{index:0{width}d}")


def relocate(plant: Plant, namespace: Namespace) -> Plant:
    """The same plant with every machine's enterprise and site replaced by the namespace's."""
    machines: list[MachineSpec] = []
    for spec in plant.machines:
        p = spec.path
        moved = MachinePath(namespace.enterprise, namespace.site, p.area, p.line, p.machine)
        machines.append(spec.model_copy(update={"path": moved}))
    return plant.model_copy(update={"machines": tuple(machines)})


def relocate_series(series: str, namespace: Namespace) -> str:
    """A series id (or topic) with its first two levels replaced by the namespace."""
    levels = series.split("/")
    if len(levels) < 3:
        raise ConfigError(f"{series!r} has no levels below enterprise/site")
    return "/".join([namespace.enterprise, namespace.site, *levels[2:]])


__all__ = ["ENTERPRISE", "PUBLIC", "Namespace", "relocate", "relocate_series", "student_namespace"]
