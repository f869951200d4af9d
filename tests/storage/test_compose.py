"""docker-compose.yml: valid for Debian's docker-compose (no engine needed), refuses to start without secrets,
and declares the services, ports, health checks, volumes and environment the stack needs. The InfluxDB admin
token goes to influxdb and the one-shot influx-tokens only; ingest and the dashboard wait for it and read tokens
of their own from files (issue 13). The entrypoint scripts refuse placeholder secrets and read the token file.
deploy/influxdb/create-tokens.sh itself is run against a fake influx CLI in test_influx_tokens.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartfactory.settings import known_env_names, parse_mqtt_url
from smartfactory.storage.influxconf import parse_influx_url
from tests.conftest import ROOT, path_with_interpreter_bin

COMPOSE = ROOT / "docker-compose.yml"
SCALE = ROOT / "deploy" / "compose.scale.yml"
TOKENS_SCRIPT = ROOT / "deploy" / "influxdb" / "create-tokens.sh"
#: The services that may hold the InfluxDB admin token: the server and the one-shot that makes the others' tokens.
ADMIN_TOKEN_HOLDERS = {"influxdb", "influx-tokens"}
#: Each InfluxDB client service, the volume holding its own token, and what that token may do on the bucket.
TOKEN_VOLUMES = {"ingest": "influx-token-ingest", "dashboard": "influx-token-dashboard"}
GRANTS = {"ingest": {"read", "write"}, "dashboard": {"read"}}
EXAMPLE = ROOT / ".env.example"
SECRETS = {
    "MQTT_INGEST_PASSWORD": "ingestSecret0123",
    "MQTT_SIM_PASSWORD": "simSecret012345",
    "MQTT_DASHBOARD_PASSWORD": "dashSecret01234",
    "MQTT_OPERATOR_PASSWORD": "opSecret0123456",
    "INFLUX_ADMIN_PASSWORD": "adminSecret0123",
    "INFLUX_TOKEN": "tokenSecret0123456789",
}
needs_compose = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (CI installs it: apt-get install docker-compose)",
)


def compose(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, files: tuple[Path, ...] = (COMPOSE,)
) -> subprocess.CompletedProcess[str]:
    """Run docker-compose with an env file holding `env` (CI has no .env) from a clean environment."""
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in (env or {}).items()))
    clean = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    command = ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file)]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, env=clean, cwd=tmp_path)


def rendered(tmp_path: Path, env: dict[str, str], files: tuple[Path, ...] = (COMPOSE,)) -> dict[str, Any]:
    result = compose(tmp_path, "config", env=env, files=files)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


@needs_compose
def test_the_file_is_valid_with_secrets_given(tmp_path: Path) -> None:
    result = compose(tmp_path, "config", "-q", env=SECRETS)
    assert result.returncode == 0, result.stderr


@needs_compose
def test_the_stack_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = compose(tmp_path, "config", "-q", env={})
    assert result.returncode != 0
    assert "copy .env.example to .env" in result.stderr


@needs_compose
def test_services_ports_health_volumes_and_restart(tmp_path: Path) -> None:
    config = rendered(tmp_path, SECRETS)
    services = config["services"]
    assert set(services) == {"mosquitto", "influxdb", "influx-tokens", "ingest", "simulator", "dashboard"}
    assert services["mosquitto"]["image"] == "eclipse-mosquitto:2"
    assert services["influxdb"]["image"] == services["influx-tokens"]["image"] == "influxdb:2.7"
    assert {services[name]["image"] for name in ("ingest", "simulator", "dashboard")} == {"smartfactory:local"}
    assert all("build" in services[name] for name in ("ingest", "simulator", "dashboard"))
    for name, service in services.items():
        if name == "influx-tokens":  # one-shot: it runs to completion before ingest and dashboard start
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"], name

    def published(name: str) -> set[str]:
        return {str(port) for port in services[name].get("ports", [])}

    assert published("mosquitto") == {"127.0.0.1:1883:1883/tcp"}
    assert published("influxdb") == {"127.0.0.1:8086:8086/tcp"}
    assert published("dashboard") == {"127.0.0.1:8501:8501/tcp"}
    assert published("ingest") == published("simulator") == set()
    lab = rendered(tmp_path, {**SECRETS, "BIND_ADDRESS": "0.0.0.0", "DASHBOARD_PORT": "80"})
    assert {str(p) for p in lab["services"]["dashboard"]["ports"]} == {"0.0.0.0:80:8501/tcp"}

    assert set(config["volumes"]) == {
        "mosquitto-data",
        "influxdb-data",
        "influxdb-config",
        "smartfactory-data",
        *TOKEN_VOLUMES.values(),
    }
    assert "mosquitto-data:/mosquitto/data:rw" in services["mosquitto"]["volumes"]
    assert "influxdb-data:/var/lib/influxdb2:rw" in services["influxdb"]["volumes"]
    for name in ("ingest", "dashboard"):
        assert services[name]["depends_on"]["influxdb"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["mosquitto"]["condition"] == "service_healthy"


@needs_compose
def test_environment_wires_the_services_together(tmp_path: Path) -> None:
    services = rendered(tmp_path, {**SECRETS, "INFLUX_ORG": "lab", "INFLUX_BUCKET": "hall"})["services"]
    influx = services["influxdb"]["environment"]
    assert influx["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert (influx["DOCKER_INFLUXDB_INIT_ORG"], influx["DOCKER_INFLUXDB_INIT_BUCKET"]) == ("lab", "hall")
    assert influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"] == SECRETS["INFLUX_TOKEN"]
    assert influx["DOCKER_INFLUXDB_INIT_PASSWORD"] == SECRETS["INFLUX_ADMIN_PASSWORD"]
    users = {"ingest": "ingest", "simulator": "simulator", "dashboard": "dashboard"}
    passwords = {
        "ingest": "MQTT_INGEST_PASSWORD",
        "simulator": "MQTT_SIM_PASSWORD",
        "dashboard": "MQTT_DASHBOARD_PASSWORD",
    }
    known = set(known_env_names())
    for name, user in users.items():
        env = services[name]["environment"]
        broker = parse_mqtt_url(env["SMARTFACTORY_MQTT_URL"])
        assert (broker.host, broker.port, broker.username) == ("mosquitto", 1883, user)
        assert broker.password == env["MQTT_PASSWORD"] == SECRETS[passwords[name]]
        unknown = {key for key in env if key.startswith("SMARTFACTORY_")} - known
        assert not unknown, f"{name} sets variables smartfactory does not know: {unknown}"
    for name in ("ingest", "dashboard"):
        env = services[name]["environment"]
        target = parse_influx_url(env["SMARTFACTORY_STORE"])
        assert (target.http_url, target.org, target.bucket) == ("http://influxdb:8086", "lab", "hall")
        assert "SMARTFACTORY_INFLUX_TOKEN" not in env  # the entrypoint reads it from INFLUX_TOKEN_FILE
        assert env["INFLUX_TOKEN_FILE"]
    assert not {"SMARTFACTORY_INFLUX_TOKEN", "INFLUX_TOKEN_FILE"} & set(services["simulator"]["environment"])
    tokens = services["influx-tokens"]["environment"]
    assert tokens["INFLUX_TOKEN"] == SECRETS["INFLUX_TOKEN"]  # the admin token: it makes the services' tokens
    assert (tokens["INFLUX_HOST"], tokens["INFLUX_ORG"], tokens["INFLUX_BUCKET"]) == (
        "http://influxdb:8086",
        "lab",
        "hall",
    )
    assert tokens["INFLUX_ADMIN_USER"] == influx["DOCKER_INFLUXDB_INIT_USERNAME"]
    mosquitto = services["mosquitto"]["environment"]
    assert {key: mosquitto[key] for key in SECRETS if key.startswith("MQTT_")} == {
        key: value for key, value in SECRETS.items() if key.startswith("MQTT_")
    }


def strings(value: Any) -> list[str]:
    """Every string (keys too) in a rendered piece of compose config."""
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (str(key), *strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return [str(value)]


@needs_compose
@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, SCALE)], ids=["stack", "scaled"])
def test_only_influxdb_and_the_token_service_get_the_admin_token(tmp_path: Path, files: tuple[Path, ...]) -> None:
    """Issue 13: the admin (all-access) token went to ingest and the dashboard. Now no other service receives it
    anywhere in its config (environment, command, healthcheck, labels)."""
    services = rendered(tmp_path, SECRETS, files=files)["services"]
    admin = SECRETS["INFLUX_TOKEN"]
    holders = {name for name, service in services.items() if any(admin in text for text in strings(service))}
    assert holders == ADMIN_TOKEN_HOLDERS
    for name, service in services.items():
        if name not in ADMIN_TOKEN_HOLDERS:
            assert "SMARTFACTORY_INFLUX_TOKEN" not in service.get("environment", {}), name


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """volume name -> (path in the container, mode) of a rendered service's named volumes."""
    found = {}
    for entry in service.get("volumes", []):
        source, target, *mode = str(entry).split(":")
        found[source] = (target, mode[0] if mode else "rw")
    return found


