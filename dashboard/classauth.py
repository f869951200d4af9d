"""Classroom sign-in (no Streamlit): who is in the class (`class.json`) and their password hashes (the broker's
password file, `mosquitto/passwd`), so the dashboard checks a password exactly as the broker does and never
reads the plain-text roster."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smartfactory.classroom import passwords
from smartfactory.classroom.roster import ClassDir, ClassInfo, Member

#: Checked when the username is unknown, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = passwords.hash_password("not a password")


@dataclass(frozen=True)
class Roster:
    info: ClassInfo
    hashes: dict[str, str] = field(repr=False)
    folder: Path

    def check(self, username: str, password: str) -> Member | None:
        """The member whose roster credentials these are; None for anything else (service accounts too)."""
        member = self.info.member(username.strip())
        hashed = self.hashes.get(member.username) if member is not None else None
        ok = passwords.verify(password, hashed or _DUMMY_HASH)
        return member if ok and member is not None and hashed is not None else None


def load(folder: Path) -> Roster:
    """The class of a class folder; `ConfigError` when it is not one."""
    class_dir = ClassDir(folder)
    info = class_dir.info()
    hashes = passwords.read_password_file(class_dir.password_file.read_text(encoding="utf-8"))
    return Roster(info, hashes, folder)


__all__ = ["Roster", "load"]
