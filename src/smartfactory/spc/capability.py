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

**Degrees of freedom of the within σ** (``ci_method="effective-df"``, the default as soon as the caller says
how σ was estimated with ``sigma_method``). The qcc intervals above give σ̂_within n − 1 degrees of freedom,
true only for a sample standard deviation of all n observations. MR̄/d2 and R̄/d2 are less precise, so the
qcc intervals are too narrow (issue 12 measured 85–86 % coverage for I-MR and 89–91 % for X̄-R, n = 5, at a
nominal 95 %). We give σ̂ the effective degrees of freedom ν of a scaled χ whose coefficient of variation equals
the estimator's
(Patnaik 1950, *Biometrika* 37:78–87), solving (1 − c4(ν+1)²)/c4(ν+1)² = CV²:

    R̄/d2, m subgroups of n_i:  CV² = Σ (d3(n_i)/d2(n_i))² / m²      (≈ 0.9·m(n − 1) for n = 5)
    s̄/c4 (X̄-S):                CV² = Σ (1 − c4(n_i)²)/c4(n_i)² / m²
    pooled sd (qcc "RMSDF"):   ν = Σ (n_i − 1) exactly
    MR̄/d2, n individuals:     Var(MR̄) = σ²[k·v + 2(k − 1)·c]/k², k = n − 1, E MR̄ = 2σ/√π,
                               v = 2 − 4/π (one |x_t − x_{t−1}|), c = (4/π)(√3/2 + π/12) − 4/π (two adjacent ones,
                               correlation −½ of the differences): ν ≈ 0.605(n − 1) for large n (Cryer & Ryan
                               1990, *JQT* 22:187–192, discuss the same loss; tests/spc/test_spc_capability_df.py
                               checks the variance by simulation)

and then use ν in place of n − 1: Cp · √(χ²_{α/2,ν}/ν) …; Cpl, Cpu, Cpk with Bissell's form
idx · (1 ∓ z_{1−α/2} √(1/(9n·idx²) + 1/(2ν))) (two-sided z for all three: qcc's 1.645 for Cpl and Cpu makes
those 90 % intervals); Cpm with ν_m = (1 + d²)² / (1/ν + 2d²/n) (moment matching of σ̂² + (x̄ − T)²).
Pp and Ppk keep n − 1: their σ is the sample standard deviation. ``ci_method="qcc"`` (or no
``sigma_method``) keeps qcc 2.7's intervals exactly.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from smartfactory.spc.constants import c4, d2, d3
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
    ci_method: str = "qcc"  # "qcc" or "effective-df": how the C-index intervals treat σ_within
    df_within: float = math.nan  # the degrees of freedom given to σ_within (n − 1 for "qcc")

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
    if math.isinf(df):  # σ known: no sampling error in it
        return Interval(value, value, value)
    lo, hi = _stats().chi2.ppf([alpha / 2.0, 1.0 - alpha / 2.0], df)
    return Interval(value, value * math.sqrt(lo / df), value * math.sqrt(hi / df))


def _normal_interval(value: float, n: int, z: float, df: float | None = None) -> Interval:
    """Bissell's interval; ``df`` the degrees of freedom of σ̂ (n − 1 when None, as qcc)."""
    nu = float(n - 1) if df is None else df
    half = z * math.sqrt(1.0 / (9.0 * n * value**2) + 1.0 / (2.0 * nu)) if value != 0 else math.inf
    return Interval(value, value * (1.0 - half), value * (1.0 + half))


SIGMA_METHODS = ("mr", "r", "s", "rmsdf", "sd", "known")
# one moving range |x_t − x_{t−1}| of N(0, σ²) data: variance and covariance of two adjacent ones (σ = 1)
_MR_VAR = 2.0 - 4.0 / math.pi
_MR_COV = (4.0 / math.pi) * (math.sqrt(3.0) / 2.0 + math.pi / 12.0) - 4.0 / math.pi


def df_from_cv2(cv2: float) -> float:
    """ν with (1 − c4(ν+1)²)/c4(ν+1)² = cv2: the scaled-χ degrees of freedom of an estimate of σ (Patnaik)."""
    if not cv2 > 0:
        return math.inf
    from scipy.optimize import brentq

    def f(nu: float) -> float:  # c4(ν + 1) = E χ_ν/√ν, for any real ν > 0
        c = math.sqrt(2.0 / nu) * math.exp(math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0))
        return (1.0 - c * c) / (c * c) - cv2

    guess = 1.0 / (2.0 * cv2)
    return float(brentq(f, min(0.05, guess / 4), max(4.0 * guess, 1.0), xtol=1e-9, rtol=1e-12))


