"""The class broker's configuration for mosquitto 2: one listener, no anonymous clients, a password file and an
ACL with one block per account (mosquitto.conf(5): `allow_anonymous`, `password_file`, `acl_file`; the ACL's
`user` and `topic read|write|readwrite` lines).

Who may do what:

| account | may publish | may read |
|---|---|---|
| a student | below its namespace (`lab/student-07/#`) | below its namespace, and `lab/_public/#` |
| `lecturer` | commands anywhere (`+/+/+/+/+/cmd`, fault injection), `lab/_public/#` | everything, `$SYS/#` |
| `sf-ingest` | `_sf/#` (health, dead letters), alarms `+/+/+/+/+/alarm/+`, `spBv1.0/#` (Sparkplug) | everything |
| `sf-dashboard` | alarm acknowledgements `+/+/+/+/+/ack/+` | `_sf/health/+`, births `+/+/+/+/+/status` |

Ingestion's `spBv1.0/#` is its Sparkplug host's STATE and rebirth requests; it and the lecturer also read
`$SYS/#`. Students and the lecturer may also publish and read `_sf/cli/inject/+/probe/cmd`: the empty probe
`smartfactory inject` echoes to itself to know that every retained birth has arrived.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from pathlib import Path

from smartfactory.classroom.namespace import PUBLIC
from smartfactory.classroom.roster import DASHBOARD_USER, INGEST_USER, Member

INJECT_PROBE = "_sf/cli/inject/+/probe/cmd"


def broker_config(port: int, host: str, broker_dir: Path) -> str:
    """mosquitto.conf of the class broker; every path absolute, so it runs from any working directory."""
    root = broker_dir.resolve()
    return "\n".join(
        [
            "# Written by `smartfactory classroom init`; `smartfactory classroom start` runs mosquitto with it.",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {root / 'passwd'}",
            f"acl_file {root / 'acl'}",
            f"listener {port} {host}",
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {root / 'data'}/",
            "autosave_interval 1",
            # ingestion's persistent session must keep everything while it is away (default: 1000 messages)
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            f"log_dest file {root / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]
    )


def acl(members: Iterable[Member]) -> str:
    """The ACL: a block per student and for the lecturer, then the two service accounts."""
    lines = [
        "# Written by `smartfactory classroom init`. Anything not granted is denied: a publish without",
        "# permission is dropped by the broker, a subscription receives nothing it may not read.",
        "",
    ]
    for member in members:
        if member.is_lecturer:
            lines += [
                f"user {member.username}",
                "topic read #",
                "topic read $SYS/#",
                "topic write +/+/+/+/+/cmd",
                f"topic readwrite {PUBLIC}/#",
                f"topic readwrite {INJECT_PROBE}",
                "",
            ]
        else:
            lines += [
                f"user {member.username}",
                f"topic readwrite {member.namespace}/#",
                f"topic read {PUBLIC}/#",
                f"topic readwrite {INJECT_PROBE}",
                "",
            ]
    lines += [
        f"user {INGEST_USER}",
        "topic read #",
        "topic read $SYS/#",
        "topic write _sf/#",
        "topic write +/+/+/+/+/alarm/+",
        "topic write spBv1.0/#",
        "",
        f"user {DASHBOARD_USER}",
        "topic write +/+/+/+/+/ack/+",
        "topic read _sf/health/+",
        "topic read +/+/+/+/+/status",
        "",
    ]
    return "\n".join(lines)


__all__ = ["INJECT_PROBE", "acl", "broker_config"]
