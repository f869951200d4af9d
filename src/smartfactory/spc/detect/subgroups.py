"""Subgroup detector for fast parts: X̄ and S on rational subgroups of n consecutive parts, a CUSUM on the
subgroup means, and a shock limit on each part.

With the phase I baseline (μ, σ of one part) and z_i = (x_i − μ)/σ for the n parts of a subgroup:

    z̄ = √n · mean(z_i)                   (standardised subgroup mean, N(0, 1) in control)
    s/σ = sd(z_i)                         (n − 1 divisor)

- ``xbar``:       |z̄| > L_x̄                                  (Montgomery §6.3; ALARM)
- ``s``:          s/σ > U, P(χ²_{n−1}/(n−1) > U²) = α_s      (the probability-limit S chart; ALARM)
- ``cusum_mean``: two-sided tabular CUSUM on z̄ with k = δ√n/2 for a shift of δσ per part (WARNING)
- ``shock``:      one part with |z_i| > L (ALARM; CRITICAL beyond 2L): a gross defect need not wait for its
  subgroup to close

Subgroups are the next n finite readings (tumbling); ``reset()`` starts a new one. Thresholds from
:func:`smartfactory.spc.design.design_subgroups`. State: a handful of floats.
"""

from __future__ import annotations

import math

from smartfactory.spc.baseline import Baseline
from smartfactory.spc.design import SubgroupDesign
from smartfactory.spc.detect.base import Detection, Severity, strongest


class SubgroupDetector:
    """X̄, S, CUSUM-of-means and per-part shock on one part characteristic."""

    __slots__ = (
        "_cn", "_cp", "_h", "_j", "_k", "_lim", "_mu", "_n", "_s1", "_s2", "_sd", "_slim", "_xlim", "_z0",
        "baseline", "design", "ignored", "series",
    )  # fmt: skip

    def __init__(self, baseline: Baseline, design: SubgroupDesign, *, series: str = "") -> None:
        self.series = series
        self.baseline = baseline
        self.design = design
        self._mu, self._sd = baseline.center, baseline.sigma
        self._n = design.n
        self._k, self._h = design.mean.k, design.mean.h
        self._xlim, self._slim, self._lim = design.xbar, design.s_limit, design.shock
        self.ignored = 0
        self._cp = self._cn = 0.0
        self._j = 0
        self._z0 = self._s1 = self._s2 = 0.0

    @property
    def filled(self) -> int:
        """Parts in the current (open) subgroup."""
        return self._j

    def reset(self) -> None:
        """Drop the open subgroup and the CUSUM."""
        self._cp = self._cn = 0.0
        self._j = 0
        self._z0 = self._s1 = self._s2 = 0.0

    def update(self, ts_ms: int, value: float) -> Detection | None:
        v = value
        if v - v != 0.0:
            self.ignored += 1
            return None
        z = (v - self._mu) / self._sd
        j = self._j
        if j == 0:
            self._z0 = z
            self._s1 = self._s2 = 0.0
        else:  # sums of z − z₀ (the first part of the subgroup): no cancellation however far off the mean is
            dz = z - self._z0
            self._s1 += dz
            self._s2 += dz * dz
        self._j = j = j + 1
        shock = not -self._lim <= z <= self._lim
        if j < self._n:
            return self._shock(ts_ms, v, z) if shock else None
        return self._close(ts_ms, v, z, shock)

    def _close(self, ts_ms: int, v: float, z: float, shock: bool) -> Detection | None:
        n = self._n
        self._j = 0
        s1, s2 = self._s1, self._s2
        zbar = (self._z0 + s1 / n) * math.sqrt(n)
        var = (s2 - s1 * s1 / n) / (n - 1)
        ratio = math.sqrt(var) if var > 0.0 else (0.0 if var == 0.0 else math.inf)  # nan: inf − inf, far off
        cp = self._cp + zbar - self._k
        cp = cp if cp > 0.0 else 0.0
        cn = self._cn - zbar - self._k
        cn = cn if cn > 0.0 else 0.0
        xl = self._xlim
        if not shock and cp <= self._h and cn <= self._h and -xl <= zbar <= xl and ratio <= self._slim:
            self._cp, self._cn = cp, cn
            return None
        found: list[Detection] = []
        if shock:
            found.append(self._shock(ts_ms, v, z))
        if not -xl <= zbar <= xl:
            up = not zbar < 0
            found.append(self._det(
                ts_ms, v, "xbar", zbar, xl if up else -xl, Severity.ALARM, "up" if up else "down",
                f"subgroup mean {self._mu + zbar * self._sd / math.sqrt(n):.6g} is {abs(zbar):.3g} standard errors "
                f"{'above' if up else 'below'} the centre {self._mu:.6g} (limit {xl:.3g})",
            ))  # fmt: skip
        if not ratio <= self._slim:
            found.append(self._det(
                ts_ms, v, "s", ratio, self._slim, Severity.ALARM, "up",
                f"subgroup spread s = {ratio:.3g}σ exceeds its limit {self._slim:.3g}σ (n = {n})",
            ))  # fmt: skip
        for stat, direction in ((cp, "up"), (cn, "down")):
            if stat > self._h:
                found.append(self._det(
                    ts_ms, v, "cusum_mean", stat, self._h, Severity.WARNING, direction,
                    f"mean shifted {direction}: CUSUM of subgroup means {stat:.3g} > h {self._h:.3g}",
                ))  # fmt: skip
        self._cp = 0.0 if cp > self._h else cp
        self._cn = 0.0 if cn > self._h else cn
        return strongest(found)

    def _shock(self, ts_ms: int, v: float, z: float) -> Detection:
        up = z > 0
        lim = self._lim
        sev = Severity.CRITICAL if abs(z) > 2.0 * lim else Severity.ALARM
        return self._det(
            ts_ms, v, "shock", z, lim if up else -lim, sev, "up" if up else "down",
            f"shock: part {v:.6g} is {abs(z):.3g}σ {'above' if up else 'below'} the centre {self._mu:.6g} "
            f"(limit {lim:.3g}σ)",
        )  # fmt: skip

    def _det(
        self, ts_ms: int, v: float, name: str, stat: float, thr: float, sev: Severity, direction: str, msg: str
    ) -> Detection:
        return Detection(self.series, ts_ms, name, stat, thr, sev, direction, msg, value=v)