def within_df(method: str, *, n: int | None = None, sizes: npt.ArrayLike | None = None) -> float:
    """Effective degrees of freedom of a within-subgroup σ estimate.

    ``method``: "mr" (MR̄/d2 of ``n`` individuals), "r" (mean R_i/d2(n_i)), "s" (mean s_i/c4(n_i)), "rmsdf"
    (pooled sd), "sd" (sample sd of ``n`` values: n − 1), "known" (∞). ``sizes``: phase I subgroup sizes.
    """
    if method not in SIGMA_METHODS:
        raise SpcError(f"sigma_method must be one of {', '.join(SIGMA_METHODS)}, got {method!r}")
    if method == "known":
        return math.inf
    if method in ("mr", "sd"):
        if n is None or n < 2:
            raise SpcError(f"the {method!r} σ needs the number of individuals n ≥ 2")
        if method == "sd":
            return float(n - 1)
        if n == 2:
            return df_from_cv2(_MR_VAR / (4.0 / math.pi))
        k = n - 1
        return df_from_cv2((k * _MR_VAR + 2.0 * (k - 1) * _MR_COV) / (k * k * 4.0 / math.pi))
    if sizes is None:
        raise SpcError(f"the {method!r} σ needs the phase I subgroup sizes")
    sz = np.asarray(sizes, dtype=np.int64).ravel()
    if sz.size == 0 or int(sz.min()) < 2:
        raise SpcError("subgroup σ estimates need subgroups of 2 or more")
    if method == "rmsdf":
        return float(np.sum(sz - 1))
    m = sz.size
    if method == "r":
        terms = [(d3(int(k)) / d2(int(k))) ** 2 for k in sz]
    else:
        terms = [(1.0 - c4(int(k)) ** 2) / c4(int(k)) ** 2 for k in sz]
    return df_from_cv2(float(sum(terms)) / (m * m))


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
    sigma_method: str | None = None,
    subgroup_sizes: npt.ArrayLike | None = None,
    ci_method: str = "auto",
) -> Capability:
    """Compute Cp, Cpl, Cpu, Cpk, Cpm (within σ) and Pp, Ppk (overall σ) with confidence intervals.

    ``sigma_method`` says how ``sigma_within`` was estimated ("mr", "r", "s", "rmsdf", "sd", "known"; with
    ``subgroup_sizes`` for the subgroup ones). ``ci_method``: "qcc" (n − 1 degrees of freedom, qcc 2.7
    exactly), "effective-df" (the estimator's own, see the module docstring), or "auto" = "effective-df"
    when ``sigma_method`` is given, else "qcc".
    """
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
    if ci_method not in ("auto", "qcc", "effective-df"):
        raise SpcError(f"ci_method must be auto, qcc or effective-df, got {ci_method!r}")
    method = ("qcc" if sigma_method is None else "effective-df") if ci_method == "auto" else ci_method
    if method == "effective-df" and sigma_method is None:
        raise SpcError("ci_method='effective-df' needs sigma_method (mr, r, s, rmsdf, sd or known)")
    nu = float(n - 1) if method == "qcc" else within_df(str(sigma_method), n=n, sizes=subgroup_sizes)
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

    def family(
        sd: float, df: float, z_side: float
    ) -> tuple[Interval | None, Interval | None, Interval | None, Interval | None]:
        cp = _chi2_interval((usl - lsl) / (2.0 * k * sd), df, alpha) if lsl is not None and usl is not None else None
        cpl = _normal_interval((center - lsl) / (k * sd), n, z_side, df) if lsl is not None else None
        cpu = _normal_interval((usl - center) / (k * sd), n, z_side, df) if usl is not None else None
        sides = [i.value for i in (cpl, cpu) if i is not None]
        cpk = _normal_interval(min(sides), n, z_two, df)
        return cp, cpl, cpu, cpk

    qcc = method == "qcc"
    cp, cpl, cpu, cpk = family(sigma_within, nu, z_one if qcc else z_two)
    cpm = None
    if cp is not None and target is not None:
        d = (center - target) / sigma_within
        if qcc:
            nu_m = n * (1.0 + d * d) / (1.0 + 2.0 * d * d)
        else:  # σ known and on target: nothing is estimated, ν_m = ∞
            spread = 1.0 / nu + 2.0 * d * d / n
            nu_m = (1.0 + d * d) ** 2 / spread if spread > 0 else math.inf
        cpm = _chi2_interval(cp.value / math.sqrt(1.0 + d * d), nu_m, alpha)
    pp, _, _, ppk = family(sigma_overall, float(n - 1), z_one) if sigma_overall > 0 else (None, None, None, None)
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
        ci_method=method,
        df_within=nu,
    )
