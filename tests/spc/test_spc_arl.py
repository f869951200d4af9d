"""ARL calculators and designs, checked against published values, exact tails and seeded Monte Carlo.

The Monte Carlo bounds are loose on purpose (seeded, so they do not flake; wide enough that a correct
design passes for any seed): they catch a wrong formula, a wrong restart rule or a wrong budget split,
each of which moves an ARL by a factor, not by percent.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from smartfactory import spc
from smartfactory.spc import arl as A
from smartfactory.spc import design as D
from smartfactory.spc import montecarlo as M


@pytest.mark.parametrize(("h", "arl0", "arl1"), [(4.0, 168.0, 8.38), (5.0, 465.0, 10.4)])
def test_siegmund_matches_montgomery_table(h: float, arl0: float, arl1: float) -> None:
    # Montgomery, Introduction to SQC, the two-sided tabular CUSUM with k = 1/2: ARL0 and ARL at a 1σ shift
    assert A.cusum_arl(0.5, h) == pytest.approx(arl0, rel=0.015)
    assert A.cusum_arl(0.5, h, 1.0) == pytest.approx(arl1, rel=0.02)


def test_markov_chain_agrees_with_siegmund_for_normal_increments() -> None:
    for k, h in [(0.5, 4.0), (0.5, 8.0), (0.25, 6.0)]:
        one_sided = A.markov_arl(stats.norm.cdf, k, h)
        assert one_sided == pytest.approx(float(A.siegmund_arl(0.0, k, h)), rel=0.02)


def test_solvers_invert_their_arl() -> None:
    for arl0 in (370.4, 1e4, 5e5):
        h = A.solve_cusum_h(arl0, 0.5)
        assert A.cusum_arl(0.5, h) == pytest.approx(arl0, rel=1e-8)
        lim = A.shock_limit(arl0)
        assert 2 * stats.norm.sf(lim) == pytest.approx(1 / arl0, rel=1e-10)
    assert A.shock_limit(370.4) == pytest.approx(3.0, abs=1e-3)
    hv = A.solve_variance_h(2000.0, A.variance_k(2.0))
    assert A.variance_cusum_arl(A.variance_k(2.0), hv) == pytest.approx(2000.0, rel=1e-6)
    u = A.s_chart_limit(1000.0, 5)
    assert stats.chi2.sf(4 * u * u, 4) == pytest.approx(1e-3, rel=1e-9)
    with pytest.raises(spc.SpcError):
        A.solve_cusum_h(1.5, 0.5)


def test_poisson_limit_is_the_smallest_exact_one() -> None:
    rng = np.random.default_rng(0)
    for mean, alpha in zip(rng.uniform(0.001, 30, 60), 10 ** rng.uniform(-6, -1, 60), strict=True):
        u = A.poisson_limit(float(mean), float(alpha))
        assert stats.poisson.sf(u, mean) <= alpha
        assert u == 0 or stats.poisson.sf(u - 1, mean) > alpha
    assert A.poisson_limit(0.0, 0.01) == 0


def test_expected_rates_reduce_to_the_known_ones_and_grow_with_estimation_error() -> None:
    k, h = 0.5, 8.0
    assert A.expected_cusum_rate(k, h, 0.0, None) == pytest.approx(1 / A.cusum_arl(k, h), rel=1e-12)
    assert A.expected_shock_rate(4.0, 0.0, None) == pytest.approx(2 * stats.norm.sf(4.0), rel=1e-12)
    rates = [A.expected_cusum_rate(k, h, 1 / n, n - 1.0) for n in (100, 300, 1000, 10_000)]
    assert rates == sorted(rates, reverse=True)  # a shorter phase I means more false alarms on average
    assert rates[0] > 2 / A.cusum_arl(k, h)
    assert rates[-1] == pytest.approx(1 / A.cusum_arl(k, h), rel=0.1)
    _, _, w = A.estimation_nodes(0.01, 99.0)
    assert float(w.sum()) == pytest.approx(1.0, rel=1e-12)


def test_known_parameter_design_meets_its_arl0_by_simulation() -> None:
    design = D.design_individuals(2000.0)
    assert design.arl0 == pytest.approx(2000.0, rel=1e-6)
    for phi in (0.0, 0.6):  # φ = 0.6: the detector charts AR(1) residuals and keeps the design
        res = M.simulate_individuals(design, streams=800, steps=12_000, rng=np.random.default_rng(31), phi=phi)
        assert 0.85 < res.arl / design.arl0 < 1.2, (phi, res.arl)
        assert 0.8 < res.arl_of("cusum_mean") / design.mean.arl0 < 1.25
        assert 0.8 < res.arl_of("cusum_var") / design.variance.arl0 < 1.25
        assert 0.75 < res.arl_of("shock") / design.shock_arl0 < 1.3


def test_plain_z_on_an_autocorrelated_signal_breaks_the_design() -> None:
    design = D.design_individuals(2000.0)
    # the same AR(1) φ = 0.6 stream charted without residuals (phi_material above φ): the lecture's trap
    res = M.simulate_individuals(
        design, streams=400, steps=5_000, rng=np.random.default_rng(5), phi=0.6, phi_material=0.9
    )
    assert res.arl < design.arl0 / 4


def test_phase1_adjusted_design_meets_the_budget_with_learned_limits() -> None:
    n1 = 100
    known = D.design_individuals(2000.0)
    adjusted = D.design_individuals(2000.0, phase1_points=n1)
    assert adjusted.mean.h > known.mean.h
    assert adjusted.variance.h > known.variance.h
    assert adjusted.shock > known.shock
    rng = np.random.default_rng(77)
    naive = M.simulate_individuals(known, streams=1000, steps=8_000, rng=rng, phase1=n1)
    fixed = M.simulate_individuals(adjusted, streams=1000, steps=8_000, rng=rng, phase1=n1)
    assert naive.arl < known.arl0 / 2  # 100 phase I points: the naive design has > 2× its false alarms
    assert 0.75 < fixed.arl / adjusted.arl0 * (adjusted.arl0 / 2000.0) < 1.3  # the expected rate meets 1/2000


def test_arl1_by_simulation_matches_the_calculators() -> None:
    design = D.design_individuals(5000.0)
    rng = np.random.default_rng(9)
    step = M.simulate_individuals(design, streams=1500, steps=3_000, rng=rng, shift=1.0, stop_when_all=True)
    mean_by = step.first_by["cusum_mean"]
    assert np.isfinite(mean_by).all()
    assert float(mean_by.mean()) == pytest.approx(A.cusum_arl(design.mean.k, design.mean.h, 1.0), rel=0.1)
    var = M.simulate_individuals(design, streams=1500, steps=5_000, rng=rng, ratio=2.0, stop_when_all=True)
    by_var = var.first_by["cusum_var"]
    assert float(by_var[np.isfinite(by_var)].mean()) == pytest.approx(
        A.variance_cusum_arl(design.variance.k, design.variance.h, ratio=2.0), rel=0.12
    )
    assert float(np.median(step.first)) < float(np.median(var.first))


def test_subgroup_design_by_simulation() -> None:
    design = D.design_subgroups(500.0, 5)
    assert design.arl0 == pytest.approx(500.0, rel=1e-6)
    res = M.simulate_subgroups(design, streams=600, subgroups=4_000, rng=np.random.default_rng(12))
    assert 0.85 < res.arl / 5 / design.arl0 < 1.2  # res.arl is in parts
    for name, arl0 in design.component_arl0.items():
        assert 0.75 < res.arl_of(name) / 5 / arl0 < 1.3, name
    adjusted = D.design_subgroups(500.0, 5, phase1_points=100)
    learned = M.simulate_subgroups(adjusted, streams=600, subgroups=4_000, rng=np.random.default_rng(13), phase1=100)
    assert 0.75 < learned.arl / 5 / 500.0 < 1.3


def test_stuck_run_length_matches_simulated_rounding() -> None:
    sigma, res = 2.0, 1.0  # σ is two resolution steps: equal neighbours are common
    n = D.stuck_run_length(sigma, res, 2000.0)
    assert n is not None
    mu = 0.3
    x = np.round(np.random.default_rng(4).normal(mu, sigma, 2_000_000) / res)
    equal = (x[1:] == x[:-1]).astype(np.int64)

    def runs(m: int) -> float:  # fraction of points that end a run of m equal readings (m − 1 equal pairs)
        return float(np.mean(np.convolve(equal, np.ones(m - 1, dtype=np.int64), "valid") == m - 1))

    edges = (np.arange(-20, 22) - 0.5) * res
    p = np.diff(stats.norm.cdf(edges, mu, sigma))
    assert runs(n) == pytest.approx(float((p**n).sum()), rel=0.15)  # the formula Σ p_j^n
    assert runs(n) <= 1 / 2000.0 * 1.1
    assert runs(n - 1) > 1 / 2000.0  # n is the smallest run length that meets the target
    assert D.stuck_run_length(0.12, 0.01, 1e6) == 5  # the filler's conveyor speed: 12 steps of 0.01
    assert D.stuck_run_length(0.001, 0.01, 1e6) is None  # σ far below the resolution: constant, not stuck
    assert D.stuck_run_length(0.0, 0.01, 1e6) is None


def test_plan_budget_allocates_the_plant_rate() -> None:
    groups = [
        D.SeriesGroup("process", 13, 1.0, name="1 Hz sensors"),
        D.SeriesGroup("part", 1, 1.0, subgroup=5, name="fill weight"),
        D.SeriesGroup("part", 3, 1 / 24, name="moulded parts"),
        D.SeriesGroup("count", 2, 1 / 60, name="rejects per minute"),
    ]
    plan = D.plan_budget(groups)
    by = {g.group.name: g for g in plan.groups}
    assert by["1 Hz sensors"].per_series_per_hour == pytest.approx(0.4 / 13)
    assert by["1 Hz sensors"].arl0 == pytest.approx(3600 * 13 / 0.4)
    assert by["fill weight"].arl0 == pytest.approx(720 / (0.3 / 4))  # subgroups per hour / rate
    assert isinstance(by["fill weight"].design, D.SubgroupDesign)
    assert isinstance(by["moulded parts"].design, D.IndividualsDesign)
    assert isinstance(by["rejects per minute"].design, D.CountDesign)
    assert by["rejects per minute"].design.alpha == pytest.approx(0.1 / 2 / 60)
    assert by["1 Hz sensors"].stuck_arl0 == pytest.approx(3600 / (0.2 / 19))
    # at the chosen thresholds the SPC part of the budget (80 %) is what the designs add up to
    assert plan.designed_per_hour() == pytest.approx(0.8, rel=1e-6)
    # a plant without counts: their 10 % goes to the others in proportion
    no_counts = D.plan_budget(groups[:3])
    assert no_counts.groups[0].per_series_per_hour == pytest.approx(0.4 / 0.9 / 13)
    with pytest.raises(spc.SpcError, match="kind"):
        D.SeriesGroup("vibes", 1, 1.0)
    with pytest.raises(spc.SpcError, match="positive"):
        D.AlarmBudget(per_hour=0.0)


def test_plan_budget_shares_a_kind_by_weight() -> None:
    """A series of weight w gets w times the share of a weight-1 series of its kind; the kind's total is kept."""
    groups = [
        D.SeriesGroup("process", 4, 1.0, name="sensors"),
        D.SeriesGroup("part", 3, 1 / 24, name="plain parts"),
        D.SeriesGroup("part", 1, 1 / 24, weight=6.0, name="key characteristic"),
    ]
    plan = D.plan_budget(groups, D.AlarmBudget(per_hour=0.5, shares={"process": 0.4, "part": 0.6}))
    by = {g.group.name: g for g in plan.groups}
    assert by["key characteristic"].per_series_per_hour == pytest.approx(6 * by["plain parts"].per_series_per_hour)
    assert 3 * by["plain parts"].per_series_per_hour + by["key characteristic"].per_series_per_hour == pytest.approx(
        0.5 * 0.6
    )
    assert by["sensors"].per_series_per_hour == pytest.approx(0.5 * 0.4 / 4)  # weights never cross kinds
    assert by["key characteristic"].design.mean.h < by["plain parts"].design.mean.h  # the faster detector
    with pytest.raises(spc.SpcError, match="weight"):
        D.SeriesGroup("part", 1, 1.0, weight=0.0)


def test_design_rejects_nonsense() -> None:
    with pytest.raises(spc.SpcError):
        D.design_individuals(5.0)
    with pytest.raises(spc.SpcError):
        D.design_subgroups(100.0, 1)
    with pytest.raises(spc.SpcError, match="variance ratio"):
        D.design_individuals(1000.0, variance_ratio=1.0)
    with pytest.raises(spc.SpcError):
        A.poisson_limit(math.nan, 0.01)