@needs_compose
@pytest.mark.parametrize("files", [(COMPOSE,), (COMPOSE, SCALE)], ids=["stack", "scaled"])
def test_ingest_and_dashboard_wait_for_tokens_of_their_own(tmp_path: Path, files: tuple[Path, ...]) -> None:
    services = rendered(tmp_path, SECRETS, files=files)["services"]
    clients = {name: name.split("-")[0] for name in services if name.split("-")[0] in TOKEN_VOLUMES}
    assert set(clients.values()) == set(TOKEN_VOLUMES)
    if files == (COMPOSE, SCALE):
        assert {"ingest-2", "ingest-3"} <= set(clients)
    init = services["influx-tokens"]
    assert init["depends_on"]["influxdb"]["condition"] == "service_healthy"
    for name, kind in clients.items():
        service = services[name]
        assert service["depends_on"]["influx-tokens"]["condition"] == "service_completed_successfully", name
        own = mounts(service)
        assert own[TOKEN_VOLUMES[kind]][1] == "ro", name  # the service cannot change its token
        folder = own[TOKEN_VOLUMES[kind]][0]
        assert Path(service["environment"]["INFLUX_TOKEN_FILE"]).parent == Path(folder), name
        others = set(TOKEN_VOLUMES.values()) - {TOKEN_VOLUMES[kind]}
        assert not others & set(own), f"{name} mounts another service's token"
    for name in set(services) - set(clients) - {"influx-tokens"}:
        assert not set(TOKEN_VOLUMES.values()) & set(mounts(services[name])), name
    # The one-shot writes each token where the script puts it: TOKEN_DIR/<service>/token.
    written = mounts(init)
    for kind, volume in TOKEN_VOLUMES.items():
        assert written[volume] == (f"{init['environment']['TOKEN_DIR']}/{kind}", "rw")
    assert init["entrypoint"] == ["/bin/sh", "/deploy/influxdb/create-tokens.sh"]
    assert written[str(ROOT / "deploy")] == ("/deploy", "ro")  # where the script is


