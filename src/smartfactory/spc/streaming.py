"""Streaming SPC: evaluate the run rules one reading at a time, with O(1) state per series.

A :class:`SeriesMonitor` watches one series on an individuals chart. Its limits are either given
(:class:`Limits`, e.g. loaded from storage) or learned from the first ``learn`` readings (phase I: centre =
mean, σ̂ = MR̄/1.128, exactly as :func:`smartfactory.spc.imr`). ``update(ts_ms, value)`` returns the rule
violations of that reading, with the same rule ids and semantics as the batch engine
(:mod:`smartfactory.spc.rules`): feeding a series point by point yields the batch flags of every phase II
point (and, with ``report_phase1=True``, of the phase I points too, reported when learning completes).

State per series: the last value and difference, six run counters and four bit-masked windows (≤ 8 points),
plus the learning buffer while learning. Non-finite readings are ignored (they neither count nor break runs).
:class:`StreamMonitor` keeps one ``SeriesMonitor`` per series key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from smartfactory.spc.baseline import CannotLearn, finite_values, scaled, unscale
from smartfactory.spc.errors import SpcError
from smartfactory.spc.estimators import sigma_moving_range
from smartfactory.spc.rules import ALL_RULES, parse_rules


@dataclass(frozen=True)
class Limits:
    """Frozen individuals-chart parameters of one series."""

    center: float
    sigma: float
    nsigmas: float = 3.0
    n: int = 0  # phase I readings they were learned from (0 = configured)
    source: str = "configured"  # or "learned"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.center) and math.isfinite(self.sigma)) or self.sigma < 0:
            raise SpcError(f"limits need a finite centre and sigma ≥ 0, got {self.center!r}, {self.sigma!r}")

    @property
    def lcl(self) -> float:
        return self.center - self.nsigmas * self.sigma

    @property
    def ucl(self) -> float:
        return self.center + self.nsigmas * self.sigma

    @classmethod
    def learn(cls, values: Iterable[float], nsigmas: float = 3.0) -> Limits:
        """Phase I estimate from readings: mean and MR̄/d2(2) (the batch I-MR formulas).

        Non-finite readings are dropped. The arithmetic runs on the values scaled by an exact power of two
        (:func:`smartfactory.spc.baseline.scaled`), so any finite input, even 50 × 1e308 or alternating
        ±1e308, gives finite estimates (bit-identical to the unscaled formulas for ordinary data); when σ
        itself is beyond the largest double it raises :class:`CannotLearnError` (an ``SpcError``), which a
        caller contains per series.
        """
        x = finite_values(values)
        if x.size < 2:
            raise CannotLearn("too-few", int(x.size), "need at least 2 finite readings to learn limits").error()
        y, e = scaled(x)
        center = unscale(float(np.mean(y)), e)
        sigma = unscale(sigma_moving_range(y), e)
        if not math.isfinite(sigma):
            raise CannotLearn("overflow", int(x.size), "the moving-range σ is beyond the largest double").error()
        return cls(center, sigma, nsigmas, int(x.size), "learned")


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule violated by one reading."""

    series: str
    ts_ms: int
    index: int  # 1-based position of the reading in the series (phase I readings included)
    value: float
    rule: str
    phase: int  # 1 = learning window, 2 = monitored


