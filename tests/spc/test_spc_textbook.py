"""Textbook cases and hand-computed formulas for every chart, capability and the error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartfactory import spc

# Montgomery, Introduction to SQC, Table 9.1: 30 observations, μ0 = 10, σ = 1 (shift of 1σ after period 20)
MONTGOMERY_9_1 = [
    9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47, 10.51, 9.40, 10.08,
    9.37, 10.62, 10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52,
]  # fmt: skip


def test_tabular_cusum_matches_montgomery_table_9_2() -> None:
    c = spc.cusum(MONTGOMERY_9_1, center=10, sigma=1, h=5, k=0.5)
    assert c.upper is not None
    assert c.lower is not None
    assert c.signal is not None
    # printed (2 decimals) values of C+ and C- in Table 9.2
    np.testing.assert_allclose(c.upper[[3, 4, 5, 28, 29]], [1.16, 2.82, 2.50, 5.28, 5.30], atol=0.005)
    np.testing.assert_allclose(-c.lower[[0, 1, 2, 6]], [0.05, 1.56, 1.77, 1.46], atol=0.005)
    assert (c.lower <= 0).all()  # reported negative, as qcc does
    assert np.flatnonzero(c.signal).tolist() == [28, 29]  # first signal at period 29
    assert c.rules == [()] * 30  # run rules do not apply to a CUSUM


def test_ewma_matches_montgomery_example_9_2() -> None:
    e = spc.ewma(MONTGOMERY_9_1, center=10, sigma=1, lam=0.1, nsigmas=2.7)
    assert e.statistics[0] == pytest.approx(9.945)  # z1 = 0.1·9.45 + 0.9·10
    assert e.ucl_line[0] == pytest.approx(10.27, abs=5e-3)
    assert e.lcl_line[0] == pytest.approx(9.73, abs=5e-3)
    assert e.ucl_line[-1] == pytest.approx(10 + 2.7 * math.sqrt(0.1 / 1.9), abs=1e-3)  # near steady state
    z, want = 10.0, []
    for v in MONTGOMERY_9_1:
        z = 0.1 * v + 0.9 * z
        want.append(z)
    np.testing.assert_allclose(e.statistics, want, rtol=1e-12)
    assert e.signal is not None
    assert e.signal.tolist() == [(zz > u or zz < lo) for zz, lo, u in zip(want, e.lcl_line, e.ucl_line, strict=True)]


def test_ewma_estimates_from_phase1_and_varies_limits_with_sizes() -> None:
    data = [[1.0, 2.0, 3.0], [2.0, 2.5, np.nan], [1.5, 3.5, 2.5], [2.0, 2.0, 4.0]]
    e = spc.ewma(data, 3, lam=0.3)
    sizes = np.array([3, 2, 3, 3.0])
    means = np.array([2.0, 2.25, 2.5, 8 / 3])
    center = float(np.sum(sizes[:3] * means[:3]) / 8)
    sigma = (2 / spc.d2(3) + 0.5 / spc.d2(2) + 2 / spc.d2(3)) / 3
    assert e.center == pytest.approx(center)
    assert e.sigma == pytest.approx(sigma)
    t = np.arange(1, 5)
    se = np.sqrt(sigma**2 / sizes * (0.3 / 1.7) * (1 - 0.7 ** (2 * t)))
    np.testing.assert_allclose(e.ucl_line, center + 3 * se, rtol=1e-12)
    assert e.observed is not None
    np.testing.assert_allclose(e.observed, means, rtol=1e-12)


def test_imr_by_hand() -> None:
    x = [10.0, 12.0, 11.0, 15.0, 13.0, 30.0]
    pair = spc.imr(x, 5)
    mr = [2.0, 1.0, 4.0, 2.0]
    sigma = np.mean(mr) / 1.128
    assert pair.main.center == pytest.approx(12.2)
    assert pair.main.sigma == pytest.approx(sigma)
    assert pair.main.ucl == pytest.approx(12.2 + 3 * sigma)
    assert pair.main.violations("WE1") == [6]
    mrc = pair.companion
    assert mrc.statistics.tolist() == [2.0, 1.0, 4.0, 2.0, 17.0]
    assert mrc.n_phase1 == 4
    assert mrc.center == pytest.approx(2.25)
    assert mrc.lcl == 0.0
    assert mrc.ucl == pytest.approx(2.25 + 3 * 0.8525033 * sigma)
    assert mrc.ucl == pytest.approx(spc.d4_factor(2) * 2.25)  # D4(2) = 3.267
    assert mrc.violations("WE1") == [5]


def test_imr_known_parameters_use_standard_given_limits() -> None:
    pair = spc.imr([1.0, 2.0, 3.0, 2.0], center=2.0, sigma=0.5)
    assert (pair.main.lcl, pair.main.ucl) == (0.5, 3.5)
    assert pair.companion.center == pytest.approx(1.128 * 0.5)


def test_imr_revise_drops_outliers_and_reestimates() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(50, 1, 60)
    x[10] = 70.0
    pair = spc.imr(x, revise=3)
    assert pair.main.excluded == (11,)
    keep = np.delete(x, 10)
    assert pair.main.center == pytest.approx(float(np.mean(keep)))
    usable = [abs(x[i] - x[i - 1]) for i in range(1, 60) if i not in (10, 11)]
    assert pair.main.sigma == pytest.approx(float(np.mean(usable)) / 1.128)
    assert pair.companion.excluded == (10, 11)
    assert pair.observations.size == 59


def test_xbar_r_with_unequal_subgroups_has_varying_limits() -> None:
    data = [[5.0, 6.0, 7.0, 8.0], [6.0, 6.5, np.nan, np.nan], [4.0, 7.0, 6.0, np.nan], [5.5, 6.5, 6.0, 7.0]]
    pair = spc.xbar_r(data)
    n = np.array([4, 2, 3, 4.0])
    means = np.array([6.5, 6.25, 17 / 3, 6.25])
    ranges = np.array([3.0, 0.5, 3.0, 1.5])
    sigma = float(np.mean(ranges / np.array([spc.d2(int(k)) for k in n])))
    center = float(np.sum(n * means) / n.sum())
    assert pair.main.center == pytest.approx(center)
    assert pair.main.sigma == pytest.approx(sigma)
    assert isinstance(pair.main.ucl, np.ndarray)
    np.testing.assert_allclose(pair.main.ucl, center + 3 * sigma / np.sqrt(n), rtol=1e-12)
    rbar = float(np.sum(n * ranges) / n.sum())
    d3 = np.array([spc.d3(int(k)) for k in n])
    np.testing.assert_allclose(pair.companion.ucl_line, rbar + 3 * d3 * sigma, rtol=1e-12)
    np.testing.assert_allclose(pair.companion.lcl_line, np.maximum(0, rbar - 3 * d3 * sigma), rtol=1e-12)
    # zone lines follow the varying limits
    np.testing.assert_allclose(pair.main.zones.hi2, center + 2 * sigma / np.sqrt(n), rtol=1e-12)


def test_xbar_s_with_unequal_subgroups() -> None:
    data = [[5.0, 6.0, 7.0, 8.0], [6.0, 6.5, np.nan, np.nan], [4.0, 7.0, 6.0, np.nan]]
    pair = spc.xbar_s(data)
    n = np.array([4, 2, 3.0])
    s = np.array([np.std(r[~np.isnan(r)], ddof=1) for r in np.array(data)])
    c4 = np.array([spc.c4(int(k)) for k in n])
    sigma = float(np.mean(s / c4))
    sbar = float(np.sum(n * s) / n.sum())
    assert pair.main.sigma == pytest.approx(sigma)
    assert pair.companion.center == pytest.approx(sbar)
    np.testing.assert_allclose(pair.companion.ucl_line, sbar + 3 * sigma * np.sqrt(1 - c4**2), rtol=1e-12)


def test_p_chart_with_varying_sizes() -> None:
    counts, sizes = [3, 8, 2, 5], [50, 120, 40, 80]
    p = spc.p_chart(counts, sizes)
    pbar = 18 / 290
    n = np.array(sizes, dtype=float)
    assert p.center == pytest.approx(pbar)
    assert p.sigma == pytest.approx(math.sqrt(pbar * (1 - pbar)))
    np.testing.assert_allclose(p.ucl_line, pbar + 3 * np.sqrt(pbar * (1 - pbar) / n), rtol=1e-12)
    np.testing.assert_allclose(p.lcl_line, np.maximum(0, pbar - 3 * np.sqrt(pbar * (1 - pbar) / n)), atol=1e-15)
    npc = spc.np_chart(counts, sizes)
    np.testing.assert_allclose(npc.center_line, n * pbar, rtol=1e-12)


def test_u_chart_with_varying_sizes_and_zero_clipping() -> None:
    u = spc.u_chart([2, 9, 0, 4], [1.0, 2.5, 0.5, 2.0])
    ubar = 15 / 6
    n = np.array([1.0, 2.5, 0.5, 2.0])
    np.testing.assert_allclose(u.ucl_line, ubar + 3 * np.sqrt(ubar / n), rtol=1e-12)
    assert (u.lcl_line == 0).all()
    assert (u.zones.lo1 >= 0).all()
    assert (u.zones.lo2 >= 0).all()
    assert u.sigma == pytest.approx(math.sqrt(ubar))


def test_known_center_on_attribute_charts() -> None:
    c = spc.c_chart([3, 4, 5, 12], center=4.0)
    assert (c.center, c.lcl, c.ucl) == (4.0, 0.0, 10.0)
    assert c.violations("WE1") == [4]


def test_capability_one_sided_and_warnings() -> None:
    rng = np.random.default_rng(3)
    x = rng.exponential(1.0, 300)
    cap = spc.capability(x, center=float(x.mean()), sigma_within=1.0, usl=6.0)
    assert cap.cp is None
    assert cap.cpl is None
    assert cap.cpm is None
    assert cap.pp is None
    assert cap.cpu is not None
    assert cap.cpk is not None
    assert cap.ppk is not None
    assert cap.cpk.value == cap.cpu.value
    assert cap.normality.p_value is not None
    assert cap.normality.p_value < 0.05
    assert any("normal" in w for w in cap.warnings)
    small = spc.capability([1.0, 1.2, 0.9, 1.1], center=1.05, sigma_within=0.1, lsl=0.5, usl=1.5)
    assert small.normality.warning is not None
    assert "4 observations" in small.normality.warning
    flat = spc.normality([2.0] * 10)
    assert flat.p_value is None
    assert flat.warning is not None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: spc.xbar_r([[1.0, 2.0], [3.0, np.nan]]), "subgroup 2 has 1 value"),
        (lambda: spc.xbar_r([[1.0, 2.0], [3.0, 4.0]], 5), "lower --phase1"),
        (lambda: spc.xbar_r(np.ones((3, 30))), "X̄-S"),
        (lambda: spc.imr([1.0]), "at least 2"),
        (lambda: spc.imr([1.0, np.nan, 2.0]), "point 2"),
        (lambda: spc.p_chart([3, 60], [50, 50]), "count must be ≤ size"),
        (lambda: spc.c_chart([1, -2, 3]), "negative"),
        (lambda: spc.c_chart([1, 2, 3], [1, 2, 1]), "u chart"),
        (lambda: spc.ewma([1.0, 2.0, 3.0], lam=0.0), "lambda"),
        (lambda: spc.parse_rules("WE9"), "unknown rule"),
        (lambda: spc.capability([1.0, 2.0], center=1.5, sigma_within=0.1), "specification"),
    ],
)
def test_errors_say_what_to_do(call: object, message: str) -> None:
    with pytest.raises(spc.SpcError, match=message):
        call()  # type: ignore[operator]


def test_parse_rules_groups_and_qcc_spelling() -> None:
    assert spc.parse_rules("we") == spc.WE_RULES
    assert spc.parse_rules("none") == ()
    assert spc.parse_rules("NE5, WE1,we1") == ("WE1", "N5")
    assert spc.parse_rules(None) == spc.ALL_RULES


def test_charts_accept_rule_groups_as_strings() -> None:
    assert spc.p_chart([3, 5, 2, 8], [50] * 4, rules="we").flags.ids == spc.WE_RULES
    assert spc.imr([1.0, 2.0, 1.5], rules="N3,N4").main.flags.ids == ("N3", "N4")
