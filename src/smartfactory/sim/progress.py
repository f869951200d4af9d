"""A progress bar for the backfill, written to a text stream (stderr): redrawn in place on a terminal, a line
per 10 % otherwise (logs, CI)."""

from __future__ import annotations

import time
from typing import TextIO

from smartfactory.sim.runner import RunStats


def _span(ms: float) -> str:
    seconds = int(ms // 1000)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{rest // 60:02d}m"


class ProgressBar:
    """Call with (done_ms, total_ms, stats) after every chunk; `finish()` ends the line."""

    def __init__(self, stream: TextIO, label: str = "backfill", width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._last_decile = -1
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, done_ms: int, total_ms: int, stats: RunStats) -> None:
        fraction = 1.0 if total_ms <= 0 else min(1.0, max(0.0, done_ms / total_ms))
        elapsed = max(1e-9, time.monotonic() - self.started)
        rate = stats.readings / elapsed
        filled = round(fraction * self.width)
        text = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} "
            f"{_span(done_ms)} of {_span(total_ms)}, {stats.readings:,} readings ({rate:,.0f}/s)"
        )
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw >= 0.1 or fraction >= 1.0:
                self.stream.write("\r" + text)
                self.stream.flush()
                self._last_draw = now
                self._drawn = True
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            self.stream.write(text + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
