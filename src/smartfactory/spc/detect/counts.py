"""Count detector: a c chart with exact Poisson limits on counts summed over a window of readings.

A count that is nearly always 0 (rejects per minute) has no business on an individuals chart: its centre is
a fraction, its "σ" meaningless and a run of zeros below the centre fires WE4 (issue 12). Here the in-control
count per window is Poisson(λ·w), λ the mean count per reading (learned with
:func:`smartfactory.spc.baseline.learn_rate` or known), w the window; the limit u is the smallest count with
P(C > u) ≤ α, α = 1/ARL0 from the budget (:func:`smartfactory.spc.design.design_counts`). Only increases are
signalled (``poisson``, ALARM); there are no run rules on counts. Negative or non-finite readings are not
counts and are ignored (counted in ``ignored``).
"""

from __future__ import annotations

import math

from smartfactory.spc import arl as A
from smartfactory.spc.design import CountDesign
from smartfactory.spc.detect.base import Detection, Severity
from smartfactory.spc.errors import SpcError


class CountDetector:
    """Poisson upper limit on the sum of ``design.window`` consecutive counts."""

    __slots__ = ("_j", "_sum", "design", "ignored", "limit", "mean", "series", "tail")

    def __init__(self, rate: float, design: CountDesign, *, series: str = "") -> None:
        if not (rate >= 0 and math.isfinite(rate)):
            raise SpcError(f"a count chart needs a finite mean count ≥ 0 per reading, got {rate!r}")
        self.series = series
        self.design = design
        self.mean = rate * design.window
        self.limit = design.limit(rate)
        self.tail = float(A._scipy()[0].poisson.sf(self.limit, self.mean))  # achieved P(C > limit)
        self.ignored = 0
        self._j = 0
        self._sum = 0.0

    @property
    def arl0(self) -> float:
        """Achieved in-control ARL in windows (≥ the design's: the limit is an integer)."""
        return math.inf if self.tail == 0 else 1.0 / self.tail

    def reset(self) -> None:
        self._j = 0
        self._sum = 0.0

    def update(self, ts_ms: int, value: float) -> Detection | None:
        c = value
        if not c >= 0.0 or c - c != 0.0:
            self.ignored += 1
            return None
        self._sum += c
        self._j += 1
        if self._j < self.design.window:
            return None
        total, self._sum, self._j = self._sum, 0.0, 0
        if total <= self.limit:
            return None
        per = f"{self.design.window} readings" if self.design.window > 1 else "one reading"
        return Detection(
            self.series, ts_ms, "poisson", total, float(self.limit), Severity.ALARM, "up",
            f"count {total:g} in {per} exceeds the Poisson limit {self.limit} (in-control mean {self.mean:.3g}, "
            f"P(count > {self.limit}) = {self.tail:.2g})",
            value=c,
        )  # fmt: skip
