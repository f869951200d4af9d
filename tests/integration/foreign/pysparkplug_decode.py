"""Decode Sparkplug B messages with pysparkplug (a foreign codec), run in pysparkplug's own venv.

Reads JSON lines `{"topic": …, "payload": hex}` from stdin, in publishing order; writes one JSON line per message:
`{"type", "device", "seq", "metrics": [[name, alias, datatype name, value, timestamp], …]}`. Data messages are
decoded against the last birth of their device (pysparkplug resolves aliases and datatypes from it).
"""

from __future__ import annotations

import json
import sys

import pysparkplug as spb

births: dict[tuple[str, str, str | None], spb.DBirth | spb.NBirth] = {}
for line in sys.stdin:
    message = json.loads(line)
    levels = message["topic"].split("/")
    group, kind, node = levels[1], levels[2], levels[3]
    device = levels[4] if len(levels) == 5 else None
    raw = bytes.fromhex(message["payload"])
    out: dict[str, object] = {"type": kind, "device": device}
    if kind == "NDEATH":
        death = spb.NDeath.decode(raw)
        metrics = [death.bd_seq_metric]
        out["seq"] = None
    else:
        decoder = {"NBIRTH": spb.NBirth, "DBIRTH": spb.DBirth, "DDATA": spb.DData, "DDEATH": spb.DDeath}[kind]
        payload = decoder.decode(raw, birth=births.get((group, node, device)))
        if kind in ("NBIRTH", "DBIRTH"):
            births[(group, node, device)] = payload
        metrics = list(getattr(payload, "metrics", ()))
        out["seq"] = getattr(payload, "seq", None)
    out["metrics"] = [[m.name, m.alias, m.datatype.name, m.value, m.timestamp] for m in metrics]
    print(json.dumps(out), flush=True)
