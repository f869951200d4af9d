"""The faults a machine accepts, as the birth message announces them (`MachineInfo.faults`, pure).

One catalogue per machine: the signal faults of `signals.FAULTS`, the machine faults of `lifecycle`
(breakdown, stop, slowdown) and the type's own `recipes`, each with its parameters and their allowed ranges.
`smartfactory inject` checks a command against it before sending (it reads the birth from the broker), and the
engine checks every command and scenario step against the same catalogue before applying it
(`FaultInfo.problems`), so the ranges announced are the ranges enforced.
"""

from __future__ import annotations

from collections.abc import Mapping

from smartfactory.sim.lifecycle import MACHINE_FAULTS
from smartfactory.sim.signals import FAULT_KINDS, FAULTS, Behaviour
from smartfactory.wire import FaultInfo, ParamInfo

#: Ranges of the signal faults' parameters. Sizes, rates and amplitudes are in the signal's unit (or in sigmas),
#: so only their sign could be constrained, and both signs make sense; probabilities lie in [0, 1]; a noise factor
#: below 0 is meaningless and above 100 drowns the signal; periods and time constants under a second are below
#: the sampling interval of every machine.
SIGNAL_PARAMS: dict[str, ParamInfo] = {
    "prob": ParamInfo(min=0.0, max=1.0),
    "factor": ParamInfo(min=0.0, max=100.0),
    "per_hour": ParamInfo(),  # growing_variance overrides it below (a growth rate of the sd, not negative)
    "period_s": ParamInfo(min=1.0),
    "tau_s": ParamInfo(min=1.0),
}
OVERRIDES: dict[tuple[str, str], ParamInfo] = {("growing_variance", "per_hour"): ParamInfo(min=0.0, max=100.0)}
#: Parameters of the machine faults (see `lifecycle.MACHINE_FAULTS`).
STOP_STATES = ["down", "idle", "setup", "planned"]
MACHINE_PARAMS: dict[str, dict[str, ParamInfo]] = {
    "breakdown": {"duration": ParamInfo(kind="duration", min=1.0), "reason": ParamInfo(kind="text")},
    "stop": {
        "state": ParamInfo(kind="text", choices=STOP_STATES),
        "reason": ParamInfo(kind="text"),
        "duration": ParamInfo(kind="duration", min=1.0),
    },
    "slowdown": {"factor": ParamInfo(min=0.1, max=100.0)},
}
#: `k` multiplies a recipe's rates: 0 switches it off, 100 is a hundred times the type's nominal fault.
RECIPE_K = ParamInfo(min=0.0, max=100.0)


def _signal_fault(kind: str, cls: type[Behaviour]) -> FaultInfo:
    params = {name: OVERRIDES.get((kind, name), SIGNAL_PARAMS.get(name, ParamInfo())) for name in cls.parameters()}
    return FaultInfo(summary=FAULT_KINDS.get(kind), params=params)


def _recipe(name: str, recipe: Mapping[str, Behaviour]) -> FaultInfo:
    acts = ", ".join(f"{signal}: {behaviour.kind}" for signal, behaviour in recipe.items())
    return FaultInfo(
        summary=f"the machine type's own fault ({acts}); k=K scales its rates (default 1)",
        signals=list(recipe),
        params={"k": RECIPE_K},
    )


def fault_catalogue(recipes: Mapping[str, Mapping[str, Behaviour]]) -> dict[str, FaultInfo]:
    """Every fault a machine whose type has these `recipes` accepts, by name. Signal faults act on any signal
    of the machine (their `signals` stay None); a recipe acts on the signals it names."""
    catalogue = {kind: _signal_fault(kind, cls) for kind, cls in FAULTS.items()}
    for name, params in MACHINE_PARAMS.items():
        catalogue[name] = FaultInfo(summary=MACHINE_FAULTS.get(name), scope="machine", params=params)
    for name, recipe in recipes.items():
        catalogue[name] = _recipe(name, recipe)
    return catalogue
