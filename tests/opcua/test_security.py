"""The server's security options against a foreign asyncua client: a user and password instead of anonymous, and
Basic256Sha256 SignAndEncrypt with certificates made on first use."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua

from smartfactory.errors import ConfigError
from smartfactory.opcua.bridge import BridgeOptions
from smartfactory.opcua.security import Security, apply_to_client
from smartfactory.opcua.server import PlantServer
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, SignalInfo
from tests.conftest import wait_until
from tests.opcua.conftest import BridgeThread

PATH = MachinePath("acme", "plant1", "area", "line-1", "m-01")
INFO = MachineInfo(machine_type="t", signals={"temp": SignalInfo(kind="process", unit="°C")})


def _serve(endpoint: str, security: Security) -> Iterator[PlantServer]:
    server = PlantServer(endpoint, [(PATH, INFO)], security=security)
    server.start()
    server(PATH.topic(MessageClass.TELEMETRY), b'{"ts": 1700000000000, "values": {"temp": 21.5}}', False)
    yield server
    server.close()


async def _read_temp(client: Client) -> float:
    async with client:
        ns = await client.get_namespace_index("urn:smartfactory:plant")
        node = client.get_node(ua.NodeId("acme/plant1/area/line-1/m-01/temp", ns))
        for _ in range(100):  # the write is handed to the server's loop: it lands within a few milliseconds
            value = await node.read_data_value(raise_on_bad_status=False)
            if value.StatusCode.is_good():
                return float(value.Value.Value)
            await asyncio.sleep(0.02)
        raise AssertionError("the value never arrived")


@pytest.fixture
def user_server(endpoint: str, tmp_path: Path) -> Iterator[PlantServer]:
    yield from _serve(endpoint, Security(username="operator", password="s3cret-pw", cert_dir=tmp_path / "certs"))


def test_a_user_server_refuses_anonymous_and_wrong_passwords_and_admits_the_user(
    user_server: PlantServer, endpoint: str
) -> None:
    with pytest.raises(ua.UaError, match="BadIdentityTokenRejected"):  # anonymous is not offered
        asyncio.run(_read_temp(Client(endpoint)))
    wrong = Client(endpoint)
    wrong.set_user("operator")
    wrong.set_password("guess")
    with pytest.raises(ua.UaError, match="BadUserAccessDenied"):
        asyncio.run(_read_temp(wrong))
    right = Client(endpoint)
    asyncio.run(apply_to_client(right, Security(username="operator", password="s3cret-pw")))
    assert asyncio.run(_read_temp(right)) == 21.5


@pytest.fixture
def encrypted_server(endpoint: str, tmp_path: Path) -> Iterator[PlantServer]:
    yield from _serve(endpoint, Security(mode="sign-encrypt", cert_dir=tmp_path / "server-certs"))


def test_sign_and_encrypt_makes_certificates_and_refuses_plain_channels(
    encrypted_server: PlantServer, endpoint: str, tmp_path: Path
) -> None:
    assert (tmp_path / "server-certs" / "server-cert.der").is_file()
    with pytest.raises(ua.UaError, match="No matching endpoints"):  # no endpoint without security
        asyncio.run(_read_temp(Client(endpoint)))

    async def secure() -> float:
        client = Client(endpoint)
        await apply_to_client(client, Security(mode="sign-encrypt", cert_dir=tmp_path / "client-certs"))
        assert client.security_policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        return await _read_temp(client)

    assert asyncio.run(secure()) == 21.5
    assert (tmp_path / "client-certs" / "client-key.pem").is_file()


def test_a_user_without_a_password_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="OPCUA_PASSWORD"):
        Security(username="operator", password=None)


@pytest.fixture
def gateway_server(endpoint: str, tmp_path: Path) -> Iterator[PlantServer]:
    security = Security(mode="sign-encrypt", username="gateway", password="pw-1", cert_dir=tmp_path / "server")
    yield from _serve(endpoint, security)


def test_the_bridge_reads_an_encrypted_server_with_a_user(
    gateway_server: PlantServer, endpoint: str, tmp_path: Path
) -> None:
    client_side = Security(mode="sign-encrypt", username="gateway", password="pw-1", cert_dir=tmp_path / "bridge")
    sent: list[tuple[str, bytes, bool]] = []
    bridge = BridgeThread(BridgeOptions(endpoint=endpoint, security=client_side), lambda *m: sent.append(m))
    try:
        assert wait_until(lambda: bridge.bridge.stats.readings >= 1, 30), bridge.bridge.stats
    finally:
        bridge.stop()
    telemetry = [p for t, p, _ in sent if t == PATH.topic(MessageClass.TELEMETRY)]
    assert b'"temp":21.5' in telemetry[0]
    assert bridge.bridge.stats.outages == 0
