"""Browsing a smartfactory OPC UA server into a node map, and resolving a node map's node ids on a server.

The walk follows `naming.py`: below Objects, four levels of folders in our namespace (enterprise, site, area,
line), then machine objects, then their variables. A signal variable is one with a `SignalKind` property; its
`EngineeringUnits` give the unit and its `EURange` the spec limits.
"""

from __future__ import annotations

from typing import Any

from asyncua import Client, Node, ua

from smartfactory.errors import ConfigError, WireError
from smartfactory.opcua import naming
from smartfactory.opcua.nodemap import MachineNodes, NodeMap, SignalNode
from smartfactory.opcua.security import Security, apply_to_client
from smartfactory.opcua.server import quiet_asyncua
from smartfactory.wire import MachinePath

_FIXED = {
    naming.STATE: "state",
    naming.STATE_REASON: "state_reason",
    naming.PART_ID: "part_id",
    naming.VERDICT: "verdict",
}


async def resolve(client: Client, text: str, namespaces: dict[str, int] | None = None) -> ua.NodeId:
    """The node id of a node map entry; `nsu=URI;…` is resolved against the server's namespace array."""
    if text.startswith("nsu="):
        uri, _, rest = text[4:].partition(";")
        if namespaces is not None and uri in namespaces:
            index = namespaces[uri]
        else:
            try:
                index = await client.get_namespace_index(uri)
            except ValueError:
                raise ConfigError(f"the server has no namespace {uri!r} (node {text!r})") from None
            if namespaces is not None:
                namespaces[uri] = index
        text = f"ns={index};{rest}"
    try:
        return ua.NodeId.from_string(text)
    except Exception as exc:  # asyncua raises its own UaStringParsingError and plain ValueErrors
        raise ConfigError(f"{text!r} is not an OPC UA node id (e.g. ns=2;s=Name or ns=2;i=1001): {exc}") from None


async def _children(node: Node, ns: int, node_class: ua.NodeClass) -> list[tuple[str, Node]]:
    found = []
    for child in await node.get_children(nodeclassmask=node_class):
        name = await child.read_browse_name()
        if name.NamespaceIndex == ns:
            found.append((name.Name, child))
    return found


async def _properties(node: Node) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for prop in await node.get_properties():
        name = await prop.read_browse_name()
        values[name.Name] = await prop.read_value()
    return values


async def _signal(var: Node, props: dict[str, Any]) -> SignalNode:
    kind = props.get(naming.SIGNAL_KIND, "process")
    units = props.get(naming.ENGINEERING_UNITS)
    unit = units.DisplayName.Text if isinstance(units, ua.EUInformation) and units.DisplayName.Text else None
    if unit is not None and len(unit) > 32:  # longer than a wire unit: left out rather than cut
        unit = None
    limits = props.get(naming.EU_RANGE)
    low = high = None
    if isinstance(limits, ua.Range) and limits.Low < limits.High:
        low, high = float(limits.Low), float(limits.High)
    return SignalNode(
        node=naming.expanded(str(var.nodeid.Identifier))
        if isinstance(var.nodeid.Identifier, str)
        else var.nodeid.to_string(),
        kind=kind if kind in ("process", "quality", "count") else "process",
        unit=unit,
        lsl=low,
        usl=high,
    )


async def _machine(path: MachinePath, obj: Node, ns: int) -> MachineNodes:
    props = await _properties(obj)
    signals: dict[str, SignalNode] = {}
    fixed: dict[str, str] = {}
    for name, var in await _children(obj, ns, ua.NodeClass.Variable):
        if name in _FIXED:
            fixed[_FIXED[name]] = naming.expanded(naming.variable_key(path, name))
            continue
        var_props = await _properties(var)
        if naming.SIGNAL_KIND in var_props:
            signals[name] = await _signal(var, var_props)
    ideal, interval = props.get(naming.IDEAL_CYCLE_TIME), props.get(naming.SAMPLE_INTERVAL)
    return MachineNodes(
        path=str(path),
        machine_type=str(props.get(naming.MACHINE_TYPE) or "opcua")[:100],
        ideal_cycle_s=float(ideal) if isinstance(ideal, int | float) and ideal > 0 else None,
        sample_interval_s=float(interval) if isinstance(interval, int | float) and interval > 0 else None,
        signals=signals,
        **fixed,
    )


async def browse_plant(client: Client) -> NodeMap:
    """The node map of a smartfactory server (empty when the server has no smartfactory namespace)."""
    try:
        ns = await client.get_namespace_index(naming.NAMESPACE_URI)
    except ValueError:
        return NodeMap()
    machines: list[MachineNodes] = []

    async def walk(node: Node, levels: tuple[str, ...]) -> None:
        if len(levels) == 4:
            for name, obj in await _children(node, ns, ua.NodeClass.Object):
                try:
                    path = MachinePath(*levels, name)
                except WireError:
                    continue  # not a machine of ours (a level no topic may carry)
                machines.append(await _machine(path, obj, ns))
            return
        for name, child in await _children(node, ns, ua.NodeClass.Object):
            await walk(child, (*levels, name))

    await walk(client.nodes.objects, ())
    return NodeMap(machines=machines)


async def browse_endpoint(endpoint: str, security: Security) -> NodeMap:
    """Connect to `endpoint`, browse it (`browse_plant`) and disconnect; `ConfigError` when it cannot."""
    quiet_asyncua(client=True)
    client = Client(endpoint)
    await apply_to_client(client, security)
    try:
        async with client:
            return await browse_plant(client)
    except (OSError, TimeoutError, ua.UaError) as exc:
        raise ConfigError(f"cannot browse the OPC UA server at {endpoint}: {exc}") from None
