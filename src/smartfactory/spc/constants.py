"""Control-chart constants d2, d3, c4 and the factors derived from them.

d2 is the 3-decimal table used by the R package qcc 2.7 (``qcc.options("exp.R.unscaled")``) and by
Montgomery, *Introduction to Statistical Quality Control*, Appendix Table VI; d3 is qcc's 7-decimal table
(``qcc.options("se.R.unscaled")``, available up to n = 50). c4 is exact:
c4(n) = sqrt(2 / (n - 1)) · Γ(n / 2) / Γ((n - 1) / 2).

The textbook factors are not tabulated separately (qcc does not store them either); they follow from the
tables above so that our limits equal qcc's to the last bit:

    A2 = 3 / (d2 √n)      A3 = 3 / (c4 √n)
    D3 = max(0, 1 - 3 d3 / d2)      D4 = 1 + 3 d3 / d2
    B3 = max(0, 1 - 3 √(1 - c4²) / c4)      B4 = 1 + 3 √(1 - c4²) / c4
"""

from __future__ import annotations

import math

from smartfactory.spc.errors import SpcError

# d2(n) for n = 2..25 (index 0 is n = 2).
_D2: tuple[float, ...] = (
    1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336,
    3.407, 3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931,
)  # fmt: skip

# d3(n) for n = 2..50 (index 0 is n = 2).
_D3: tuple[float, ...] = (
    0.8525033, 0.8883697, 0.8798108, 0.8640855, 0.8480442, 0.8332108, 0.8198378, 0.8078413,
    0.7970584, 0.7873230, 0.7784873, 0.7704257, 0.7630330, 0.7562217, 0.7499188, 0.7440627,
    0.7386021, 0.7334929, 0.7286980, 0.7241851, 0.7199267, 0.7158987, 0.7120802, 0.7084528,
    0.7050004, 0.7017086, 0.6985648, 0.6955576, 0.6926770, 0.6899137, 0.6872596, 0.6847074,
    0.6822502, 0.6798821, 0.6775973, 0.6753910, 0.6732584, 0.6711952, 0.6691976, 0.6672619,
    0.6653848, 0.6635632, 0.6617943, 0.6600754, 0.6584041, 0.6567780, 0.6551950, 0.6536532,
    0.6521506,
)  # fmt: skip

D2_MAX_N = 1 + len(_D2)  # 25
D3_MAX_N = 1 + len(_D3)  # 50


def d2(n: int) -> float:
    """Mean of the relative range W = R/σ of n normal observations (3-decimal table, n = 2..25)."""
    if not 2 <= n <= D2_MAX_N:
        raise SpcError(f"d2 is tabulated for subgroup sizes 2..{D2_MAX_N}, got {n}: use an S chart instead")
    return _D2[n - 2]


def d3(n: int) -> float:
    """Standard deviation of the relative range W = R/σ (n = 2..50)."""
    if not 2 <= n <= D3_MAX_N:
        raise SpcError(f"d3 is tabulated for subgroup sizes 2..{D3_MAX_N}, got {n}: use an S chart instead")
    return _D3[n - 2]


def c4(n: int | float) -> float:
    """Unbiasing constant of the sample standard deviation: E[s] = c4(n)·σ (exact, any n ≥ 2)."""
    if n < 2:
        raise SpcError(f"c4 needs n ≥ 2, got {n}")
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2.0) - math.lgamma((n - 1) / 2.0))


def a2(n: int) -> float:
    """X̄ chart factor with R̄: limits X̿ ± A2·R̄."""
    return 3.0 / (d2(n) * math.sqrt(n))


def a3(n: int) -> float:
    """X̄ chart factor with s̄: limits X̿ ± A3·s̄."""
    return 3.0 / (c4(n) * math.sqrt(n))


def d3_factor(n: int) -> float:
    """R chart lower factor D3 (limits D3·R̄, D4·R̄)."""
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def d4_factor(n: int) -> float:
    """R chart upper factor D4."""
    return 1.0 + 3.0 * d3(n) / d2(n)


def b3(n: int) -> float:
    """S chart lower factor B3 (limits B3·s̄, B4·s̄)."""
    c = c4(n)
    return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - c * c) / c)


def b4(n: int) -> float:
    """S chart upper factor B4."""
    c = c4(n)
    return 1.0 + 3.0 * math.sqrt(1.0 - c * c) / c
