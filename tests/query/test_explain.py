"""Why a control-chart point is flagged, in words, and which points a long chart draws (`query.explain`)."""

from __future__ import annotations

import numpy as np

from smartfactory import spc
from smartfactory.query import explain


def test_why_names_the_rule_and_the_numbers() -> None:
    x = np.zeros(30)
    x[::2] = 1.0
    x[1::2] = -1.0
    x[25] = 10.0
    chart = spc.imr(x, phase1=20, rules=spc.ALL_RULES).main
    reasons = explain.why(chart, 25)
    ucl = float(chart.ucl)
    assert reasons[0] == f"WE1: 1 point beyond the 3σ limits (10 is above the UCL {ucl:.4g})"
    assert explain.why(chart, 0) == []
    table = explain.violations_table(chart, np.arange(30).astype("datetime64[s]"))
    assert 25 in {int(t.timestamp()) for t in table["time (UTC)"]}


def test_why_for_runs_and_time_weighted_signals() -> None:
    x = np.concatenate([np.tile([0.5, -0.5], 10), np.full(10, 0.6)])
    chart = spc.imr(x, phase1=20, rules=("WE4",)).main
    assert explain.why(chart, 27) == [
        "WE4: 8 consecutive points on one side of the centre line (8 points in a row above the centre 0)"
    ]
    shifted = np.concatenate([np.zeros(30) + np.tile([0.1, -0.1], 15), np.full(30, 3.0)])
    cusum = spc.cusum(shifted, phase1=30)
    first = int(np.flatnonzero(cusum.signal)[0])
    assert explain.why(cusum, first)[0].startswith("CUSUM: C⁺ = ")
    ewma = spc.ewma(shifted, phase1=30)
    first = int(np.flatnonzero(ewma.signal)[0])
    assert "EWMA: z = " in explain.why(ewma, first)[0]


def test_thinning_keeps_extremes_and_every_run_start() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 100_000)
    y[54_321] = 50.0
    idx = explain.plot_indices(y, 2000)
    assert len(idx) <= 2002
    assert 54_321 in idx
    assert list(explain.plot_indices(y[:10], 2000)) == list(range(10))
    flagged = np.zeros(10_000, dtype=bool)
    flagged[100:5000] = True
    flagged[7000] = True
    marks = explain.marker_indices(flagged, 50)
    assert len(marks) <= 50
    assert {100, 7000} <= set(marks.tolist())
