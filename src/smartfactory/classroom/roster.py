"""The class folder (`classroom init --dir DIR`): who is in the class and where each student's plant lives.

Files (the ones holding passwords are written readable by their owner only):

| file | holds | secrets |
|---|---|---|
| `class.json` | broker address, plant, class seed, and per member: username, name, role, namespace, index, seed | no |
| `students.csv` | `username,password,namespace`: one row per student and one for the lecturer (namespace `lab`) | yes |
| `services.csv` | `username,password,role,client_id` of the ingestion and dashboard accounts | yes |
| `mosquitto/` | `mosquitto.conf`, `passwd` (hashes), `acl`; the broker's persistence and log at run time | hashes |

`classroom start` adds a plant account per machine connection of every started plant (`student-07.m1`, …) to
`passwd` and `acl`, with passwords made for that run and kept in memory only (see `plant_accounts`).
| `cards.md`, `cards.html` | printable login cards | yes |
| `store.db` | the class's one SQLite store (written by `classroom start`) | no |
| `results.csv` | exercise results `username,exercise,score,checked_at` (`smartfactory exercise check`) | no |
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from smartfactory.classroom.namespace import ENTERPRISE, Namespace
from smartfactory.edge.broker import CLIENT_ID_PREFIX
from smartfactory.errors import ConfigError

Role = Literal["student", "lecturer"]
ServiceRole = Literal["ingest", "dashboard"]
PLANT_ROLE = "plant"
LECTURER = "lecturer"
INGEST_USER = "sf-ingest"
DASHBOARD_USER = "sf-dashboard"
RESERVED = frozenset({LECTURER, INGEST_USER, DASHBOARD_USER})
FORMAT_VERSION = 1
STUDENT_COLUMNS = ("username", "password", "namespace")
SERVICE_COLUMNS = ("username", "password", "role", "client_id")


@dataclass(frozen=True, slots=True)
class Member:
    """A student or the lecturer, without the password (that lives in students.csv and, hashed, in passwd)."""

    username: str
    role: Role
    namespace: str
    name: str = ""
    index: int = 0
    seed: int | None = None

    @property
    def is_lecturer(self) -> bool:
        return self.role == "lecturer"

    def sees(self, series_or_path: str) -> bool:
        """True when this member may see a series, topic or machine path (the lecturer sees everything)."""
        return self.is_lecturer or series_or_path.startswith(f"{self.namespace}/")


@dataclass(frozen=True, slots=True)
class Account:
    """A broker account with its password (a member's, or a service's)."""

    username: str
    password: str
    role: str
    namespace: str = ""
    #: the client id a service sends (ingestion: `smartfactory-ingest-` and random hex; it names the spool and the
    #: health topic). On the session port the broker replaces it with the username, which names the session.
    client_id: str = ""


@dataclass(frozen=True)
class ClassInfo:
    """`class.json`: everything about the class except passwords. `host` is the address the broker listens on,
    `address` the one students connect to (printed on the cards). `session_port` is the broker's second listener,
    where client id = username (ingestion and the plants connect there); 0 in a class written before it existed."""

    host: str
    port: int
    address: str
    dashboard_port: int
    plant: str
    class_seed: int
    members: tuple[Member, ...] = field(default_factory=tuple)
    version: int = FORMAT_VERSION
    session_port: int = 0

    @property
    def students(self) -> list[Member]:
        return [m for m in self.members if m.role == "student"]

    def member(self, username: str) -> Member | None:
        return next((m for m in self.members if m.username == username), None)

    def to_json(self) -> str:
        body = asdict(self)
        body["members"] = [asdict(m) for m in self.members]
        return json.dumps(body, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "class.json") -> ClassInfo:
        try:
            body = json.loads(text)
            members = tuple(Member(**m) for m in body.pop("members"))
            if body.get("version") != FORMAT_VERSION:
                raise ConfigError(
                    f"{source}: version {body.get('version')!r}; this smartfactory reads {FORMAT_VERSION}"
                )
            return cls(members=members, **body)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"{source} is not a class file written by `smartfactory classroom init`: {exc}") from None


def derive_seed(class_seed: int, index: int) -> int:
    """A student's simulator seed: the same class seed and index always give the same seed (SHA-256, 32 bits)."""
    digest = hashlib.sha256(f"smartfactory-classroom:{class_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


_NOT_NAME = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A username from a person's name: ASCII lowercase letters and digits joined by '-' ("Zoë Ng" → "zoe-ng")."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NOT_NAME.sub("-", ascii_.lower()).strip("-")[:32].strip("-")


def usernames(names: Sequence[str]) -> list[str]:
    """One unique username per name (a suffix -2, -3, … for repeats; `student-NN` for names with no letters).

    No username begins with `smartfactory-`: every client id sent to the class broker does (`clientid_prefixes`),
    so no id can name a session of the session port, where ids are usernames."""
    width = max(2, len(str(len(names))))
    taken: set[str] = set(RESERVED)
    out = []
    for index, name in enumerate(names, start=1):
        base = slug(name) or f"student-{index:0{width}d}"
        if base.startswith(CLIENT_ID_PREFIX):
            base = f"student-{base}"
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


def plant_accounts(member: Member, machines: Sequence[str], make_password: Callable[[], str]) -> dict[str, Account]:
    """Machine path → the account its connection uses: one per machine, since the session port names a session
    after its account and every machine has a connection of its own (its own last will). Usernames are
    `{student}.m{n}` (a '.' is in no student's username), the namespace the student's."""
    return {
        path: Account(f"{member.username}.m{n}", make_password(), PLANT_ROLE, member.namespace)
        for n, path in enumerate(machines, start=1)
    }


def read_names(path: Path) -> list[str]:
    """Names from a roster CSV: the `name` (or `username`) column when the first row is a header, else the first
    column; blank rows skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read the roster {path}: {exc}") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows:
        raise ConfigError(f"the roster {path} holds no names (one name per line, or a CSV with a 'name' column)")
    header = [cell.strip().lower() for cell in rows[0]]
    column = 0
    for wanted in ("name", "username"):
        if wanted in header:
            column = header.index(wanted)
            rows = rows[1:]
            break
    names = [row[column].strip() for row in rows if len(row) > column and row[column].strip()]
    if not names:
        raise ConfigError(f"the roster {path} holds no names below its header")
    return names


# ------------------------------------------------------------------------------------------ the folder


@dataclass(frozen=True)
class ClassDir:
    """The paths of a class folder."""

    root: Path

    @property
    def info_file(self) -> Path:
        return self.root / "class.json"

    @property
    def students_file(self) -> Path:
        return self.root / "students.csv"

    @property
    def services_file(self) -> Path:
        return self.root / "services.csv"

    @property
    def broker_dir(self) -> Path:
        return self.root / "mosquitto"

    @property
    def broker_conf(self) -> Path:
        return self.broker_dir / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.broker_dir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.broker_dir / "acl"

    @property
    def store_file(self) -> Path:
        return self.root / "store.db"

    @property
    def limits_file(self) -> Path:
        return self.root / "limits.toml"

    @property
    def results_file(self) -> Path:
        return self.root / "results.csv"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def exists(self) -> bool:
        return self.info_file.is_file()

    def info(self) -> ClassInfo:
        if not self.info_file.is_file():
            raise ConfigError(f"{self.root} is not a class folder (no class.json): run `smartfactory classroom init`")
        return ClassInfo.from_json(self.info_file.read_text(encoding="utf-8"), str(self.info_file))

    def accounts(self) -> dict[str, Account]:
        """Every account with its password: members from students.csv, services from services.csv."""
        info = self.info()
        out: dict[str, Account] = {}
        for row in _read_csv(self.students_file, STUDENT_COLUMNS):
            member = info.member(row["username"])
            role = member.role if member is not None else "student"
            out[row["username"]] = Account(row["username"], row["password"], role, row["namespace"])
        for row in _read_csv(self.services_file, SERVICE_COLUMNS):
            out[row["username"]] = Account(row["username"], row["password"], row["role"], client_id=row["client_id"])
        return out

    def service(self, role: ServiceRole) -> Account:
        found = [a for a in self.accounts().values() if a.role == role]
        if not found:
            raise ConfigError(f"{self.services_file} has no {role} account: run `smartfactory classroom init` again")
        return found[0]


def _read_csv(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    missing = [c for c in columns if rows and c not in rows[0]]
    if missing:
        raise ConfigError(f"{path} lacks the column(s) {', '.join(missing)}")
    return rows


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (passwords, hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def lecturer_namespace() -> str:
    """The lecturer row's namespace in students.csv: the whole lab."""
    return ENTERPRISE


__all__ = [
    "DASHBOARD_USER",
    "INGEST_USER",
    "LECTURER",
    "PLANT_ROLE",
    "Account",
    "ClassDir",
    "ClassInfo",
    "Member",
    "Namespace",
    "csv_text",
    "derive_seed",
    "plant_accounts",
    "read_names",
    "slug",
    "usernames",
    "write_private",
]
