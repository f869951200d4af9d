"""Data-quality detector: stuck, silent and heavily dropping-out sensors (an alarm class of its own, not SPC).

- ``stuck``: n identical consecutive readings (exact equality, so a sensor frozen at any value, inf included).
  n comes from the signal's σ and resolution (:func:`smartfactory.spc.design.stuck_run_length`): equal
  readings happen by chance when σ is only a few resolution steps. One detection per run (ALARM).
- ``silent``: no reading for ``silent_after_s`` of the caller's clock, checked by :meth:`tick` (ALARM, once
  until a reading arrives).
- ``dropout``: in tumbling windows of ``dropout_window_s`` (aligned on the first reading), the fraction of the
  expected readings (window / interval) that did not arrive is at least ``dropout_fraction`` (WARNING). A
  window is judged when a reading of a later window arrives; windows the sensor spent silent (a gap of at
  least ``silent_after_s``), including the one it comes back in, are left to ``silent``.

The caller gates all three with the machine state: do not tick while a machine is stopped, and ``reset()``
when it starts again. Timestamps are in ms of the reading clock (simulated or wall). State: O(1).
"""

from __future__ import annotations

from smartfactory.spc.design import DataQualityDesign
from smartfactory.spc.detect.base import DATA_QUALITY, Detection, Severity
from smartfactory.spc.errors import SpcError


class DataQualityDetector:
    """Stuck, silent and dropout checks on one series."""

    __slots__ = (
        "_count", "_last", "_last_ts", "_run", "_silent", "_t0", "_taint", "_win", "design", "expected", "interval_ms",
        "series", "stuck_run", "window_ms",
    )  # fmt: skip

    def __init__(
        self, design: DataQualityDesign, *, interval_s: float, stuck_run: int | None, series: str = ""
    ) -> None:
        if not interval_s > 0:
            raise SpcError(f"the sampling interval must be positive, got {interval_s!r} s")
        if stuck_run is not None and stuck_run < 2:
            raise SpcError(f"a stuck run needs at least 2 equal readings, got {stuck_run}")
        self.series = series
        self.design = design
        self.stuck_run = stuck_run  # None: the stuck check is off (σ below the resolution)
        self.interval_ms = interval_s * 1000.0
        self.window_ms = round(design.dropout_window_s * 1000.0)
        self.expected = design.dropout_window_s / interval_s
        self.reset()

    def reset(self) -> None:
        self._last: float | None = None
        self._last_ts: int | None = None
        self._run = 0
        self._silent = False
        self._t0 = 0
        self._win = -1
        self._count = 0
        self._taint = False

    def update(self, ts_ms: int, value: float) -> Detection | None:
        found: Detection | None = None
        gap_ms = None if self._last_ts is None else ts_ms - self._last_ts
        self._silent = False
        # dropout: close the window(s) this reading leaves behind
        if self.window_ms > 0:
            if self._win < 0:
                self._t0, self._win, self._count = ts_ms, 0, 0
            w = (ts_ms - self._t0) // self.window_ms
            silent_gap = gap_ms is not None and gap_ms >= self.design.silent_after_s * 1000.0
            if w > self._win:
                if not (silent_gap or self._taint):
                    found = self._judge(ts_ms, self._count)
                self._win, self._count, self._taint = w, 0, False
            if silent_gap:  # the window the sensor comes back in is partly silence: that was `silent`'s
                self._taint = True
            if w >= self._win:  # late readings of an older window do not count
                self._count += 1
        # stuck
        if value == self._last:
            self._run += 1
            if self.stuck_run is not None and self._run == self.stuck_run:
                found = Detection(
                    self.series, ts_ms, "stuck", float(self._run), float(self.stuck_run), Severity.ALARM, "none",
                    f"stuck sensor: {self._run} identical readings in a row ({value!r}); by chance at most once "
                    f"in {self.design.stuck_arl0:.3g} readings",
                    DATA_QUALITY, value,
                )  # fmt: skip
        else:
            self._run = 1
        self._last = value
        if self._last_ts is None or ts_ms > self._last_ts:
            self._last_ts = ts_ms
        return found

    def _judge(self, ts_ms: int, count: int) -> Detection | None:
        missing = 1.0 - count / self.expected
        if count == 0 or missing < self.design.dropout_fraction:
            return None
        return Detection(
            self.series, ts_ms, "dropout", missing, self.design.dropout_fraction, Severity.WARNING, "none",
            f"heavy dropout: {missing:.0%} of the {self.expected:g} expected readings missing in "
            f"{self.design.dropout_window_s:g} s (limit {self.design.dropout_fraction:.0%})",
            DATA_QUALITY, None,
        )  # fmt: skip

    def tick(self, now_ms: int) -> Detection | None:
        """Check for silence at ``now_ms``; a detection once per silence."""
        if self._last_ts is None or self._silent:
            return None
        quiet_s = (now_ms - self._last_ts) / 1000.0
        if quiet_s < self.design.silent_after_s:
            return None
        self._silent = True
        return Detection(
            self.series, now_ms, "silent", quiet_s, self.design.silent_after_s, Severity.ALARM, "none",
            f"silent sensor: no reading for {quiet_s:.0f} s (limit {self.design.silent_after_s:g} s)",
            DATA_QUALITY, None,
        )  # fmt: skip
