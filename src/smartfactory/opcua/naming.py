"""How the plant looks in OPC UA: one namespace, ISA-95 folders, a machine object, its variables and properties.

    Objects/
      acme/ plant1/ machining/ line-1/          folders (enterprise, site, area, line)
        cnc-01                                  object: properties MachineType, IdealCycleTime, SampleInterval
          spindle_temp, diameter, …             Double, one per signal; properties SignalKind, EngineeringUnits,
                                                EURange (the spec limits lsl…usl, where both are known)
          State, StateReason, Status            String (running/idle/…; the reason code; online/offline)
          PartId, Verdict                       String: the last part and its verdict (good/scrap)
          PartsTotal, PartsGood, PartsScrap     UInt32 counters since the server started

String node ids carry the machine path, so a client can build them without browsing and they survive a server
restart: `ns=<index of NAMESPACE_URI>;s=acme/plant1/machining/line-1/cnc-01/spindle_temp`. Node maps write them
as `nsu=urn:smartfactory:plant;s=…`, which does not depend on the namespace's index on one server.
"""

from __future__ import annotations

from smartfactory.wire import MachinePath

NAMESPACE_URI = "urn:smartfactory:plant"

STATE = "State"
STATE_REASON = "StateReason"
STATUS = "Status"
PART_ID = "PartId"
VERDICT = "Verdict"
PARTS_TOTAL = "PartsTotal"
PARTS_GOOD = "PartsGood"
PARTS_SCRAP = "PartsScrap"
#: Variables of every machine that are not signals.
MACHINE_VARIABLES = (STATE, STATE_REASON, STATUS, PART_ID, VERDICT, PARTS_TOTAL, PARTS_GOOD, PARTS_SCRAP)

#: Properties of a signal variable (EngineeringUnits and EURange are the standard ones of OPC 10000-8, in ns 0).
SIGNAL_KIND = "SignalKind"
ENGINEERING_UNITS = "EngineeringUnits"
EU_RANGE = "EURange"
#: Properties of a machine object.
MACHINE_TYPE = "MachineType"
IDEAL_CYCLE_TIME = "IdealCycleTime"
SAMPLE_INTERVAL = "SampleInterval"


def folder_key(levels: tuple[str, ...]) -> str:
    return "/".join(levels)


def machine_key(path: MachinePath) -> str:
    return str(path)


def variable_key(path: MachinePath, name: str) -> str:
    return f"{path}/{name}"


def property_key(owner_key: str, prop: str) -> str:
    """`#` never occurs in a level (wire.py), so a property's id cannot clash with a variable's."""
    return f"{owner_key}#{prop}"


def expanded(key: str) -> str:
    """The node id as a node map writes it: by namespace URI, not index."""
    return f"nsu={NAMESPACE_URI};s={key}"
