"""Passwords for mosquitto 2's password file, hashed the way `mosquitto_passwd` does, and checked the same way.

mosquitto 2.0 stores a line `username:$7$ITERATIONS$SALT$HASH` per account: PBKDF2-HMAC-SHA512 (RFC 8018) over
the UTF-8 password with a 12-byte random salt, 101 iterations by default, a 64-byte derived key, salt and key in
standard base64 (mosquitto's `src/password_mosq.c`, `pw__hash` with `pw_sha512_pbkdf2`). `$6$` lines (one round of
salted SHA-512, mosquitto 1.x) are still read by the broker; `verify` checks both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

from smartfactory.errors import ConfigError

SALT_BYTES = 12
KEY_BYTES = 64
#: mosquitto_passwd's default (PW_DEFAULT_ITERATIONS). Our passwords are random (`generate`), ~70 bits each, so
#: the cost of a guess matters less than for chosen ones; the broker checks every CONNECT with this many rounds.
DEFAULT_ITERATIONS = 101
#: Letters and digits without look-alikes (0/O, 1/l/I), so a password copied from a printed card is typed right.
ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
PASSWORD_LENGTH = 12


def generate(length: int = PASSWORD_LENGTH) -> str:
    """A random password from `secrets` (12 characters of 57: about 70 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """The `$7$…` hash of `password` as mosquitto 2 writes it (without the `username:` in front)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify(password: str, encoded: str) -> bool:
    """True when `password` matches a `$7$` (PBKDF2-SHA512) or `$6$` (salted SHA-512) hash; constant-time compare."""
    parts = encoded.split("$")
    try:
        if len(parts) == 5 and parts[0] == "" and parts[1] == "7":
            iterations = int(parts[2])
            salt, key = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
            if iterations < 1 or not key:
                return False
            derived = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, len(key))
            return hmac.compare_digest(derived, key)
        if len(parts) == 4 and parts[0] == "" and parts[1] == "6":
            salt, key = base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
            return hmac.compare_digest(hashlib.sha512(password.encode("utf-8") + salt).digest(), key)
    except ValueError:  # bad base64 or iteration count: not a hash we can check
        return False
    return False


def password_file(accounts: dict[str, str]) -> str:
    """A mosquitto password file: one `username:hash` line per account (`accounts` maps user → hash)."""
    lines = []
    for user, hashed in accounts.items():
        if not user or ":" in user or any(c.isspace() for c in user):
            raise ConfigError(f"username {user!r} cannot go into a mosquitto password file (no ':' or spaces)")
        lines.append(f"{user}:{hashed}")
    return "\n".join(lines) + "\n"


def read_password_file(text: str) -> dict[str, str]:
    """user → hash from a mosquitto password file (blank lines and `#` comments skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, hashed = line.split(":", 1)
            out[user] = hashed
    return out


__all__ = [
    "DEFAULT_ITERATIONS",
    "generate",
    "hash_password",
    "password_file",
    "read_password_file",
    "verify",
]
