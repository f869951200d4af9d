"""Shared CLI plumbing: common options, settings from env + flags, logging, and friendly errors."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from smartfactory.errors import SmartfactoryError
from smartfactory.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def mqtt_option(func: F) -> F:
    return click.option(
        "--mqtt-url",
        default=None,
        metavar="URL",
        help="Broker, mqtt://[user:pass@]host:port (env SMARTFACTORY_MQTT_URL; default mqtt://127.0.0.1:1883).",
    )(func)


def store_option(func: F) -> F:
    return click.option(
        "--store",
        default=None,
        metavar="URL",
        help="Store, sqlite:///path.db or influxdb://host:port?org=…&bucket=… (env SMARTFACTORY_STORE).",
    )(func)


def settings_from(**flags: Any) -> Settings:
    settings = load_settings(**flags)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    return settings


def friendly_errors(func: F) -> F:
    """Turn our own errors into a one-line message and exit status 2 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SmartfactoryError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def echo(message: str) -> None:
    """Progress and status lines go to stderr so stdout stays clean for data (export, JSON)."""
    click.echo(message, err=True)
