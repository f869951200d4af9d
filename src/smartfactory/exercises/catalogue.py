"""The exercises, by name."""

from __future__ import annotations

from smartfactory.errors import ConfigError
from smartfactory.exercises.alarm_budget import AlarmBudget
from smartfactory.exercises.base import Exercise
from smartfactory.exercises.capability import CapabilityStudy
from smartfactory.exercises.fault_hunt import FaultHunt
from smartfactory.exercises.lossless import Lossless
from smartfactory.exercises.oee_shift import OeeShift
from smartfactory.exercises.opcua_bridge import OpcUaBridgeExercise

EXERCISES: dict[str, Exercise] = {e.name: e for e in (FaultHunt(), CapabilityStudy(), OeeShift(), AlarmBudget(),
                                                      Lossless(), OpcUaBridgeExercise())}  # fmt: skip


def get(name: str) -> Exercise:
    try:
        return EXERCISES[name]
    except KeyError:
        raise ConfigError(f"no exercise {name!r}; there are: {', '.join(EXERCISES)}") from None
