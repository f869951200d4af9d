"""Shared CLI plumbing: common options, settings from env + flags, logging, friendly errors, and signals."""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
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
    """Turn our own errors (every `SmartfactoryError`, see errors.py) into a one-line message, exit status 1."""

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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(
    on_signal: Callable[[int], None] | None = None, signals: Sequence[signal.Signals] = STOP_SIGNALS
) -> Iterator[threading.Event]:
    """While inside, Ctrl-C and SIGTERM set the yielded event (and call `on_signal(signum)`) instead of raising.

    On the way out, however it is left, the handlers that were there before come back. Nest it to change what a
    signal does for a while (a second Ctrl-C during a flush only prints a note). Main thread only (Python's rule).
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if on_signal is not None:
            on_signal(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            if old is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(sig, old)
