"""Individuals detector for process signals and slow parts: shock, two-sided mean CUSUM, z² variance CUSUM.

Each reading x_t is standardised against the phase I :class:`~smartfactory.spc.baseline.Baseline`:

    z_t = (x_t − μ) / σ                                 when |φ| ≤ phi_material (default 0.2)
    z_t = ((x_t − μ) − φ (x_{t−1} − μ)) / σ_e           otherwise: the AR(1) residual (Montgomery §10.4)

An autocorrelated signal charted on plain z raises false alarms at a rate the design does not predict (its
CUSUMs add up correlated steps); the residuals are independent N(0, 1) in control, so the same thresholds
hold. The price: a step δ in x shows up in the residuals as δ(1 − φ)/σ_e after its first point.

Detectors (thresholds from :func:`smartfactory.spc.design.design_individuals`):

- ``shock``:      |z_t| > L                                   (ALARM; CRITICAL beyond 2L)
- ``cusum_mean``: C⁺ = max(0, C⁺ + z − k), C⁻ = max(0, C⁻ − z − k), signal C± > h (Page 1954; WARNING)
- ``cusum_var``:  V = max(0, V + z² − k_v), signal V > h_v: the likelihood-ratio CUSUM for a variance
  increase with known mean (Hawkins & Olwell 1998), k_v = r ln r/(r − 1) for a variance ratio r (WARNING)

Every statistic sees every reading; a statistic that signals restarts from 0, the others carry on, so each
detector is a renewal process and the series' false-alarm rate is the sum of theirs. Non-finite readings
are not charted (count them in ``ignored``; they are a data-quality matter). A finite reading so far off
that its deviation overflows is a shock with z = ±inf. State: five floats.
"""

from __future__ import annotations

import math

from smartfactory.spc.baseline import Baseline
from smartfactory.spc.design import IndividualsDesign
from smartfactory.spc.detect.base import Detection, Severity, strongest

PHI_MATERIAL = 0.2


class IndividualsDetector:
    """Shock + mean CUSUM + variance CUSUM on one series, one reading at a time."""

    __slots__ = (
        "_ar", "_cn", "_cp", "_h", "_hv", "_k", "_kv", "_lim", "_mu", "_phi", "_prev", "_sd", "_sv",
        "baseline", "design", "ignored", "series",
    )  # fmt: skip

    def __init__(
        self, baseline: Baseline, design: IndividualsDesign, *, series: str = "", phi_material: float = PHI_MATERIAL
    ) -> None:
        self.series = series
        self.baseline = baseline
        self.design = design
        self._mu = baseline.center
        self._ar = baseline.uses_residuals(phi_material)
        self._phi = baseline.phi if self._ar else 0.0
        self._sd = baseline.sigma_e if self._ar else baseline.sigma
        self._k, self._h = design.mean.k, design.mean.h
        self._kv, self._hv = design.variance.k, design.variance.h
        self._lim = design.shock
        self.ignored = 0
        self.reset()

    @property
    def residuals(self) -> bool:
        """Whether the detector charts AR(1) residuals rather than the standardised values."""
        return self._ar

    @property
    def state(self) -> tuple[float, float, float]:
        """(C⁺, C⁻, V): the CUSUM statistics now."""
        return self._cp, self._cn, self._sv

    def reset(self) -> None:
        """Forget the CUSUMs and the previous reading (after a stop, or when new limits are installed)."""
        self._cp = self._cn = self._sv = 0.0
        self._prev = 0.0

    def update(self, ts_ms: int, value: float) -> Detection | None:
        v = value
        if v - v != 0.0:  # nan or ±inf (inf − inf is nan): not charted
            self.ignored += 1
            return None
        d = v - self._mu
        if self._ar:
            e = d - self._phi * self._prev
            self._prev = d if d - d == 0.0 else 0.0
        else:
            e = d
        z = e / self._sd
        cp = self._cp + z - self._k
        cp = cp if cp > 0.0 else 0.0
        cn = self._cn - z - self._k
        cn = cn if cn > 0.0 else 0.0
        sv = self._sv + z * z - self._kv
        sv = sv if sv > 0.0 else 0.0
        lim = self._lim
        if cp <= self._h and cn <= self._h and sv <= self._hv and -lim <= z <= lim:
            self._cp, self._cn, self._sv = cp, cn, sv
            return None
        return self._signal(ts_ms, v, z, cp, cn, sv)

    def _signal(self, ts_ms: int, v: float, z: float, cp: float, cn: float, sv: float) -> Detection:
        what = "residual" if self._ar else "reading"
        found: list[Detection] = []
        lim = self._lim
        if not -lim <= z <= lim:
            up = z > 0
            sev = Severity.CRITICAL if abs(z) > 2.0 * lim else Severity.ALARM
            found.append(self._det(
                ts_ms, v, "shock", z, lim if up else -lim, sev, "up" if up else "down",
                f"shock: {what} {v:.6g} is {abs(z):.3g}σ {'above' if up else 'below'} the centre "
                f"{self._mu:.6g} (limit {lim:.3g}σ)",
            ))  # fmt: skip
        for stat, direction in ((cp, "up"), (cn, "down")):
            if stat > self._h:
                found.append(self._det(
                    ts_ms, v, "cusum_mean", stat, self._h, Severity.WARNING, direction,
                    f"mean shifted {direction}: CUSUM {stat:.3g} > h {self._h:.3g} (tuned for a "
                    f"{self.design.shift:g}σ shift{', on AR(1) residuals' if self._ar else ''})",
                ))  # fmt: skip
        if sv > self._hv:
            found.append(self._det(
                ts_ms, v, "cusum_var", sv, self._hv, Severity.WARNING, "up",
                f"variance increased: z² CUSUM {sv:.3g} > h {self._hv:.3g} (tuned for variance "
                f"×{self.design.variance_ratio:g})",
            ))  # fmt: skip
        self._cp = 0.0 if cp > self._h else cp
        self._cn = 0.0 if cn > self._h else cn
        self._sv = 0.0 if sv > self._hv else sv
        if not math.isfinite(self._prev):
            self._prev = 0.0
        return strongest(found)

    def _det(
        self, ts_ms: int, v: float, name: str, stat: float, thr: float, sev: Severity, direction: str, msg: str
    ) -> Detection:
        return Detection(self.series, ts_ms, name, stat, thr, sev, direction, msg, value=v)