class SeriesMonitor:
    """Run-rule evaluation for one series, one reading at a time."""

    __slots__ = (
        "_a1", "_a2", "_b1", "_b2", "_buffer", "_c", "_diff", "_enabled", "_hi1", "_hi2", "_hi3", "_i",
        "_learn", "_limits", "_lo1", "_lo2", "_lo3", "_nsigmas", "_on_limits", "_prev", "_r_above",
        "_r_alt", "_r_below", "_r_dn", "_r_in", "_r_up", "report_phase1", "series",
    )  # fmt: skip

    def __init__(
        self,
        series: str = "",
        limits: Limits | None = None,
        *,
        learn: int = 30,
        rules: Iterable[str] | str = ALL_RULES,
        nsigmas: float = 3.0,
        report_phase1: bool = False,
        on_limits: Callable[[str, Limits], None] | None = None,
    ) -> None:
        if limits is None and learn < 2:
            raise SpcError("give limits or learn them from at least 2 readings")
        self.series = series
        self.report_phase1 = report_phase1
        self._enabled = parse_rules(rules)
        self._learn = int(learn)
        self._nsigmas = float(nsigmas)
        self._on_limits = on_limits
        self._buffer: list[tuple[int, float]] = []
        self._limits: Limits | None = None
        self._reset_state()
        if limits is not None:
            self._set(limits)

    # -- public -------------------------------------------------------------------------------------
    @property
    def limits(self) -> Limits | None:
        """Current limits (``None`` while learning)."""
        return self._limits

    @property
    def learning(self) -> bool:
        return self._limits is None

    @property
    def count(self) -> int:
        """Readings evaluated so far (learning readings included once learning has completed)."""
        return self._i

    def set_limits(self, limits: Limits, *, reset: bool = True) -> None:
        """Install new frozen limits (e.g. a new version from storage); ``reset`` clears run state."""
        if reset:
            self._reset_state()
            self._buffer.clear()
        self._set(limits)

    def relearn(self, learn: int | None = None) -> None:
        """Forget limits and state and learn again from the next readings."""
        self._learn = int(learn or self._learn)
        self._limits = None
        self._buffer.clear()
        self._reset_state()

    def update(self, ts_ms: int, value: float) -> list[Violation]:
        """Evaluate one reading; returns its violations (empty while learning or when in control)."""
        v = float(value)
        if not math.isfinite(v):
            return []
        if self._limits is not None:
            return self._step(ts_ms, v, 2)
        self._buffer.append((ts_ms, v))
        if len(self._buffer) < self._learn:
            return []
        limits = Limits.learn([b[1] for b in self._buffer], self._nsigmas)
        self._set(limits)
        replay, self._buffer = self._buffer, []
        found: list[Violation] = []
        for ts, val in replay:  # prime the run state with phase I so runs span both phases, as in batch
            hits = self._step(ts, val, 1)
            if self.report_phase1:
                found.extend(hits)
        if self._on_limits is not None:
            self._on_limits(self.series, limits)
        return found

    # -- internals ----------------------------------------------------------------------------------
    def _set(self, limits: Limits) -> None:
        c, s, k = limits.center, limits.sigma, limits.nsigmas
        self._limits = limits
        self._c = c
        self._lo1, self._hi1 = c - k / 3.0 * s, c + k / 3.0 * s
        self._lo2, self._hi2 = c - 2.0 * k / 3.0 * s, c + 2.0 * k / 3.0 * s
        self._lo3, self._hi3 = c - k * s, c + k * s

    def _reset_state(self) -> None:
        self._i = 0
        self._prev = math.nan
        self._diff = math.nan
        self._r_above = self._r_below = self._r_up = self._r_dn = self._r_alt = self._r_in = 0
        self._a1 = self._b1 = self._a2 = self._b2 = 0

    def _step(self, ts_ms: int, v: float, phase: int) -> list[Violation]:
        i = self._i = self._i + 1
        c = self._c
        above, below = v > c, v < c
        self._r_above = self._r_above + 1 if above else 0
        self._r_below = self._r_below + 1 if below else 0
        a1, b1 = v > self._hi1, v < self._lo1
        a2, b2 = v > self._hi2, v < self._lo2
        m_a1 = self._a1 = ((self._a1 << 1) | a1) & 0xFF
        m_b1 = self._b1 = ((self._b1 << 1) | b1) & 0xFF
        m_a2 = self._a2 = ((self._a2 << 1) | a2) & 0x7
        m_b2 = self._b2 = ((self._b2 << 1) | b2) & 0x7
        self._r_in = self._r_in + 1 if self._lo1 <= v <= self._hi1 else 0
        d = v - self._prev  # NaN for the first reading: no trend, no alternation
        self._r_up = self._r_up + 1 if d > 0 else 0
        self._r_dn = self._r_dn + 1 if d < 0 else 0
        self._r_alt = self._r_alt + 1 if d * self._diff < 0 else 0
        self._prev, self._diff = v, d

        side = self._r_above if above else self._r_below
        we1 = v > self._hi3 or v < self._lo3
        we2 = i >= 3 and ((a2 and m_a2.bit_count() >= 2) or (b2 and m_b2.bit_count() >= 2))
        we3 = i >= 5 and ((a1 and (m_a1 & 0x1F).bit_count() >= 4) or (b1 and (m_b1 & 0x1F).bit_count() >= 4))
        n3 = self._r_up >= 5 or self._r_dn >= 5
        n4 = self._r_alt >= 12
        n7 = self._r_in >= 15
        n8 = i >= 8 and (m_a1 | m_b1) == 0xFF and m_a1 != 0 and m_b1 != 0
        if not (we1 or we2 or we3 or side >= 8 or n3 or n4 or n7 or n8):
            return []
        fired = {
            "WE1": we1, "WE2": we2, "WE3": we3, "WE4": side >= 8,
            "N1": we1, "N2": side >= 9, "N3": n3, "N4": n4, "N5": we2, "N6": we3, "N7": n7, "N8": n8,
        }  # fmt: skip
        return [Violation(self.series, ts_ms, i, v, r, phase) for r in self._enabled if fired[r]]


class StreamMonitor:
    """One :class:`SeriesMonitor` per series key, created on first sight."""

    def __init__(
        self,
        *,
        learn: int = 30,
        rules: Iterable[str] | str = ALL_RULES,
        nsigmas: float = 3.0,
        limits: Mapping[str, Limits] | None = None,
        report_phase1: bool = False,
        on_limits: Callable[[str, Limits], None] | None = None,
    ) -> None:
        self._learn = learn
        self._rules = parse_rules(rules)
        self._nsigmas = nsigmas
        self._report_phase1 = report_phase1
        self._on_limits = on_limits
        self._series: dict[str, SeriesMonitor] = {}
        for key, lim in (limits or {}).items():
            self.monitor(key, lim)

    def monitor(self, series: str, limits: Limits | None = None) -> SeriesMonitor:
        """The monitor of ``series`` (created if needed; ``limits`` replace the current ones when given)."""
        mon = self._series.get(series)
        if mon is None:
            mon = SeriesMonitor(
                series, limits, learn=self._learn, rules=self._rules, nsigmas=self._nsigmas,
                report_phase1=self._report_phase1, on_limits=self._on_limits,
            )  # fmt: skip
            self._series[series] = mon
        elif limits is not None:
            mon.set_limits(limits)
        return mon

    def update(self, series: str, ts_ms: int, value: float) -> list[Violation]:
        mon = self._series.get(series) or self.monitor(series)
        return mon.update(ts_ms, value)

    def limits(self) -> dict[str, Limits]:
        """Limits of every series that has them (learned or configured)."""
        return {k: m.limits for k, m in self._series.items() if m.limits is not None}

    def __contains__(self, series: object) -> bool:
        return series in self._series

    def __len__(self) -> int:
        return len(self._series)