def test_the_token_script_grants_read_to_the_dashboard_and_read_write_to_ingestion() -> None:
    text = TOKENS_SCRIPT.read_text()
    grants = {service: set(actions.split()) for service, actions in re.findall(r"^grant (\S+) (.+)$", text, re.M)}
    assert grants == GRANTS
    # Every grant is a --<action>-bucket flag on the one bucket: no --all-access, --operator or other resources.
    assert re.search(r'flags="\$flags --\$action-bucket \$bucket_id"', text)
    assert not re.search(r"--(all-access|operator)\b", text)


@needs_compose
def test_scaled_ingestion_workers_share_a_group_with_their_own_ids(tmp_path: Path) -> None:
    services = rendered(tmp_path, SECRETS, files=(COMPOSE, SCALE))["services"]
    workers = {name: services[name]["environment"] for name in ("ingest", "ingest-2", "ingest-3")}
    assert {env["SMARTFACTORY_INGEST__GROUP"] for env in workers.values()} == {"ingest"}
    assert len({env["SMARTFACTORY_INGEST__CLIENT_ID"] for env in workers.values()}) == 3
    assert {env["SMARTFACTORY_STORE"] for env in workers.values()} == {
        services["dashboard"]["environment"]["SMARTFACTORY_STORE"]
    }


