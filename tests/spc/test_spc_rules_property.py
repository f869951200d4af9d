"""Property tests: every vectorised rule equals a plain-loop reference written from the rule's definition."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory import spc
from smartfactory.spc.rules import Zones, run_length, side_run_length, window_count
from smartfactory.spc.streaming import Limits, SeriesMonitor

Lines = dict[str, list[float]]


# -- plain-loop reference, one function per rule, straight from the definitions -------------------------
def beyond3(x: list[float], z: Lines) -> list[bool]:
    return [x[i] > z["hi3"][i] or x[i] < z["lo3"][i] for i in range(len(x))]


def k_of_m(x: list[float], hi: list[float], lo: list[float], k: int, m: int) -> list[bool]:
    out = []
    for i in range(len(x)):
        hit = False
        if i >= m - 1:
            window = range(i - m + 1, i + 1)
            if x[i] > hi[i] and sum(x[j] > hi[j] for j in window) >= k:
                hit = True
            if x[i] < lo[i] and sum(x[j] < lo[j] for j in window) >= k:
                hit = True
        out.append(hit)
    return out


def run_flags(cond: list[bool], length: int) -> list[bool]:
    """True at the `length`-th and later points of every run of True."""
    out, run = [], 0
    for c in cond:
        run = run + 1 if c else 0
        out.append(run >= length)
    return out


def same_side(x: list[float], z: Lines, length: int) -> list[bool]:
    above = run_flags([x[i] > z["center"][i] for i in range(len(x))], length)
    below = run_flags([x[i] < z["center"][i] for i in range(len(x))], length)
    return [a or b for a, b in zip(above, below, strict=True)]


def trend(x: list[float]) -> list[bool]:
    out = [False] * min(1, len(x))
    up = down = 0
    for i in range(1, len(x)):
        up = up + 1 if x[i] > x[i - 1] else 0
        down = down + 1 if x[i] < x[i - 1] else 0
        out.append(up >= 5 or down >= 5)
    return out


def alternating(x: list[float]) -> list[bool]:
    out = [False] * min(2, len(x))
    run = 0
    for i in range(2, len(x)):
        run = run + 1 if (x[i] - x[i - 1]) * (x[i - 1] - x[i - 2]) < 0 else 0
        out.append(run >= 12)
    return out


def inside1(x: list[float], z: Lines) -> list[bool]:
    return run_flags([z["lo1"][i] <= x[i] <= z["hi1"][i] for i in range(len(x))], 15)


def mixed8(x: list[float], z: Lines) -> list[bool]:
    out = []
    for i in range(len(x)):
        w = range(i - 7, i + 1)
        ok = i >= 7
        ok = ok and all(x[j] > z["hi1"][j] or x[j] < z["lo1"][j] for j in w)
        ok = ok and any(x[j] > z["hi1"][j] for j in w) and any(x[j] < z["lo1"][j] for j in w)
        out.append(ok)
    return out


REFERENCE: dict[str, Callable[[list[float], Lines], list[bool]]] = {
    "WE1": beyond3,
    "WE2": lambda x, z: k_of_m(x, z["hi2"], z["lo2"], 2, 3),
    "WE3": lambda x, z: k_of_m(x, z["hi1"], z["lo1"], 4, 5),
    "WE4": lambda x, z: same_side(x, z, 8),
    "N1": beyond3,
    "N2": lambda x, z: same_side(x, z, 9),
    "N3": lambda x, z: trend(x),
    "N4": lambda x, z: alternating(x),
    "N5": lambda x, z: k_of_m(x, z["hi2"], z["lo2"], 2, 3),
    "N6": lambda x, z: k_of_m(x, z["hi1"], z["lo1"], 4, 5),
    "N7": inside1,
    "N8": mixed8,
}


# -- strategies: small integer-valued series so ties, runs and zone boundaries all occur ---------------
@st.composite
def series_and_zones(draw: st.DrawFn) -> tuple[list[float], Lines]:
    n = draw(st.integers(min_value=0, max_value=80))
    value = st.integers(-7, 8).map(lambda v: float("nan") if v == 8 else float(v))  # NaN satisfies nothing
    x = draw(st.lists(value, min_size=n, max_size=n))
    varying = draw(st.booleans())
    sig = draw(st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=n, max_size=n)) if varying else [1.0] * n
    center = float(draw(st.integers(-1, 1)))
    clip = draw(st.booleans())  # clipped lower lines, as on R/S/p/c charts

    def low(k: float, s: float) -> float:
        v = center - k * s
        return max(v, -2.0) if clip else v

    z: Lines = {"center": [center] * n}
    for k in (1, 2, 3):
        z[f"lo{k}"] = [low(k, s) for s in sig]
        z[f"hi{k}"] = [center + k * s for s in sig]
    return x, z


def to_zones(z: Lines) -> Zones:
    a = {k: np.asarray(v, dtype=float) for k, v in z.items()}
    return Zones(a["center"], a["lo1"], a["hi1"], a["lo2"], a["hi2"], a["lo3"], a["hi3"])


@settings(max_examples=300, deadline=None)
@given(series_and_zones())
def test_vectorised_rules_equal_plain_loops(data: tuple[list[float], Lines]) -> None:
    x, z = data
    flags = spc.evaluate(x, to_zones(z))
    for rule, ref in REFERENCE.items():
        assert flags.of(rule).tolist() == ref(x, z), rule


@settings(max_examples=100, deadline=None)
@given(series_and_zones(), st.lists(st.sampled_from(spc.ALL_RULES), max_size=4))
def test_rule_selection_only_changes_which_rows_exist(data: tuple[list[float], Lines], chosen: list[str]) -> None:
    x, z = data
    full = spc.evaluate(x, to_zones(z))
    part = spc.evaluate(x, to_zones(z), chosen)
    assert part.ids == tuple(r for r in spc.ALL_RULES if r in chosen)
    for rule in spc.ALL_RULES:
        want = full.of(rule) if rule in chosen else np.zeros(len(x), dtype=bool)
        assert part.of(rule).tolist() == want.tolist()


@given(st.lists(st.booleans(), max_size=60))
def test_run_length_and_window_count(cond: list[bool]) -> None:
    arr = np.asarray(cond, dtype=bool)
    run, expect_run = run_length(arr).tolist(), []
    r = 0
    for c in cond:
        r = r + 1 if c else 0
        expect_run.append(r)
    assert run == expect_run
    sign = arr.astype(np.int8) - np.roll(arr, 1).astype(np.int8)  # any -1/0/+1 sequence
    s_run: list[int] = []
    for i, s in enumerate(sign.tolist()):
        s_run.append(0 if s == 0 else (s_run[-1] + 1 if i and sign[i - 1] == s else 1))
    assert side_run_length(sign).tolist() == s_run
    for width in (1, 3, 5, 8):
        got = window_count(arr, width).tolist()
        want = [sum(cond[i - width + 1 : i + 1]) if i >= width - 1 else 0 for i in range(len(cond))]
        assert got == want


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-6, 6), min_size=3, max_size=120),
    st.integers(min_value=2, max_value=40),
    st.sampled_from(["all", "we", "nelson", "WE2,N4,N8"]),
)
def test_streaming_monitor_reproduces_batch_flags(values: list[int], learn: int, rules: str) -> None:
    x = [v / 2.0 for v in values]
    learn = min(learn, len(x))
    batch = spc.imr(x, learn, rules=spc.parse_rules(rules)).main
    if batch.sigma == 0:
        return  # constant baseline: every reading is "beyond" zero-width limits in both engines alike
    mon = SeriesMonitor("s", learn=learn, rules=rules, report_phase1=True)
    got: list[list[str]] = [[] for _ in x]
    for i, v in enumerate(x):
        for viol in mon.update(1000 * i, v):
            got[viol.index - 1].append(viol.rule)
    assert got == [list(r) for r in batch.rules]
    assert mon.limits == Limits(float(batch.center), float(batch.sigma), 3.0, learn, "learned")
