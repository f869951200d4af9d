"""The engine against the open reference data (qcc 2.7 / 3.0, Montgomery) to a relative tolerance of 1e-9."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smartfactory import spc
from smartfactory.spc.rules import run_length

REL = 1e-9


def close(actual: Any, wanted: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(wanted, dtype=float), rtol=REL, atol=0)


def check_chart(chart: spc.ControlChart, exp: dict[str, Any], *, check_sd: bool = True) -> None:
    close(chart.center, exp["center"])
    if check_sd:
        close(chart.sigma, exp["std_dev"])
    close(chart.lcl, exp["limits"]["LCL"])
    close(chart.ucl, exp["limits"]["UCL"])
    close(chart.statistics, exp["statistics"] + exp["newstats"])
    assert chart.n_phase1 == exp["n_phase1"]
    assert chart.n - chart.n_phase1 == exp["n_phase2"]
    assert chart.violations("WE1") == sorted(exp["violations"]["beyond_limits"])
    # qcc 2.7's "violating runs" (7 or more on one side) from the same run-length helper the rules use
    x = chart.statistics
    runs = np.maximum(run_length(x > chart.center_line), run_length(x < chart.center_line)) >= 7
    assert [int(i) + 1 for i in np.flatnonzero(runs)] == sorted(exp["violations"]["violating_runs"])


def check_rules(chart: spc.ControlChart, exp: dict[str, Any]) -> None:
    for rule in spc.WE_RULES:
        assert chart.violations(rule) == sorted(exp["western_electric"][rule]), rule
    for rule in spc.NELSON_RULES:
        assert chart.violations(rule) == sorted(exp["nelson"]["NE" + rule[1:]]), rule


def test_constants_match_qcc_tables(expected: Any) -> None:
    exp = expected("constants_qcc27.json")
    fns = {
        "d2": spc.d2, "d3": spc.d3, "c4": spc.c4, "A2": spc.a2, "A3": spc.a3,
        "D3": spc.d3_factor, "D4": spc.d4_factor, "B3": spc.b3, "B4": spc.b4,
    }  # fmt: skip
    for name, fn in fns.items():
        got = [fn(n) for n in exp["n"]]
        np.testing.assert_allclose(got, exp[name], rtol=REL, atol=1e-12, err_msg=name)
    assert [spc.d3(n) for n in range(2, 51)] == exp["d3_table_full"][1:]


def test_pistonrings_xbar_r(pistonrings: np.ndarray, expected: Any) -> None:
    pair = spc.xbar_r(pistonrings, 25)
    check_chart(pair.main, expected("pistonrings_xbar.json"))
    check_chart(pair.companion, expected("pistonrings_R.json"))
    rules = expected("rules_we_nelson.json")["charts"]
    check_rules(pair.main, rules["xbar"])
    check_rules(pair.companion, rules["R"])


def test_pistonrings_xbar_s(pistonrings: np.ndarray, expected: Any) -> None:
    pair = spc.xbar_s(pistonrings, 25)
    exp_x = expected("pistonrings_xbar.json")["xbar_with_sigma_from_S"]
    close(pair.main.sigma, exp_x["std_dev"])
    close([pair.main.lcl, pair.main.ucl], [exp_x["limits"]["LCL"], exp_x["limits"]["UCL"]])
    assert pair.main.violations("WE1") == exp_x["beyond_limits"]
    check_chart(pair.companion, expected("pistonrings_S.json"))
    check_rules(pair.companion, expected("rules_we_nelson.json")["charts"]["S"])


def test_pistonrings_capability(pistonrings: np.ndarray, expected: Any) -> None:
    exp = expected("pistonrings_capability.json")
    pair = spc.xbar_r(pistonrings, 25)
    cap = spc.capability(
        pair.observations,
        center=float(pair.main.center),
        sigma_within=float(pair.main.sigma),
        lsl=exp["LSL"],
        usl=exp["USL"],
        target=exp["target"],
        confidence=exp["confidence_level"],
    )
    assert cap.n == exp["nobs"]
    close(cap.center, exp["center"])
    close(cap.sigma_within, exp["std_dev"])
    close(cap.sigma_overall, exp["overall_sd_of_125_obs"])
    names = {"Cp": cap.cp, "Cp_l": cap.cpl, "Cp_u": cap.cpu, "Cp_k": cap.cpk, "Cpm": cap.cpm}
    for name, got in names.items():
        assert got is not None
        want = exp["indices"][name]
        close([got.value, got.lower, got.upper], [want["value"], want["lower"], want["upper"]])
    assert cap.expected_below_lsl == exp["exp_below_LSL"]
    assert cap.expected_above_usl == exp["exp_above_USL"]
    assert cap.observed_below_lsl == exp["obs_below_LSL"]
    # Pp uses the overall sd with the Cp formulas
    assert cap.pp is not None
    close(cap.pp.value, (exp["USL"] - exp["LSL"]) / (6 * exp["overall_sd_of_125_obs"]))


def test_orangejuice_p_and_np_trial(orangejuice: pd.DataFrame, expected: Any) -> None:
    trial = orangejuice[orangejuice.trial]
    exp = expected("orangejuice_p.json")
    rules = expected("rules_we_nelson.json")["charts"]
    p = spc.p_chart(trial.D, trial["size"])
    check_chart(p, exp["p_trial"])
    check_rules(p, rules["p"])
    npc = spc.np_chart(trial.D, trial["size"])
    check_chart(npc, exp["np_trial"])
    check_rules(npc, rules["np"])


def test_orangejuice_revised_p_with_new_data(orangejuice: pd.DataFrame, expected: Any) -> None:
    keep = orangejuice.trial & ~orangejuice["sample"].isin([15, 23])
    new = orangejuice[~orangejuice.trial]
    counts = np.concatenate([orangejuice.D[keep], new.D])
    sizes = np.concatenate([orangejuice["size"][keep], new["size"]])
    p = spc.p_chart(counts, sizes, int(keep.sum()))
    check_chart(p, expected("orangejuice_p.json")["p_revised_excl_15_23_newdata_31_54"])
    check_rules(p, expected("rules_we_nelson.json")["charts"]["p2"])


def test_revise_drops_the_same_samples_as_montgomery(orangejuice: pd.DataFrame, expected: Any) -> None:
    exp = expected("orangejuice_p.json")["p_revised_excl_15_23_newdata_31_54"]
    p = spc.p_chart(orangejuice.D, orangejuice["size"], 30, revise=1)
    assert p.excluded == (15, 23)
    close(p.center, exp["center"])
    close([p.lcl, p.ucl], [exp["limits"]["LCL"], exp["limits"]["UCL"]])


def test_circuit_c(circuit: pd.DataFrame, expected: Any) -> None:
    trial = circuit[circuit.trial]
    c = spc.c_chart(trial.x, trial["size"])
    check_chart(c, expected("circuit_c.json")["c_trial"])
    check_rules(c, expected("rules_we_nelson.json")["charts"]["c"])


def test_the_tests_above_cover_every_reference_chart(expected: Any) -> None:
    assert set(expected("rules_we_nelson.json")["charts"]) == {"xbar", "R", "S", "p", "np", "p2", "c"}


def test_the_reference_files_are_the_published_ones(reference: Path) -> None:
    """The data files still match the checksums recorded when they were copied in (see data/README.md)."""
    listed = {}
    for line in (reference / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {str(f.relative_to(reference)) for f in reference.glob("*/*") if f.is_file()}
    assert present == set(listed), "every data file is listed in SHA256SUMS, and only those"
    for name, digest in listed.items():
        assert hashlib.sha256((reference / name).read_bytes()).hexdigest() == digest, name