def test_no_secret_is_committed_and_every_variable_is_documented() -> None:
    example = EXAMPLE.read_text()
    assigned = dict(re.findall(r"^([A-Z_]+)=(.*)$", example, flags=re.MULTILINE))
    assert set(SECRETS) <= set(assigned)
    assert all("change-me" in assigned[key] for key in SECRETS)  # placeholders only
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", example, flags=re.MULTILINE))
    for file in (COMPOSE, SCALE):
        text = file.read_text()
        referenced = set(re.findall(r"\$\{([A-Z_]+)", text))
        assert referenced <= documented, f"{file.name}: document {referenced - documented} in .env.example"
        assert not re.search(r"(PASSWORD|TOKEN): [^$\s]", text), f"{file.name} holds a literal secret"


def test_dockerfile_installs_editable_and_runs_the_checking_entrypoint() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install -e ." in text  # the dashboard app and simulators/ are found next to the package
    entrypoint = re.search(r'ENTRYPOINT \["/bin/sh", "/app/(\S+)"\]', text)
    assert entrypoint is not None
    assert (ROOT / entrypoint.group(1)).is_file()
    assert "USER smartfactory" in text


def run_entrypoint(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run an entrypoint as the image does: in the image pip puts `smartfactory` on PATH; here the test's own
    interpreter folder (the venv's bin) goes first, since `.venv/bin/python -m pytest` does not put it on PATH."""
    clean = {key: os.environ[key] for key in ("HOME",) if key in os.environ}
    clean["PATH"] = path_with_interpreter_bin()
    return subprocess.run(["sh", str(script), *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("token", "rc", "message"),
    [("change-me-influx-token", 78, "placeholder"), ("", 78, "is not set"), ("tokenSecret0123456789", 0, "")],
)
def test_smartfactory_entrypoint_checks_secrets(token: str, rc: int, message: str) -> None:
    env = {
        "MQTT_PASSWORD": "ingestSecret0123",
        "SMARTFACTORY_STORE": "influxdb://influxdb:8086?org=o&bucket=b",
        "SMARTFACTORY_INFLUX_TOKEN": token,
    }
    result = run_entrypoint(ROOT / "deploy" / "smartfactory-entrypoint.sh", env, "--version")
    assert result.returncode == rc, result.stderr
    assert message in result.stderr
    if rc == 0:
        assert "smartfactory" in result.stdout


def fake_smartfactory(tmp_path: Path) -> str:
    """PATH with a `smartfactory` first that prints the token it was given: what the entrypoint handed over."""
    tools = tmp_path / "fake-bin"
    tools.mkdir()
    fake = tools / "smartfactory"
    fake.write_text('#!/bin/sh\nprintf "%s" "$SMARTFACTORY_INFLUX_TOKEN"\n')
    fake.chmod(0o755)
    return f"{tools}{os.pathsep}{os.environ.get('PATH', os.defpath)}"


def test_the_entrypoint_reads_the_token_file(tmp_path: Path) -> None:
    file = tmp_path / "token"
    file.write_text("serviceTokenFromTheFile0123==\n")
    file.chmod(0o600)
    env = {
        "MQTT_PASSWORD": "ingestSecret0123",
        "SMARTFACTORY_STORE": "influxdb://influxdb:8086?org=o&bucket=b",
        "INFLUX_TOKEN_FILE": str(file),
    }
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "smartfactory-entrypoint.sh"), "ingest"],
        env={**env, "PATH": fake_smartfactory(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "serviceTokenFromTheFile0123=="
    # The real command accepts the environment: INFLUX_TOKEN_FILE is no unknown SMARTFACTORY_ setting.
    result = run_entrypoint(ROOT / "deploy" / "smartfactory-entrypoint.sh", env, "config", "show")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "token", "message"),
    [
        (None, "", "cannot read the InfluxDB token file"),
        ("change-me-influx-token", "", "SMARTFACTORY_INFLUX_TOKEN still holds the placeholder"),
        ("", "", "(INFLUX_TOKEN_FILE) is empty"),
        ("serviceTokenFromTheFile0123==", "tokenSecret0123456789", "both INFLUX_TOKEN_FILE and"),
    ],
)
def test_the_entrypoint_refuses_a_missing_or_bad_token_file(
    tmp_path: Path, content: str | None, token: str, message: str
) -> None:
    file = tmp_path / "token"
    if content is not None:
        file.write_text(content)
    env = {
        "MQTT_PASSWORD": "ingestSecret0123",
        "SMARTFACTORY_STORE": "influxdb://influxdb:8086?org=o&bucket=b",
        "INFLUX_TOKEN_FILE": str(file),
        "SMARTFACTORY_INFLUX_TOKEN": token,
    }
    result = run_entrypoint(ROOT / "deploy" / "smartfactory-entrypoint.sh", env, "--version")
    assert result.returncode == 78
    assert message in result.stderr


def test_opting_out_of_the_token_file_takes_the_token_from_the_environment(tmp_path: Path) -> None:
    """docs/deployment.md's opt-out: INFLUX_TOKEN_FILE set to "" and SMARTFACTORY_INFLUX_TOKEN given."""
    env = {
        "MQTT_PASSWORD": "ingestSecret0123",
        "SMARTFACTORY_STORE": "influxdb://influxdb:8086?org=o&bucket=b",
        "INFLUX_TOKEN_FILE": "",
        "SMARTFACTORY_INFLUX_TOKEN": "aTokenOfMyOwn0123456",
    }
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "smartfactory-entrypoint.sh"), "ingest"],
        env={**env, "PATH": fake_smartfactory(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "aTokenOfMyOwn0123456"


def test_a_grouped_worker_without_an_id_of_its_own_is_refused() -> None:
    """`--scale ingest=N` would run N workers on one account, whose sessions the broker names after it (issue 13)."""
    env = {"MQTT_PASSWORD": "ingestSecret0123", "SMARTFACTORY_INGEST__GROUP": "ingest"}
    result = run_entrypoint(ROOT / "deploy" / "smartfactory-entrypoint.sh", env, "ingest")
    assert result.returncode == 78
    assert "needs its own account and SMARTFACTORY_INGEST__CLIENT_ID" in result.stderr
    result = run_entrypoint(ROOT / "deploy" / "smartfactory-entrypoint.sh", env, "config", "show")
    assert result.returncode == 0, result.stderr  # other commands of a grouped worker's image still run


def test_influxdb_entrypoint_refuses_placeholders() -> None:
    env = {"DOCKER_INFLUXDB_INIT_PASSWORD": "change-me-influx-admin", "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN": "t" * 20}
    result = run_entrypoint(ROOT / "deploy" / "influxdb" / "entrypoint.sh", env, "influxd")
    assert result.returncode == 78
    assert "DOCKER_INFLUXDB_INIT_PASSWORD still holds the placeholder" in result.stderr


def test_the_entrypoint_says_so_when_smartfactory_is_not_on_path(tmp_path: Path) -> None:
    """Outside the image, a PATH without the venv's bin gets a message naming the fix, not a bare 'not found'."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "dirname", "grep", "printf"):
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "smartfactory-entrypoint.sh"), "--version"],
        env={"PATH": str(tools), "MQTT_PASSWORD": "ingestSecret0123"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 127, result.stderr
    assert "smartfactory command is not on PATH" in result.stderr
    assert "venv's bin folder first on PATH" in result.stderr
