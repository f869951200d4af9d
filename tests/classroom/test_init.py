"""`classroom init`: the class folder's roster, accounts, ACL, seeds and cards."""

from __future__ import annotations

import csv
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartfactory.classroom import mosquitto, passwords
from smartfactory.classroom.roster import ClassDir, derive_seed, plant_accounts, read_names, usernames
from smartfactory.classroom.setup import ClassOptions, init_class
from smartfactory.cli import main
from smartfactory.errors import ConfigError
from tests.classroom.conftest import make_class


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_students_csv_has_a_row_per_student_and_the_lecturer(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=12)
    table = rows(folder.students_file)
    assert list(table[0]) == ["username", "password", "namespace"]
    students = [r for r in table if r["username"] != "lecturer"]
    assert [r["namespace"] for r in students] == [f"lab/student-{i:02d}" for i in range(1, 13)]
    assert [r["namespace"] for r in table if r["username"] == "lecturer"] == ["lab"]
    assert len({r["password"] for r in table}) == len(table) == 13


def test_every_password_is_hashed_in_the_password_file_and_secrets_are_private(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=3)
    hashes = passwords.read_password_file(folder.password_file.read_text())
    accounts = folder.accounts()
    assert set(hashes) == set(accounts) == {"student-01", "student-02", "student-03", "lecturer", "sf-ingest",
                                            "sf-dashboard"}  # fmt: skip
    for user, account in accounts.items():
        assert passwords.verify(account.password, hashes[user])
        assert account.password not in folder.password_file.read_text()
    for private in (folder.students_file, folder.services_file, folder.password_file, folder.root / "cards.html"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private


def test_the_acl_gives_each_student_its_namespace_only(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=2)
    parts = folder.acl_file.read_text().split("\n\n")
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in parts if b.startswith("user")}
    assert "topic readwrite lab/student-01/#" in blocks["user student-01"]
    assert not [line for line in blocks["user student-01"] if "student-02" in line or line.endswith(" #")]
    assert "topic read #" in blocks["user lecturer"]
    assert "topic write +/+/+/+/+/cmd" in blocks["user lecturer"]
    assert "topic read #" in blocks["user sf-ingest"]
    conf = folder.broker_conf.read_text()
    assert "allow_anonymous false" in conf
    assert f"password_file {folder.password_file.resolve()}" in conf


def test_seeds_are_reproducible_from_the_class_seed(tmp_path: Path) -> None:
    one = make_class(tmp_path / "a", students=4, class_seed=99).info()
    two = make_class(tmp_path / "b", students=4, class_seed=99).info()
    other = make_class(tmp_path / "c", students=4, class_seed=100).info()
    seeds = [m.seed for m in one.students]
    assert seeds == [m.seed for m in two.students] == [derive_seed(99, i) for i in range(1, 5)]
    assert len(set(seeds)) == 4
    assert seeds != [m.seed for m in other.students]


def test_a_roster_gives_usernames_and_cards(tmp_path: Path) -> None:
    roster = tmp_path / "names.csv"
    roster.write_text("name,email\nAda Lovelace,a@x\nZoë Ng,z@x\nAda Lovelace,b@x\n\n", encoding="utf-8")
    assert read_names(roster) == ["Ada Lovelace", "Zoë Ng", "Ada Lovelace"]
    result = CliRunner().invoke(main, ["classroom", "init", "--dir", str(tmp_path / "c"), "--roster", str(roster),
                                       "--mqtt-port", "18999"])  # fmt: skip
    assert result.exit_code == 0, result.output
    folder = ClassDir(tmp_path / "c")
    assert [m.username for m in folder.info().students] == ["ada-lovelace", "zoe-ng", "ada-lovelace-2"]
    cards = (tmp_path / "c" / "cards.md").read_text()
    for account in folder.accounts().values():
        if account.role in ("student", "lecturer"):
            assert f"`{account.password}`" in cards
    assert "sf-ingest" not in cards


def test_usernames_avoid_reserved_names() -> None:
    assert usernames(["Lecturer", "", "sf ingest"]) == ["lecturer-2", "student-02", "sf-ingest-2"]
    # every client id sent begins with smartfactory- (clientid_prefixes): no username may, or an id could name a
    # session of the session port, where sessions are named after usernames
    assert usernames(["Smartfactory Bot"]) == ["student-smartfactory-bot"]


def test_the_broker_config_binds_client_ids_to_accounts(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=2)
    info = folder.info()
    assert info.session_port not in (0, info.port, info.dashboard_port)
    conf = folder.broker_conf.read_text().splitlines()
    assert "clientid_prefixes smartfactory-" in conf
    assert "auto_id_prefix smartfactory-auto-" in conf
    assert conf.index(f"listener {info.port} {info.host}") < conf.index(f"listener {info.session_port} {info.host}")
    assert conf[conf.index(f"listener {info.session_port} {info.host}") + 1] == "use_username_as_clientid true"
    assert "use_username_as_clientid true" not in conf[: conf.index(f"listener {info.session_port} {info.host}")]
    assert folder.service("ingest").client_id.startswith("smartfactory-ingest-")
    assert "smartfactory-" in (folder.root / "cards.md").read_text()  # the cards say which ids the broker takes


def test_the_session_port_defaults_to_the_next_port_and_ports_must_differ(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["classroom", "init", "--dir", str(tmp_path / "c"), "--students", "1",
                                       "--mqtt-port", "18990"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ClassDir(tmp_path / "c").info().session_port == 18991
    with pytest.raises(ConfigError, match="must all differ"):
        init_class(ClassDir(tmp_path / "d"), ClassOptions(students=1, port=18990, session_port=8501))


def test_start_adds_plant_accounts_to_passwd_and_acl_and_replaces_an_earlier_runs(tmp_path: Path) -> None:
    folder = make_class(tmp_path / "c", students=2)
    members = passwords.read_password_file(folder.password_file.read_text())
    student = folder.info().students[1]
    first = plant_accounts(student, ["lab/student-02/a/l/m1", "lab/student-02/a/l/m2"], passwords.generate)
    mosquitto.add_plant_accounts(folder, first.values())
    second = plant_accounts(student, ["lab/student-02/a/l/m1"], passwords.generate)
    mosquitto.add_plant_accounts(folder, second.values())
    hashes = passwords.read_password_file(folder.password_file.read_text())
    assert set(hashes) == {*members, "student-02.m1"}
    assert {u: h for u, h in hashes.items() if u in members} == members  # init's hashes kept as they were
    assert passwords.verify(second["lab/student-02/a/l/m1"].password, hashes["student-02.m1"])
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in folder.acl_file.read_text().split("\n\n") if b}
    assert blocks["user student-02.m1"] == ["topic readwrite lab/student-02/#"]
    assert "user student-02.m2" not in blocks
    assert stat.S_IMODE(folder.password_file.stat().st_mode) == 0o600


def test_init_refuses_to_replace_a_class_without_force(tmp_path: Path) -> None:
    make_class(tmp_path / "c", students=2)
    with pytest.raises(ConfigError, match="--force"):
        make_class(tmp_path / "c", students=2)
    result = CliRunner().invoke(main, ["classroom", "init", "--dir", str(tmp_path / "c"), "--students", "3", "--force"])
    assert result.exit_code == 0, result.output
    assert len(ClassDir(tmp_path / "c").info().students) == 3
