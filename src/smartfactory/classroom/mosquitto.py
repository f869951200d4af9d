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

| `{student}.m{n}` (made by `classroom start`) | below the student's namespace | below the student's namespace |

Ingestion's `spBv1.0/#` is its Sparkplug host's STATE and rebirth requests; it and the lecturer also read
`$SYS/#`. Students and the lecturer may also publish and read `_sf/cli/inject/+/probe/cmd`: the empty probe
`smartfactory inject` echoes to itself to know that every retained birth has arrived.

Client ids are bound to accounts (issue 13: mosquitto's password file and ACL say what an account may read and
write, not which client id it may use, and a client connecting under an id in use takes that session over, with a
clean session ending it and its queue). mosquitto 2.0 has no per-account id rule, so, as in the compose stack's
deploy/mosquitto/mosquitto.conf:

- the **session port** (a second listener) has `use_username_as_clientid true`: the broker replaces every id with
  the account's username, so a session there belongs to exactly one account. Ingestion (session `sf-ingest`) and
  every machine connection of every plant (`student-07.m1`, one account per connection, made by `classroom
  start` with passwords held in memory only) connect there;
- `clientid_prefixes smartfactory-`: every id sent on either port must begin with `smartfactory-` (an empty id
  is given `smartfactory-auto-…`), and no username does (`roster.usernames`), so no id sent anywhere can name a
  session of the session port. mosquitto checks the prefix on the id sent, before the replacement.

Students, the lecturer, the dashboard and `inject` use the main port with ids beginning with `smartfactory-` or
none; those sessions are the clients' own, unbound (a student who wants a session only their password can touch
connects to the session port, where it is named after their username).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from pathlib import Path

from smartfactory.classroom import passwords
from smartfactory.classroom.namespace import PUBLIC
from smartfactory.classroom.roster import DASHBOARD_USER, INGEST_USER, Account, ClassDir, Member, write_private
from smartfactory.edge.broker import CLIENT_ID_PREFIX, MAX_PACKET_SIZE

INJECT_PROBE = "_sf/cli/inject/+/probe/cmd"


def broker_config(port: int, host: str, broker_dir: Path, session_port: int) -> str:
    """mosquitto.conf of the class broker; every path absolute, so it runs from any working directory."""
    root = broker_dir.resolve()
    return "\n".join(
        [
            "# Written by `smartfactory classroom init`; `smartfactory classroom start` runs mosquitto with it.",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {root / 'passwd'}",
            f"acl_file {root / 'acl'}",
            "# Client ids are bound to accounts (see smartfactory/classroom/mosquitto.py and docs/classroom.md):",
            f"# every id sent must begin with {CLIENT_ID_PREFIX} (no username does); on the session port the broker",
            "# replaces it with the username, so a session there (ingestion's, each plant machine's) is one account's.",
            f"clientid_prefixes {CLIENT_ID_PREFIX}",
            f"auto_id_prefix {CLIENT_ID_PREFIX}auto-",
            f"listener {port} {host}",
            f"listener {session_port} {host}",
            "use_username_as_clientid true",
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {root / 'data'}/",
            "autosave_interval 1",
            # ingestion's persistent session must keep everything while it is away (default: 1000 messages)
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            # as every generated broker: a packet over 1 MiB + 64 KiB is refused once its length header arrives
            # (mosquitto's own limit is 256 MiB; one 100 MB payload kept ingestion busy for 25 s, issue 13)
            f"max_packet_size {MAX_PACKET_SIZE}",
            f"log_dest file {root / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]
    )


def acl(members: Iterable[Member], plants: Iterable[Account] = ()) -> str:
    """The ACL: a block per student and for the lecturer, then the two service accounts and the plant accounts."""
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
    for plant in plants:
        lines += [f"user {plant.username}", f"topic readwrite {plant.namespace}/#", ""]
    return "\n".join(lines)


def add_plant_accounts(folder: ClassDir, plants: Iterable[Account]) -> None:
    """Rewrite `passwd` and `acl` with this run's plant accounts (replacing an earlier run's), before the broker
    starts: the members' and services' hashes from `classroom init` are kept as they are."""
    plants = list(plants)
    kept = {
        user: hashed
        for user, hashed in passwords.read_password_file(folder.password_file.read_text(encoding="utf-8")).items()
        if "." not in user  # a plant account of an earlier run: only plant usernames hold a '.'
    }
    made = {plant.username: passwords.hash_password(plant.password) for plant in plants}
    write_private(folder.password_file, passwords.password_file({**kept, **made}))
    folder.acl_file.write_text(acl(folder.info().members, plants), encoding="utf-8")


__all__ = ["INJECT_PROBE", "acl", "add_plant_accounts", "broker_config"]
