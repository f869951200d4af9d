"""Who may talk to the OPC UA server, and how: anonymous (the loopback demo), a user name and password, and
`Basic256Sha256` with `SignAndEncrypt` (OPC 10000-7 security policy; certificates made here on first use).

Certificates are self-signed application instance certificates, generated with asyncua's public helper
(`asyncua.crypto.cert_gen.setup_self_signed_certificate`, RSA 2048, valid a year, renewed when invalid) into one
folder (`DATA_DIR/opcua` by default): `server-key.pem` + `server-cert.der`, `client-key.pem` + `client-cert.der`.
Neither side checks the other's certificate against a trust list: the channel is signed and encrypted, but who
holds the other end is vouched for by the user name and password only (docs/opcua.md, "Security").
"""

from __future__ import annotations

import hmac
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from asyncua import Client, Server, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

from smartfactory.errors import ConfigError

SecurityMode = Literal["none", "sign-encrypt"]
SECURITY_MODES: tuple[SecurityMode, ...] = ("none", "sign-encrypt")
#: The environment variable the password is read from (never a command-line argument: `ps` shows those).
PASSWORD_ENV = "OPCUA_PASSWORD"
SERVER_URI = "urn:smartfactory:opcua:server"
CLIENT_URI = "urn:smartfactory:opcua:bridge"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class Security:
    """The security options of one side. `username` set: that user (and no anonymous client) is accepted."""

    mode: SecurityMode = "none"
    username: str | None = None
    password: str | None = None
    cert_dir: Path = Path("data") / "opcua"

    def __post_init__(self) -> None:
        if self.mode not in SECURITY_MODES:
            raise ConfigError(f"OPC UA security must be one of {', '.join(SECURITY_MODES)}, not {self.mode!r}")
        if self.username is not None and not self.password:
            raise ConfigError(f"OPC UA user {self.username!r} needs a password: set {PASSWORD_ENV}")

    @classmethod
    def from_options(cls, mode: str, username: str | None, cert_dir: Path) -> Security:
        """From command-line options; the password comes from `OPCUA_PASSWORD`."""
        password = os.environ.get(PASSWORD_ENV) if username else None
        return cls(mode=mode, username=username, password=password, cert_dir=cert_dir)  # type: ignore[arg-type]

    def describe(self) -> str:
        who = f"user {self.username}" if self.username else "anonymous"
        how = "Basic256Sha256 SignAndEncrypt" if self.mode == "sign-encrypt" else "no encryption"
        return f"{who}, {how}"


class PasswordUserManager:
    """Accepts one user name and password (compared in constant time); everyone else is refused.

    asyncua calls `get_user` of the user manager it is given (`asyncua.server.user_managers.UserManager`'s protocol).
    """

    def __init__(self, username: str, password: str) -> None:
        self._username = username.encode()
        self._password = password.encode()

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is None or password is None:
            return None
        same_user = hmac.compare_digest(username.encode(), self._username)
        same_password = hmac.compare_digest(password.encode(), self._password)
        return User(role=UserRole.User, name=username) if same_user and same_password else None


def user_manager(security: Security) -> PasswordUserManager | None:
    """The server's user manager: a password check when a user is configured, else asyncua's default."""
    if security.username is None or security.password is None:
        return None
    return PasswordUserManager(security.username, security.password)


async def _pair(security: Security, role: str, uri: str, usage: list[Any]) -> tuple[Path, Path]:
    security.cert_dir.mkdir(parents=True, exist_ok=True)
    key, cert = security.cert_dir / f"{role}-key.pem", security.cert_dir / f"{role}-cert.der"
    await cert_gen.setup_self_signed_certificate(
        key, cert, uri, socket.gethostname(), usage, {"organizationName": "smartfactory"}
    )
    return key, cert


async def apply_to_server(server: Server, security: Security) -> None:
    """Endpoints and identity tokens of `server` (call before `start()`)."""
    await server.set_application_uri(SERVER_URI)
    tokens: list[type] = [ua.UserNameIdentityToken] if security.username else [ua.AnonymousIdentityToken]
    server.set_identity_tokens(tokens)
    if security.mode == "sign-encrypt":
        key, cert = await _pair(security, "server", SERVER_URI, [ExtendedKeyUsageOID.SERVER_AUTH])
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])


async def apply_to_client(client: Client, security: Security) -> None:
    """Credentials and channel security of `client` (call before `connect()`)."""
    client.application_uri = CLIENT_URI
    if security.username is not None and security.password is not None:
        client.set_user(security.username)
        client.set_password(security.password)
    if security.mode == "sign-encrypt":
        key, cert = await _pair(security, "client", CLIENT_URI, [ExtendedKeyUsageOID.CLIENT_AUTH])
        await client.set_security(
            SecurityPolicyBasic256Sha256, str(cert), str(key), mode=ua.MessageSecurityMode.SignAndEncrypt
        )


def warn_exposed(host: str | None, security: Security) -> str | None:
    """A warning when an anonymous, unencrypted server listens beyond loopback; None when that is not the case."""
    if host in LOOPBACK or (security.username and security.mode == "sign-encrypt"):
        return None
    return (
        f"the OPC UA server listens on {host} ({security.describe()}): anyone who reaches the port can read the "
        "plant; use --opcua-user and --opcua-security sign-encrypt in a shared network"
    )
