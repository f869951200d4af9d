"""deploy/influxdb/create-tokens.sh (the compose service influx-tokens) run for real with /bin/sh, against a fake
`influx` command on PATH that keeps the server's tokens in a JSON file, prints what influx CLI 2.7 prints (tab
separated tables, tab-indented JSON) and records every call. No Docker, no InfluxDB.

Checked: ingestion's token may read and write the bucket, the dashboard's only read it; the admin token never
leaves the environment (not in an argument, not in a file); a second run creates nothing; lost files, stale or
inactive tokens, rotation and a server that hides token values are handled."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "influxdb" / "create-tokens.sh"
ADMIN = "adminTokenSecret0123456789"
ORG_ID = "0a1b2c3d4e5f6a7b"
BUCKET_ID = "1122334455667788"
OTHER_BUCKET_ID = "99aa99aa99aa99aa"
READ = f"read:orgs/{ORG_ID}/buckets/{BUCKET_ID}"
WRITE = f"write:orgs/{ORG_ID}/buckets/{BUCKET_ID}"
#: The influxdb:2.7 image (Debian slim) has mawk as its awk; run the script with every awk found here.
AWKS = [awk for awk in ("mawk", "gawk", "original-awk") if shutil.which(awk)] or ["awk"]

FAKE_INFLUX = r'''
"""A stand-in for the influx CLI: state in $FAKE_INFLUX_STATE, every call appended to $FAKE_INFLUX_LOG."""
import json, os, sys

state_file, log_file = os.environ["FAKE_INFLUX_STATE"], os.environ["FAKE_INFLUX_LOG"]
with open(state_file) as handle:
    state = json.load(handle)
args = sys.argv[1:]
with open(log_file, "a") as handle:
    call = {"argv": args, "token": os.environ.get("INFLUX_TOKEN"), "host": os.environ.get("INFLUX_HOST")}
    handle.write(json.dumps(call) + "\n")


def values(name):
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == name]


def value(name):
    found = values(name)
    return found[0] if found else ""


def fail(message):
    print("Error: " + message, file=sys.stderr)
    sys.exit(1)


def table(headers, rows):
    """What Go's text/tabwriter writes with padchar '\t' (minwidth 0, tabwidth 8, padding 1)."""
    shown = rows if "--hide-headers" in args else [headers, *rows]
    widths = [max(len(row[i]) for row in shown) + 1 for i in range(len(headers) - 1)]
    for row in shown:
        cells = []
        for i, cell in enumerate(row[:-1]):
            width = -(-widths[i] // 8) * 8
            cells.append(cell + "\t" * -(-(width - len(cell)) // 8))
        print("".join(cells) + row[-1])


def shown(auth):
    return {**auth, "token": "" if state.get("hide_tokens") else auth["token"]}


if os.environ.get("INFLUX_TOKEN") != state["admin"]:
    fail("unauthorized access")
command = args[:2]
if command == ["bucket", "list"]:
    if value("--org") != state["org"] or value("--name") not in state["buckets"]:
        fail("bucket %r not found" % value("--name"))
    name = value("--name")
    headers = ["ID", "Name", "Retention", "Shard group duration", "Organization ID", "Schema Type"]
    table(headers, [[state["buckets"][name], name, "720h0m0s", "24h0m0s", state["org_id"], "implicit"]])
elif command == ["auth", "list"]:
    if value("--org") != state["org"] or "--json" not in args:
        fail("the fake lists only --org ORG --json")
    print(json.dumps([shown(auth) for auth in state["auths"]], indent="\t"))
elif command == ["auth", "create"]:
    if value("--org") != state["org"] or value("--user") != state["user"] or "--json" not in args:
        fail("the fake creates only with --org ORG --user USER --json")
    permissions = []
    for action in ("read", "write"):
        for bucket_id in values("--" + action + "-bucket"):
            if bucket_id not in state["buckets"].values():
                fail("bucket %s not found" % bucket_id)
            permissions.append("%s:orgs/%s/buckets/%s" % (action, state["org_id"], bucket_id))
    state["made"] += 1
    auth = {
        "id": "%016x" % (0xA000 + state["made"]),
        "description": value("--description"),
        "token": "madeToken%02d_%s==" % (state["made"], "x" * 76),
        "status": "active",
        "userName": state["user"],
        "userID": "0000000000000001",
        "permissions": permissions,
    }
    state["auths"].append(auth)
    print(json.dumps(auth, indent="\t"))
elif command == ["auth", "delete"]:
    kept = [auth for auth in state["auths"] if auth["id"] != value("--id")]
    if len(kept) == len(state["auths"]):
        fail("could not find auth with ID %r" % value("--id"))
    state["auths"] = kept
    print("ID\tDescription\tToken\tUser Name\tUser ID\tPermissions\tDeleted")
else:
    fail("the fake does not know " + " ".join(args))
with open(state_file, "w") as handle:
    json.dump(state, handle)
'''


def auth(auth_id: str, description: str, token: str, permissions: list[str], status: str = "active") -> dict[str, Any]:
    return {
        "id": auth_id,
        "description": description,
        "token": token,
        "status": status,
        "userName": "admin",
        "userID": "0000000000000001",
        "permissions": permissions,
    }


class Influx:
    """The fake server's state and the calls the script made, around runs of the script."""

    def __init__(self, folder: Path, awk: str = "awk") -> None:
        self.folder = folder
        self.bin = folder / "bin"
        self.bin.mkdir()
        found = shutil.which(awk)
        if found and awk != "awk":
            (self.bin / "awk").symlink_to(found)
        fake = self.bin / "influx"
        fake.write_text(f"#!{sys.executable} -IS\n{FAKE_INFLUX}")  # -IS: no site, quick start
        fake.chmod(0o755)
        self.state_file = folder / "state.json"
        self.log_file = folder / "calls.jsonl"
        self.tokens = folder / "tokens"
        admin_token = auth("0000000000000aaa", "admin's Token", ADMIN, ["read:/authorizations", "write:/buckets"])
        self.state: dict[str, Any] = {
            "admin": ADMIN,
            "org": "lab",
            "org_id": ORG_ID,
            "user": "admin",
            "buckets": {"hall": BUCKET_ID, "other": OTHER_BUCKET_ID},
            "auths": [admin_token, auth("0000000000000bbb", "", "someoneElsesToken0123", [READ])],
            "made": 0,
        }
        self.save()

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state))

    def load(self) -> dict[str, Any]:
        self.state = json.loads(self.state_file.read_text())
        return self.state

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        self.log_file.write_text("")
        base = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "FAKE_INFLUX_STATE": str(self.state_file),
            "FAKE_INFLUX_LOG": str(self.log_file),
            "INFLUX_HOST": "http://influxdb:8086",
            "INFLUX_TOKEN": ADMIN,
            "INFLUX_ORG": "lab",
            "INFLUX_BUCKET": "hall",
            "INFLUX_ADMIN_USER": "admin",
            "TOKEN_DIR": str(self.tokens),
            "TOKEN_OWNER": f"{os.getuid()}:{os.getgid()}",
        }
        result = subprocess.run(
            ["/bin/sh", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=60
        )
        self.load()
        return result

    def calls(self, *command: str) -> list[list[str]]:
        lines = [json.loads(line) for line in self.log_file.read_text().splitlines()]
        return [line["argv"] for line in lines if line["argv"][: len(command)] == list(command)]

    def call_env(self) -> list[dict[str, str]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def token(self, service: str) -> str:
        return (self.tokens / service / "token").read_text()

    def described(self, service: str) -> list[dict[str, Any]]:
        return [a for a in self.state["auths"] if a["description"] == f"smartfactory-{service}"]


def flag_values(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == name]


@pytest.fixture(params=AWKS)
def influx(tmp_path: Path, request: pytest.FixtureRequest) -> Influx:
    return Influx(tmp_path, awk=request.param)


def test_first_run_grants_ingest_read_and_write_and_the_dashboard_read_only(influx: Influx) -> None:
    result = influx.run()
    assert result.returncode == 0, result.stderr
    created = {flag_values(argv, "--description")[0]: argv for argv in influx.calls("auth", "create")}
    assert set(created) == {"smartfactory-ingest", "smartfactory-dashboard"}
    ingest, dashboard = created["smartfactory-ingest"], created["smartfactory-dashboard"]
    assert flag_values(ingest, "--read-bucket") == flag_values(ingest, "--write-bucket") == [BUCKET_ID]
    assert flag_values(dashboard, "--read-bucket") == [BUCKET_ID]
    assert flag_values(dashboard, "--write-bucket") == []
    for argv in created.values():  # nothing beyond the one bucket: no --all-access, --operator, --write-orgs, ...
        assert {arg for arg in argv if arg.startswith("--")} == {
            "--org",
            "--user",
            "--description",
            "--read-bucket",
            "--write-bucket",
            "--json",
        } - ({"--write-bucket"} if argv is dashboard else set())
    assert [a["permissions"] for a in influx.described("ingest")] == [[READ, WRITE]]
    assert [a["permissions"] for a in influx.described("dashboard")] == [[READ]]

    assert influx.token("ingest") == influx.described("ingest")[0]["token"]
    assert influx.token("dashboard") == influx.described("dashboard")[0]["token"]
    for service in ("ingest", "dashboard"):
        file = influx.tokens / service / "token"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
        assert ADMIN not in file.read_text()
    assert sorted(p.name for p in influx.tokens.rglob("*")) == ["dashboard", "ingest", "token", "token"]
    # The admin token reaches the CLI through its environment only: never as an argument (visible in ps).
    assert all(call["token"] == ADMIN and call["host"] == "http://influxdb:8086" for call in influx.call_env())
    assert not any(ADMIN in arg for call in influx.call_env() for arg in call["argv"])
    assert ADMIN not in result.stdout + result.stderr


def test_a_second_run_creates_and_deletes_nothing(influx: Influx) -> None:
    assert influx.run().returncode == 0
    first = {service: influx.token(service) for service in ("ingest", "dashboard")}
    auths = influx.state["auths"]
    result = influx.run()
    assert result.returncode == 0, result.stderr
    assert influx.calls("auth", "create") == influx.calls("auth", "delete") == []
    assert influx.state["auths"] == auths
    assert {service: influx.token(service) for service in ("ingest", "dashboard")} == first
    assert "ingest: kept token" in result.stdout
    assert "dashboard: kept token" in result.stdout


def test_lost_token_files_are_written_again_from_the_tokens_influxdb_holds(influx: Influx) -> None:
    assert influx.run().returncode == 0
    first = {service: influx.token(service) for service in ("ingest", "dashboard")}
    for service in first:
        (influx.tokens / service / "token").unlink()
    assert influx.run().returncode == 0
    assert influx.calls("auth", "create") == []
    assert {service: influx.token(service) for service in first} == first


def test_permissions_are_compared_whatever_their_order(influx: Influx) -> None:
    influx.state["auths"].append(
        auth("000000000000c001", "smartfactory-ingest", "ingestTokenFromBefore0", [WRITE, READ])
    )
    influx.save()
    assert influx.run().returncode == 0
    assert [argv for argv in influx.calls("auth", "create") if "smartfactory-ingest" in argv] == []
    assert influx.token("ingest") == "ingestTokenFromBefore0"


def test_a_token_with_other_permissions_an_inactive_one_and_duplicates_are_replaced(influx: Influx) -> None:
    influx.state["auths"] += [
        auth("000000000000d001", "smartfactory-dashboard", "tooBroadDashboard0001", [READ, WRITE]),
        auth("000000000000d002", "smartfactory-ingest", "inactiveIngest000001", [READ, WRITE], status="inactive"),
        auth("000000000000d003", "smartfactory-ingest", "otherBucketIngest001", [READ.replace(BUCKET_ID, "9" * 16)]),
    ]
    influx.save()
    result = influx.run()
    assert result.returncode == 0, result.stderr
    deleted = sorted(flag_values(argv, "--id")[0] for argv in influx.calls("auth", "delete"))
    assert deleted == ["000000000000d001", "000000000000d002", "000000000000d003"]
    assert [a["permissions"] for a in influx.described("dashboard")] == [[READ]]
    assert [a["permissions"] for a in influx.described("ingest")] == [[READ, WRITE]]
    assert influx.token("dashboard") == influx.described("dashboard")[0]["token"]
    assert "0000000000000bbb" in {a["id"] for a in influx.state["auths"]}  # a token it did not make stays

    influx.state["auths"].append(auth("000000000000d004", "smartfactory-dashboard", "duplicateDashboard01", [READ]))
    influx.save()
    assert influx.run().returncode == 0
    assert influx.calls("auth", "create") == []
    assert [flag_values(argv, "--id") for argv in influx.calls("auth", "delete")] == [["000000000000d004"]]


def test_rotation_replaces_both_tokens(influx: Influx) -> None:
    assert influx.run().returncode == 0
    old = {service: influx.described(service)[0] for service in ("ingest", "dashboard")}
    result = influx.run(ROTATE_TOKENS="1")
    assert result.returncode == 0, result.stderr
    assert len(influx.calls("auth", "create")) == 2
    assert sorted(flag_values(argv, "--id")[0] for argv in influx.calls("auth", "delete")) == sorted(
        a["id"] for a in old.values()
    )
    for service, before in old.items():
        [now] = influx.described(service)
        assert now["permissions"] == before["permissions"]
        assert influx.token(service) == now["token"] != before["token"]


def test_a_server_that_hides_token_values_keeps_the_files_it_can_trust(influx: Influx) -> None:
    influx.state["hide_tokens"] = True  # a token is shown once, when it is made
    influx.save()
    assert influx.run().returncode == 0
    first = {service: influx.token(service) for service in ("ingest", "dashboard")}
    assert all(first.values())
    assert influx.run().returncode == 0
    assert influx.calls("auth", "create") == []
    assert {service: influx.token(service) for service in first} == first
    (influx.tokens / "dashboard" / "token").unlink()  # the value is gone for good: make a new token
    assert influx.run().returncode == 0
    assert [flag_values(argv, "--description") for argv in influx.calls("auth", "create")] == [
        ["smartfactory-dashboard"]
    ]
    assert len(influx.described("dashboard")) == 1
    assert influx.token("dashboard") == influx.described("dashboard")[0]["token"]
    assert influx.token("ingest") == first["ingest"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INFLUX_TOKEN": "change-me-influx-token"}, "INFLUX_TOKEN still holds the placeholder"),
        ({"INFLUX_TOKEN": "wrongAdminToken0123456"}, "cannot find bucket 'hall'"),
        ({"INFLUX_BUCKET": "missing"}, "cannot find bucket 'missing'"),
    ],
)
def test_it_fails_loudly_and_writes_nothing(influx: Influx, env: dict[str, str], message: str) -> None:
    result = influx.run(**env)
    assert result.returncode != 0
    assert message in result.stderr
    assert not influx.tokens.exists()
    assert influx.described("ingest") == influx.described("dashboard") == []


@pytest.mark.skipif(os.getuid() != 0, reason="giving the files to another user needs root (as in the container)")
def test_the_files_belong_to_the_smartfactory_user_of_the_image(influx: Influx) -> None:
    assert influx.run(TOKEN_OWNER="10001:10001").returncode == 0
    for service in ("ingest", "dashboard"):
        for path in (influx.tokens / service, influx.tokens / service / "token"):
            assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10001)
