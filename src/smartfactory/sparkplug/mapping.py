"""Sparkplug B ids ↔ the ISA-95 machine path of wire format v1, both directions in one place.

One edge node per line, one device per machine (docs/wire.md, "Sparkplug B"):

    group_id      = enterprise                       (the first `group_levels` levels, default 1)
    edge_node_id  = site:area:line                   (the remaining levels above the machine)
    device_id     = machine
    metric name   = sensor or part characteristic name, as in the JSON wire format

Levels are joined with `:`; a `%` or `:` inside a level is written `%25` / `%3A` (percent-encoding, RFC 3986 style),
so `sparkplug_to_machine_path(*machine_path_to_sparkplug(p)) == p` for every valid path. With `group_levels=2` the
group is `enterprise:site` and the edge node `area:line`.

Ids from a foreign edge node that do not split into the four levels above the machine keep group → enterprise and
edge node → line: the edge node id (as sent) becomes the line and the levels between are `_`, e.g. group `factory`,
edge node `node1`, device `press` → `factory/_/_/node1/press`. Node-level metrics (NBIRTH/NDATA, no device) belong
to the machine `node_device` (default `_node`) of that line.

Metric names may use `/` as folder separator (spec 6.4.6: "Properties/Hardware Make"); a sensor name cannot, so each
`/` becomes `.`. Metrics named `bdSeq` or under `Node Control/`, `Device Control/`, `Properties/` are session and
control metrics, never readings; names under `_sf/` are smartfactory's own (`EMBEDDED_PREFIX`, see host.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from smartfactory.errors import WireError
from smartfactory.sparkplug.payload import SparkplugError
from smartfactory.wire import MachinePath

SEPARATOR = ":"
FILL = "_"
#: Metric-name prefixes that are not data: session and control metrics of the Sparkplug specification.
CONTROL_PREFIXES = ("Node Control/", "Device Control/", "Properties/")
BDSEQ = "bdSeq"
#: String metrics named `_sf/{class}` carry one wire-v1 JSON payload of that class (state, quality, event, status).
EMBEDDED_PREFIX = "_sf/"


def _escape(level: str) -> str:
    return level.replace("%", "%25").replace(SEPARATOR, "%3A")


def _unescape(part: str) -> str:
    return part.replace("%3A", SEPARATOR).replace("%3a", SEPARATOR).replace("%25", "%")


@dataclass(frozen=True, slots=True)
class SparkplugMapping:
    """How Sparkplug ids map onto `enterprise/site/area/line/machine` (settings `sparkplug.group_levels` and
    `sparkplug.node_device`)."""

    group_levels: int = 1
    node_device: str = "_node"

    def __post_init__(self) -> None:
        if not 1 <= self.group_levels <= 3:
            raise ValueError("group_levels must be 1, 2 or 3 (the group and the edge node each need a level)")

    def to_sparkplug(self, path: MachinePath) -> tuple[str, str, str]:
        """(group_id, edge_node_id, device_id) of a machine."""
        levels = [_escape(level) for level in (path.enterprise, path.site, path.area, path.line)]
        return (
            SEPARATOR.join(levels[: self.group_levels]),
            SEPARATOR.join(levels[self.group_levels :]),
            path.machine,
        )

    def to_machine_path(self, group_id: str, edge_node_id: str, device_id: str | None) -> MachinePath:
        """The machine of a device (or the node's own `node_device` when `device_id` is None).

        Raises `SparkplugError("bad_topic")` when an id is not a valid ISA-95 level (longer than 100 characters, a
        control character, an enterprise starting with `$`).
        """
        group = group_id.split(SEPARATOR)
        edge = edge_node_id.split(SEPARATOR)
        if len(group) == self.group_levels and len(group) + len(edge) == 4:
            enterprise, site, area, line = (_unescape(part) for part in (*group, *edge))
        else:  # a foreign naming: group → enterprise, edge node → line
            enterprise, site, area, line = group_id, FILL, FILL, edge_node_id
        machine = self.node_device if device_id is None else device_id
        try:
            return MachinePath(enterprise, site, area, line, machine)
        except WireError as exc:
            raise SparkplugError("bad_topic", f"Sparkplug ids do not map onto a machine path: {exc.detail}") from None


DEFAULT_MAPPING = SparkplugMapping()


def machine_path_to_sparkplug(path: MachinePath, mapping: SparkplugMapping = DEFAULT_MAPPING) -> tuple[str, str, str]:
    """(group_id, edge_node_id, device_id) of a machine: what an edge node publishing it uses."""
    return mapping.to_sparkplug(path)


def sparkplug_to_machine_path(
    group_id: str, edge_node_id: str, device_id: str | None, mapping: SparkplugMapping = DEFAULT_MAPPING
) -> MachinePath:
    """The machine path of a Sparkplug device (`device_id` None: the edge node's own metrics)."""
    return mapping.to_machine_path(group_id, edge_node_id, device_id)


def is_control_metric(name: str) -> bool:
    """Whether a metric is a session or control metric (bdSeq, Node Control/…), never a reading."""
    return name == BDSEQ or name.startswith(CONTROL_PREFIXES)


def metric_to_sensor(name: str) -> str:
    """The sensor name of a data metric: the name itself, with each `/` written `.`."""
    return name.replace("/", ".")


def sensor_to_metric(sensor: str) -> str:
    """The metric name an edge node uses for a sensor or part characteristic (the name itself)."""
    return sensor
