"""Process capability indices with confidence intervals, and a normality check.

Formulas as in qcc 2.7 ``process.capability`` (Scrucca 2004; Montgomery §8.3; Kotz & Johnson 1993),
k = nsigmas (3), n = number of individual phase I observations, α = 1 − confidence:

    Cp  = (USL − LSL) / (2kσ)          CI: Cp · √(χ²_{α/2, n−1}/(n−1)),  Cp · √(χ²_{1−α/2, n−1}/(n−1))
    Cpl = (μ − LSL) / (kσ)             CI: Cpl · (1 ∓ z_{conf} · √(1/(9n·Cpl²) + 1/(2(n−1))))
    Cpu = (USL − μ) / (kσ)             same form; z_{conf} = Φ⁻¹(0.95) = 1.645 at 95 % (a qcc convention)
    Cpk = min(Cpl, Cpu)                same form with z_{1−α/2} = 1.960 (Bissell 1990)
    Cpm = Cp / √(1 + ((μ − T)/σ)²)     CI: Cpm · √(χ²_{α/2, ν}/ν) …, ν = n(1 + d²)/(1 + 2d²), d = (μ − T)/σ

σ is the within-subgroup estimate of the control chart (MR̄/d2, R̄/d2 or s̄/c4) for the C-indices and the
overall sample standard deviation (n − 1 divisor) for Pp and Ppk, which use the Cp and Cpk formulas.
μ is the chart's centre line. T defaults to the middle of the specification. With a single specification
limit only the one-sided indices (Cpl or Cpu, hence Cpk) exist; the others are ``None``.

Normality: Shapiro-Wilk for 3 ≤ n ≤ 5000, D'Agostino-Pearson K² above (scipy.stats).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from smartfactory.spc.errors import SpcError

MIN_NORMALITY_N = 20  # below this a normality test has little power to reject anything


def _stats() -> Any:
    """scipy.stats, imported on first use: it costs ~0.6 s, which every CLI command would pay otherwise."""
    from scipy import stats

    return stats


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided confidence interval."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class NormalityCheck:
    """Result of the normality test on the phase I observations (``p_value`` is None when untestable)."""

    test: str
    n: int
    statistic: float | None
    p_value: float | None
    warning: str | None


@dataclass(frozen=True)
class Capability:
    """Capability study of a variables chart against specification limits."""

    n: int
    center: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    target: float | None
    confidence: float
    nsigmas: float
    cp: Interval | None
    cpl: Interval | None
    cpu: Interval | None
    cpk: Interval | None
    cpm: Interval | None
    pp: Interval | None
    ppk: Interval | None
    expected_below_lsl: float | None
    expected_above_usl: float | None
    observed_below_lsl: float | None
    observed_above_usl: float | None
    normality: NormalityCheck
    warnings: tuple[str, ...]

    def indices(self) -> dict[str, Interval | None]:
        """The seven indices by their JSON names."""
        return {
            "cp": self.cp,
            "cpk": self.cpk,
            "cpl": self.cpl,
            "cpu": self.cpu,
            "cpm": self.cpm,
            "pp": self.pp,
            "ppk": self.ppk,
        }


def normality(observations: npt.ArrayLike, alpha: float = 0.05) -> NormalityCheck:
    """Shapiro-Wilk (n ≤ 5000) or D'Agostino-Pearson (n > 5000) test, with a warning when it matters."""
    x = np.asarray(observations, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    test = "shapiro-wilk" if n <= 5000 else "dagostino-pearson"
    if n < 3:
        return NormalityCheck(test, n, None, None, f"only {n} observations: normality cannot be checked")
    if float(np.ptp(x)) == 0.0:
        return NormalityCheck(test, n, None, None, "all observations are equal: normality cannot be checked")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about small n or ties; we report that ourselves
        res = _stats().shapiro(x) if n <= 5000 else _stats().normaltest(x)
    stat, p = float(res.statistic), float(res.pvalue)
    warning = None
    if p < alpha:
        warning = (
            f"observations do not look normal ({test} p = {p:.3g} < {alpha:g}): capability indices assume "
            "normality and may be misleading; look at the histogram or transform the data"
        )
    elif n < MIN_NORMALITY_N:
        warning = f"only {n} observations: the normality test has little power and the intervals are wide"
    return NormalityCheck(test, n, stat, p, warning)


def _chi2_interval(value: float, df: float, alpha: float) -> Interval:
    lo, hi = _stats().chi2.ppf([alpha / 2.0, 1.0 - alpha / 2.0], df)
    return Interval(value, value * math.sqrt(lo / df), value * math.sqrt(hi / df))


def _normal_interval(value: float, n: int, z: float) -> Interval:
    half = z * math.sqrt(1.0 / (9.0 * n * value**2) + 1.0 / (2.0 * (n - 1))) if value != 0 else math.inf
    return Interval(value, value * (1.0 - half), value * (1.0 + half))


def capability(
    observations: npt.ArrayLike,
    *,
    center: float,
    sigma_within: float,
    lsl: float | None = None,
    usl: float | None = None,
    target: float | None = None,
    nsigmas: float = 3.0,
    confidence: float = 0.95,
    in_control: bool = True,
) -> Capability:
    """Compute Cp, Cpl, Cpu, Cpk, Cpm (within σ) and Pp, Ppk (overall σ) with confidence intervals."""
    x = np.asarray(observations, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if lsl is None and usl is None:
        raise SpcError("capability needs at least one specification limit (--lsl and/or --usl)")
    if lsl is not None and usl is not None and lsl >= usl:
        raise SpcError(f"LSL ({lsl:g}) must be below USL ({usl:g})")
    if n < 2:
        raise SpcError("capability needs at least 2 phase I observations")
    if not sigma_within > 0:
        raise SpcError("the within-subgroup sigma is 0: capability indices are undefined")
    if not 0 < confidence < 1:
        raise SpcError(f"confidence must be in (0, 1), got {confidence:g}")
    alpha = 1.0 - confidence
    z_one = float(_stats().norm.ppf(confidence))
    z_two = float(_stats().norm.ppf(1.0 - alpha / 2.0))
    sigma_overall = float(np.std(x, ddof=1))
    k = float(nsigmas)
    notes: list[str] = []
    if lsl is not None and usl is not None and target is None:
        target = (lsl + usl) / 2.0
    if target is not None and ((lsl is not None and target < lsl) or (usl is not None and target > usl)):
        notes.append(f"target {target:g} lies outside the specification limits")

    def family(sd: float) -> tuple[Interval | None, Interval | None, Interval | None, Interval | None]:
        cp = _chi2_interval((usl - lsl) / (2.0 * k * sd), n - 1, alpha) if lsl is not None and usl is not None else None
        cpl = _normal_interval((center - lsl) / (k * sd), n, z_one) if lsl is not None else None
        cpu = _normal_interval((usl - center) / (k * sd), n, z_one) if usl is not None else None
        sides = [i.value for i in (cpl, cpu) if i is not None]
        cpk = _normal_interval(min(sides), n, z_two)
        return cp, cpl, cpu, cpk

    cp, cpl, cpu, cpk = family(sigma_within)
    cpm = None
    if cp is not None and target is not None:
        d = (center - target) / sigma_within
        cpm = _chi2_interval(cp.value / math.sqrt(1.0 + d * d), n * (1.0 + d * d) / (1.0 + 2.0 * d * d), alpha)
    pp, _, _, ppk = family(sigma_overall) if sigma_overall > 0 else (None, None, None, None)
    check = normality(x)
    if check.warning:
        notes.append(check.warning)
    if not in_control:
        notes.append("the process is not in statistical control in phase I: capability is not meaningful")

    def expected(limit: float | None, upper: bool) -> float | None:
        if limit is None:
            return None
        zc = (limit - center) / sigma_within
        p = float(_stats().norm.sf(zc) if upper else _stats().norm.cdf(zc))
        return 0.0 if p < 1e-4 else p  # qcc 2.7 reports fractions below 0.0001 as 0

    return Capability(
        n=n,
        center=float(center),
        sigma_within=float(sigma_within),
        sigma_overall=sigma_overall,
        lsl=lsl,
        usl=usl,
        target=target,
        confidence=confidence,
        nsigmas=k,
        cp=cp,
        cpl=cpl,
        cpu=cpu,
        cpk=cpk,
        cpm=cpm,
        pp=pp,
        ppk=ppk,
        expected_below_lsl=expected(lsl, upper=False),
        expected_above_usl=expected(usl, upper=True),
        observed_below_lsl=None if lsl is None else float(np.mean(x < lsl)),
        observed_above_usl=None if usl is None else float(np.mean(x > usl)),
        normality=check,
        warnings=tuple(notes),
    )
