"""The base class a simulator file extends: a machine type with sensors, part characteristics and a state model.

A student's machine type is one short file in `simulators/` with one `Machine` subclass::

    class Kettle(Machine):
        \"\"\"An electric kettle.\"\"\"
        sensors = {"water_temp": Sensor(unit="°C", nominal=95.0, sd=0.4, idle=20.0, tau_s=300)}

Everything else has defaults. Declarations: `sensors`, `quality`, `sample_interval_s`, `ideal_cycle_s`,
`state_model` (how it stops), `behaviours` (permanent behaviours per signal, e.g. a daily `Cycle`) and `recipes`
(named compound faults: `{"tool_wear": {"diameter": Drift(per_hour=0.012)}}`). Hooks, all optional:

- `setup()`: called once per machine; initialise your own attributes (counters).
- `sample(ctx)`: the telemetry of one instant; call `super().sample(ctx)` and change the values.
- `measure(ctx)`: the quality characteristics of one finished part; same pattern.
- `judge(ctx, measurements)`: good (True) or scrap; default: every characteristic inside its spec limits.

`ctx` (`sim.live.Context`) is a read-only view of the machine now: `t_s`, `state` ("running", "idle", "setup",
"down", "planned"), `run_s` (operating seconds), `parts_made`, `parts_scrap`, `tool_parts` (parts since the last
tool change), `last_cycle_s`, the `sensors` and `quality` specs with the plant file's changes, and
`level(sensor)`. The engine (`sim.live.LiveMachine`) keeps that state and the faults; the `Machine` object only
holds the declarations and what your hooks store on it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from smartfactory.sim.signals import Behaviour

if TYPE_CHECKING:
    from smartfactory.sim.live import Context

#: A compound fault: signal → the behaviour it gets. `k` scales the sizes and rates when injected.
Recipe = Mapping[str, Behaviour]


@dataclass(frozen=True, slots=True)
class Sensor:
    """A continuously sampled sensor.

    - `unit`, `nominal` (the level while producing), `sd` (noise standard deviation), `phi` (AR(1)
      autocorrelation, 0 = white noise, below 1), `decimals` (rounding of published values).
    - `idle`: the level the sensor heads for while the machine is not producing (spindle speed 0, ambient
      temperature); None keeps the nominal level (a heater-controlled barrel). `tau_s`: how fast it gets
      there and back (first-order time constant; 0 = at once). `idle_sd`: noise while not producing
      (None = `sd`).
    - `every_s`: sample less often than the machine (a multiple of its `sample_interval_s`).
    - `low` / `high`: physical limits the value is clipped to (0 rpm).
    - `lsl` / `usl` / `target`: a process window, for readers (charts, the birth message); no effect on data.
    - `count`: the sensor counts events (rejects per minute): integer-valued, charted as counts.
    - `alarm_weight`: the series' weight in its kind's share of the plant's false-alarm budget (default 1; docs/spc.md
      "Detectors and the alarm budget"): a larger weight buys faster detection on this series at the others' cost.
    """

    unit: str
    nominal: float
    sd: float = 0.0
    phi: float = 0.0
    decimals: int = 3
    idle: float | None = None
    tau_s: float = 0.0
    idle_sd: float | None = None
    every_s: float | None = None
    low: float | None = None
    high: float | None = None
    lsl: float | None = None
    usl: float | None = None
    target: float | None = None
    count: bool = False
    alarm_weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Characteristic:
    """A quality characteristic measured on every part, with optional spec limits (LSL, USL).

    A part is scrap when any characteristic with limits lies outside them. `wear_per_part` is tool wear: the
    mean grows by this much per part since the last tool change. `wear_offset_parts` is the controller's wear
    compensation: every this many parts it corrects the tool offset by the wear it expects, so the mean only
    rises by `wear_per_part` × (parts since the last correction) (0: no compensation, the wear adds up until the
    tool is changed). A fault that wears the tool faster than expected is not compensated. `alarm_weight`: as for
    a `Sensor`, the characteristic's weight in the part characteristics' share of the alarm budget.
    """

    unit: str
    target: float
    sd: float
    lsl: float | None = None
    usl: float | None = None
    decimals: int = 4
    phi: float = 0.0
    wear_per_part: float = 0.0
    wear_offset_parts: int = 0
    alarm_weight: float = 1.0


@dataclass(frozen=True, slots=True)
class StateModel:
    """How a machine stops and starts. Times are seconds; 0 switches a mechanism off.

    - Breakdowns: mean operating time between failures `mtbf_s`, repair time `mttr_s` (log-normal).
    - Small stops (`small_stop_reason`, e.g. a jam) every `small_stop_every_s` operating seconds on average,
      lasting `small_stop_s` on average; starvation (state idle) likewise with `idle_every_s` / `idle_s`.
    - Tool changes (down/tool_change) every `tool_life_parts` parts, lasting `tool_change_s`; they reset wear.
    - Changeovers (setup/changeover) every `changeover_every_parts` parts, lasting `changeover_s`.
    - Cycle time per part: ideal × (1 + `speed_loss`) with relative noise `cycle_cv`, never below the ideal.
    """

    mtbf_s: float = 0.0
    mttr_s: float = 1800.0
    small_stop_every_s: float = 0.0
    small_stop_s: float = 60.0
    small_stop_reason: str = "jam"
    idle_every_s: float = 0.0
    idle_s: float = 60.0
    tool_life_parts: int = 0
    tool_change_s: float = 300.0
    changeover_every_parts: int = 0
    changeover_s: float = 900.0
    speed_loss: float = 0.05
    cycle_cv: float = 0.02


class Machine:
    """A machine type. Subclasses set `sensors` and usually `quality`, `ideal_cycle_s` and `state_model`."""

    sensors: ClassVar[dict[str, Sensor]] = {}
    quality: ClassVar[dict[str, Characteristic]] = {}
    #: Seconds between two samples of the sensors.
    sample_interval_s: ClassVar[float] = 1.0
    #: The fastest possible time for one part (the OEE ideal cycle time), seconds.
    ideal_cycle_s: ClassVar[float] = 60.0
    #: How the machine stops and starts (breakdowns, small stops, tool changes, speed loss).
    state_model: ClassVar[StateModel] = StateModel()
    #: Permanent behaviours per signal, from the start and never repaired, e.g. {"temp": Cycle(amplitude=1.0)}.
    behaviours: ClassVar[dict[str, Behaviour | Sequence[Behaviour]]] = {}
    #: Named compound faults of this type, e.g. {"tool_wear": {"diameter": Drift(per_hour=0.01)}}.
    recipes: ClassVar[dict[str, Recipe]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        old = cls.__dict__.get("states")
        if isinstance(old, StateModel) and "state_model" not in cls.__dict__:
            warnings.warn(
                f"{cls.__name__}: rename `states = StateModel(...)` to `state_model = StateModel(...)`",
                DeprecationWarning,
                stacklevel=2,
            )
            cls.state_model = old

    def setup(self) -> None:
        """Called once per machine before it runs: set up your own attributes (counters, remembered values)."""

    def sample(self, ctx: Context) -> dict[str, float]:
        """The sensor readings due now (`ctx.t_s`): by default `ctx.values`, the level + noise + behaviours of
        every sensor due. Change or add values and return them; leave one out and it is not published."""
        return ctx.values

    def measure(self, ctx: Context) -> dict[str, float]:
        """The characteristics of the part finished now: by default `ctx.values` (target + tool wear + noise +
        behaviours). A characteristic left out is not measured."""
        return ctx.values

    def judge(self, ctx: Context, measurements: Mapping[str, float]) -> bool:
        """Good (True) when every measured characteristic with limits is inside them."""
        for name, value in measurements.items():
            spec = ctx.quality.get(name)
            if spec is None:
                continue
            if (spec.lsl is not None and value < spec.lsl) or (spec.usl is not None and value > spec.usl):
                return False
        return True
