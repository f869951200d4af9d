"""The node map: which OPC UA node is which signal of which machine, as a YAML file the bridge reads.

A bridge pointed at our own server browses it (`browse.py`) and needs no file; for any other server (a PLC, a
machine controller) the node map says it. `smartfactory bridge opcua --write-nodes FILE` writes the browsed map
of a server as a starting point::

    machines:
      - path: acme/plant1/machining/line-1/cnc-01     # the ISA-95 path the readings are published under
        machine_type: cnc_mill                        # optional: the birth's MachineInfo
        ideal_cycle_s: 55.0
        signals:
          spindle_temp: {node: "ns=3;s=Spindle.Temperature", kind: process, unit: "°C"}
          diameter: {node: "nsu=urn:smartfactory:plant;s=…/diameter", kind: quality, unit: mm, lsl: 24.985, usl: 25.015}
        state: "ns=3;s=Machine.State"                 # optional: a String node with running/idle/setup/down/planned
        state_reason: null
        part_id: null                                 # optional: String; a new value is a finished part
        verdict: null                                 # optional: String good/scrap (a part needs it)

Node ids are OPC UA's text form (`ns=2;i=1001`, `ns=2;s=Name`, `g=…`, `b=…`), or `nsu=URI;…`, which the bridge
resolves against the server's namespace array on every connect. Signals of kind `quality` are part
characteristics: they are published with the part (`…/quality`) when `part_id` changes, not as telemetry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smartfactory.errors import ConfigError, WireError
from smartfactory.wire import MachineInfo, MachinePath, SignalInfo, SignalKind

NodeText = Annotated[str, Field(min_length=3, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalNode(_Strict):
    node: NodeText
    kind: SignalKind = "process"
    unit: Annotated[str, Field(max_length=32)] | None = None
    lsl: float | None = None
    usl: float | None = None


class MachineNodes(_Strict):
    path: str
    machine_type: Annotated[str, Field(min_length=1, max_length=100)] = "opcua"
    ideal_cycle_s: float | None = Field(None, gt=0)
    sample_interval_s: float | None = Field(None, gt=0)
    signals: dict[str, SignalNode] = Field(default_factory=dict)
    state: NodeText | None = None
    state_reason: NodeText | None = None
    part_id: NodeText | None = None
    verdict: NodeText | None = None

    @field_validator("path")
    @classmethod
    def _is_machine_path(cls, value: str) -> str:
        try:
            MachinePath.parse(value)
        except WireError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _names_are_sensors(self) -> MachineNodes:
        path = MachinePath.parse(self.path)
        for name in self.signals:
            try:
                path.series(name)  # a signal's name is the sensor level of its series
            except WireError as exc:
                raise ValueError(f"signal {name!r}: {exc}") from None
        return self

    @property
    def machine_path(self) -> MachinePath:
        return MachinePath.parse(self.path)

    def info(self) -> MachineInfo:
        """The facts a birth message carries for this machine."""
        signals = {
            name: SignalInfo(kind=s.kind, unit=s.unit, lsl=s.lsl, usl=s.usl)
            if s.lsl is not None and s.usl is not None and s.lsl < s.usl
            else SignalInfo(kind=s.kind, unit=s.unit)
            for name, s in self.signals.items()
        }
        return MachineInfo(
            machine_type=self.machine_type,
            ideal_cycle_s=self.ideal_cycle_s,
            sample_interval_s=self.sample_interval_s,
            signals=signals,
        )


class NodeMap(_Strict):
    machines: list[MachineNodes] = Field(default_factory=list)

    @property
    def node_count(self) -> int:
        fixed = ("state", "state_reason", "part_id", "verdict")
        return sum(len(m.signals) + sum(getattr(m, f) is not None for f in fixed) for m in self.machines)

    def to_yaml(self) -> str:
        body = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)

    @classmethod
    def from_yaml(cls, text: str, source: str = "node map") -> NodeMap:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source} is not valid YAML: {exc}") from None
        try:
            return cls.model_validate(data if data is not None else {})
        except ValidationError as exc:
            raise ConfigError(f"{source} does not fit the node map format (docs/opcua.md): {exc}") from None


def load_node_map(path: Path) -> NodeMap:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the node map {path}: {exc}") from None
    return NodeMap.from_yaml(text, str(path))
