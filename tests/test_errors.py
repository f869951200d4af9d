"""The one exception tree (`smartfactory.errors`): its shape, and that the CLI's friendly handler catches it all."""

from __future__ import annotations

import inspect

import click
import pytest
from click.testing import CliRunner

from smartfactory import errors
from smartfactory.cli.common import friendly_errors
from smartfactory.errors import (
    SmartfactoryError,
    SpcError,
    SpoolError,
    StoreError,
    StoreUnavailable,
    TransientError,
)
from smartfactory.ingest.spool import SpoolFull


def test_every_error_class_is_in_the_tree_and_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert {c.__name__ for c in classes} == set(errors.__all__)
    for cls in classes:
        assert issubclass(cls, SmartfactoryError)
        drawn = f"── {cls.__name__}" in doc or (cls is SmartfactoryError and f"\n{cls.__name__}\n" in doc)
        assert drawn, f"draw {cls.__name__} in errors.py's docstring"


def test_the_shape_of_the_tree() -> None:
    assert issubclass(StoreUnavailable, StoreError)
    assert issubclass(StoreUnavailable, TransientError)
    assert issubclass(SpoolError, StoreError)
    assert issubclass(SpoolFull, SpoolError)
    assert issubclass(SpcError, ValueError)  # the SPC engine's callers may still catch ValueError
    assert StoreUnavailable("down", retry_after=2.0).retry_after == 2.0


def test_spc_error_is_the_same_class_from_spc() -> None:
    from smartfactory import spc

    assert spc.SpcError is SpcError


@pytest.mark.parametrize(
    "error",
    [SpcError("only 1 points in the window"), TransientError("try later"), SpoolError("the spool is locked")],
)
def test_the_cli_turns_them_into_one_line_of_advice(error: Exception) -> None:
    @click.command()
    @friendly_errors
    def command() -> None:
        raise error

    result = CliRunner().invoke(command)
    assert result.exit_code == 1
    assert f"Error: {error}" in result.output
    assert "Traceback" not in result.output
