"""`smartfactory classroom init`: write a class folder (roster, broker configuration, login cards)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from smartfactory.classroom import cards, mosquitto, passwords
from smartfactory.classroom.namespace import student_namespace
from smartfactory.classroom.roster import (
    DASHBOARD_USER,
    INGEST_USER,
    LECTURER,
    SERVICE_COLUMNS,
    STUDENT_COLUMNS,
    Account,
    ClassDir,
    ClassInfo,
    Member,
    csv_text,
    derive_seed,
    lecturer_namespace,
    usernames,
    write_private,
)
from smartfactory.edge.broker import CLIENT_ID_PREFIX
from smartfactory.errors import ConfigError

MAX_STUDENTS = 999


@dataclass(frozen=True)
class ClassOptions:
    students: int
    names: Sequence[str] = ()
    port: int = 1883
    #: the listener where client id = username (ingestion's and the plants' sessions); None: port + 1
    session_port: int | None = None
    host: str = "127.0.0.1"
    address: str | None = None
    dashboard_port: int = 8501
    plant: str = "default"
    class_seed: int | None = None
    iterations: int = passwords.DEFAULT_ITERATIONS


def init_class(folder: ClassDir, options: ClassOptions, *, force: bool = False) -> ClassInfo:
    """Write every file of a new class; refuses to overwrite a class (printed cards would stop working) unless
    `force`."""
    if folder.exists() and not force:
        raise ConfigError(f"{folder.root} already holds a class (class.json); give --force to replace it")
    count = len(options.names) if options.names else options.students
    if options.names and options.students and options.students != len(options.names):
        raise ConfigError(f"--students {options.students} but the roster lists {len(options.names)} names")
    if not 1 <= count <= MAX_STUDENTS:
        raise ConfigError(f"a class has 1 to {MAX_STUDENTS} students, not {count}")
    session_port = options.session_port or (options.port + 1 if options.port < 65535 else options.port - 1)
    if session_port in (options.port, options.dashboard_port) or options.port == options.dashboard_port:
        raise ConfigError(
            f"broker port {options.port}, session port {session_port} and dashboard port {options.dashboard_port} "
            "must all differ: give --mqtt-port, --session-port or --dashboard-port"
        )
    class_seed = secrets.randbits(32) if options.class_seed is None else options.class_seed
    width = max(2, len(str(count)))
    names = list(options.names) or [""] * count
    members = [
        Member(
            username=user,
            role="student",
            namespace=str(student_namespace(i, width)),
            name=name,
            index=i,
            seed=derive_seed(class_seed, i),
        )
        for i, (user, name) in enumerate(zip(usernames(names), names, strict=True), start=1)
    ]
    members.append(Member(username=LECTURER, role="lecturer", namespace=lecturer_namespace(), name="Lecturer"))
    info = ClassInfo(
        host=options.host,
        port=options.port,
        session_port=session_port,
        address=options.address or ("localhost" if options.host in ("127.0.0.1", "0.0.0.0", "::") else options.host),
        dashboard_port=options.dashboard_port,
        plant=options.plant,
        class_seed=class_seed,
        members=tuple(members),
    )
    accounts = {m.username: Account(m.username, passwords.generate(), m.role, m.namespace) for m in members}
    services = [
        Account(
            INGEST_USER, passwords.generate(24), "ingest", client_id=f"{CLIENT_ID_PREFIX}ingest-{secrets.token_hex(8)}"
        ),
        Account(DASHBOARD_USER, passwords.generate(24), "dashboard"),
    ]
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.info_file.write_text(info.to_json(), encoding="utf-8")
    write_private(
        folder.students_file,
        csv_text(STUDENT_COLUMNS, [(a.username, a.password, a.namespace) for a in accounts.values()]),
    )
    write_private(
        folder.services_file,
        csv_text(SERVICE_COLUMNS, [(s.username, s.password, s.role, s.client_id) for s in services]),
    )
    hashes = {
        a.username: passwords.hash_password(a.password, iterations=options.iterations)
        for a in [*accounts.values(), *services]
    }
    write_private(folder.password_file, passwords.password_file(hashes))
    folder.acl_file.write_text(mosquitto.acl(members), encoding="utf-8")
    folder.broker_conf.write_text(
        mosquitto.broker_config(info.port, info.host, folder.broker_dir, info.session_port), encoding="utf-8"
    )
    class_cards = cards.cards(info, accounts)
    write_private(folder.root / "cards.md", cards.markdown(class_cards))
    write_private(folder.root / "cards.html", cards.html_page(class_cards))
    return info


def names_or_count(students: int | None, names: Sequence[str]) -> int:
    if students is None and not names:
        raise ConfigError("give --students N or --roster names.csv")
    return students or 0


__all__ = ["ClassOptions", "init_class", "names_or_count"]
