"""Docs are part of the feature: these fail when a setting, a wire field or a command is undocumented."""

from __future__ import annotations

import click
import pytest
from pydantic import BaseModel

from smartfactory import wire
from smartfactory.cli import main
from smartfactory.settings import known_env_names
from tests.conftest import ROOT

#: every payload model and the parts of a birth
PAYLOADS = [*wire.PAYLOADS, wire.MachineInfo, wire.SignalInfo, wire.FaultInfo, wire.ParamInfo]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name in known_env_names() if f"`{name}`" not in text]
    assert not missing, f"document these in docs/settings.md: {missing}"


def test_every_message_class_is_documented() -> None:
    text = (ROOT / "docs" / "wire.md").read_text()
    for cls in wire.MessageClass:
        assert f"| `{cls.value}` |" in text, cls


@pytest.mark.parametrize("model", PAYLOADS, ids=lambda m: m.__name__)
def test_every_payload_field_is_documented(model: type[BaseModel]) -> None:
    text = (ROOT / "docs" / "wire.md").read_text()
    for field in model.model_fields:
        if field != "v":
            assert f"`{field}`" in text, f"{model.__name__}.{field} is not in docs/wire.md"


def test_every_command_is_in_the_readme() -> None:
    text = (ROOT / "README.md").read_text()
    names = main.list_commands(click.Context(main))  # lazy group: the names, without importing each command
    assert len(names) >= 13
    for name in names:
        assert f"smartfactory {name}" in text, f"README lacks `smartfactory {name}`"


def test_ci_runs_exactly_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"'
    test = ".venv/bin/python -m pytest"
    assert install in readme
    assert f"{test}  " in readme or f"{test}\n" in readme
    assert install.replace("pip install", "pip install -q") in ci
    assert f"\n{test}\n" in ci
