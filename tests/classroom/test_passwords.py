"""mosquitto 2's `$7$` password hashes, written by our code: checked by us and against mosquitto_passwd's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from smartfactory.classroom import passwords


def test_a_hash_verifies_its_password_only() -> None:
    hashed = passwords.hash_password("s3cret-Pa55")
    assert hashed.startswith("$7$101$")
    assert passwords.verify("s3cret-Pa55", hashed)
    assert not passwords.verify("s3cret-Pa56", hashed)
    assert not passwords.verify("", hashed)


def test_the_same_salt_gives_the_same_hash_and_a_new_salt_another() -> None:
    salt = bytes(range(12))
    assert passwords.hash_password("x", salt=salt) == passwords.hash_password("x", salt=salt)
    assert passwords.hash_password("x") != passwords.hash_password("x")


def test_garbage_is_no_hash() -> None:
    for bad in ("", "plain", "$7$abc$AAAA$AAAA", "$7$101$!!$??", "$9$1$AA$AA"):
        assert not passwords.verify("plain", bad)


def test_generated_passwords_use_the_printable_alphabet() -> None:
    made = {passwords.generate() for _ in range(200)}
    assert len(made) == 200
    assert all(len(p) == passwords.PASSWORD_LENGTH and set(p) <= set(passwords.ALPHABET) for p in made)
    assert not set(passwords.ALPHABET) & set("0O1lI")


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd is not installed")
def test_we_verify_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(file), "alice", "wonder-land"], check=True)
    hashed = passwords.read_password_file(file.read_text())["alice"]
    assert hashed.startswith("$7$")
    assert passwords.verify("wonder-land", hashed)
    assert not passwords.verify("wonder-lane", hashed)


def test_password_file_lines_and_bad_usernames() -> None:
    text = passwords.password_file({"a": "$7$1$AA$AA", "b": "$7$1$BB$BB"})
    assert passwords.read_password_file(text) == {"a": "$7$1$AA$AA", "b": "$7$1$BB$BB"}
    with pytest.raises(Exception, match="password file"):
        passwords.password_file({"a:b": "$7$1$AA$AA"})
