"""`stop_on_signals()`: the one place the CLI takes over Ctrl-C and SIGTERM, and gives them back."""

from __future__ import annotations

import os
import signal

import pytest

from smartfactory.cli.common import stop_on_signals


def test_a_signal_sets_the_event_instead_of_interrupting_and_handlers_come_back() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals() as stop:
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next bytecode
        assert stop.wait(5)
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_nested_contexts_change_the_meaning_for_a_while() -> None:
    notes: list[int] = []
    with stop_on_signals() as outer:
        with stop_on_signals(notes.append) as inner:
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.wait(5)
        assert notes == [signal.SIGINT]
        assert not outer.is_set()  # the inner handler took it
        os.kill(os.getpid(), signal.SIGINT)
        assert outer.wait(5)
    assert notes == [signal.SIGINT]


def test_handlers_come_back_when_the_body_raises() -> None:
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="boom"), stop_on_signals():
        raise RuntimeError("boom")
    assert signal.getsignal(signal.SIGINT) is before
