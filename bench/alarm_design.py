"""Alarms designed to a budget, verified by simulation: ARL0 design vs measured, ARL1, phase I length, CI coverage.

Prints one JSON document. Every figure comes with its baseline measured or computed in the same run and their
ratio: the design target for ARL0 (ratio = measured / design), the plant budget for the phase I table (ratio =
measured false-alarm rate / design rate), nominal 95 % for the interval coverage, a bare Python loop for the
per-reading cost. Usage::

    python bench/alarm_design.py [--quick] [--seed 1] [--budget 1.0]

The plant is shaped like the shipped one (issue 12: 19 watched series): 13 process signals at 1 Hz, one fast
part characteristic (1 part/s, subgroups of 5), four slow ones (two at one part per 55 s, two per 24 s) and one
count per minute. Streams are simulated with smartfactory.spc.montecarlo (vectorised across streams, checked
reading by reading against the detector classes in tests/spc/test_spc_detectors.py). ``--quick`` cuts the
Monte Carlo volume by ~8× (wider intervals; for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from typing import Any

import numpy as np

from smartfactory import spc
from smartfactory.spc import arl as A
from smartfactory.spc import design as D
from smartfactory.spc import montecarlo as M
from smartfactory.spc.detect import CountDetector, DataQualityDetector, IndividualsDetector, SubgroupDetector

PLANT = [
    D.SeriesGroup("process", 13, 1.0, name="process signals (1 Hz)"),
    D.SeriesGroup("part", 1, 1.0, subgroup=5, name="fast part (1/s, n = 5)"),
    D.SeriesGroup("part", 2, 1 / 55, name="slow part (1/55 s)"),
    D.SeriesGroup("part", 2, 1 / 24, name="slow part (1/24 s)"),
    D.SeriesGroup("count", 1, 1 / 60, name="count (per minute)"),
]
PHASE1 = (100, 300, 1000, 3000)


def r3(x: float) -> float | None:
    return None if not math.isfinite(x) else float(f"{x:.4g}")


def ratio(a: float, b: float) -> float | None:
    return r3(a / b) if b else None


def steps_for(arl0: float, streams: int, scale: int) -> int:
    """Steps for ~125·scale expected in-control signals over ``streams`` streams (1,000 in a full run)."""
    return max(2_000, int(125 * scale * arl0 / streams))


def describe(plan: D.GroupPlan) -> dict[str, Any]:
    d = plan.design
    out: dict[str, Any] = {
        "group": plan.group.name,
        "series": plan.group.count,
        "false_alarms_per_series_hour": r3(plan.per_series_per_hour),
        "arl0_target_points": r3(plan.arl0),
    }
    if isinstance(d, D.IndividualsDesign):
        out["thresholds"] = {"cusum_k": d.mean.k, "cusum_h": r3(d.mean.h), "var_k": r3(d.variance.k),
                             "var_h": r3(d.variance.h), "shock_L": r3(d.shock)}  # fmt: skip
    elif isinstance(d, D.SubgroupDesign):
        out["thresholds"] = {"n": d.n, "cusum_k": r3(d.mean.k), "cusum_h": r3(d.mean.h), "xbar_L": r3(d.xbar),
                             "s_U": r3(d.s_limit), "shock_L": r3(d.shock)}  # fmt: skip
    else:
        out["thresholds"] = {"alpha_per_window": r3(d.alpha), "window": d.window}
    return out


def arl0_rows(plan: D.PlantPlan, rng: np.random.Generator, scale: int) -> list[dict[str, Any]]:
    rows = []
    for gp in plan.groups:
        d = gp.design
        if isinstance(d, D.IndividualsDesign):
            streams = ["iid", "ar1"] if gp.group.kind == "process" else ["iid"]
            for kind in streams:
                phi = 0.6 if kind == "ar1" else 0.0
                res = M.simulate_individuals(d, streams=2000, steps=steps_for(d.arl0, 2000, scale), rng=rng, phi=phi)
                rows.append({
                    "group": gp.group.name, "stream": "AR(1) φ=0.6" if phi else "iid N(0,1)",
                    "figure_measured_arl0": r3(res.arl), "baseline_design_arl0": r3(d.arl0),
                    "ratio": ratio(res.arl, d.arl0), "signals": res.events,
                    "per_detector": {n: {"measured": r3(res.arl_of(n)), "design": r3(a),
                                         "ratio": ratio(res.arl_of(n), a)}
                                     for n, a in (("cusum_mean", d.mean.arl0), ("cusum_var", d.variance.arl0),
                                                  ("shock", d.shock_arl0))},
                })  # fmt: skip
        elif isinstance(d, D.SubgroupDesign):
            res = M.simulate_subgroups(d, streams=2000, subgroups=steps_for(d.arl0, 2000, scale), rng=rng)
            arl = res.arl / d.n
            rows.append({
                "group": gp.group.name, "stream": "iid N(0,1)", "figure_measured_arl0": r3(arl),
                "baseline_design_arl0": r3(d.arl0), "ratio": ratio(arl, d.arl0), "unit": "subgroups",
                "signals": res.events,
                "per_detector": {n: {"measured": r3(res.arl_of(n) / d.n), "design": r3(a),
                                     "ratio": ratio(res.arl_of(n) / d.n, a)} for n, a in d.component_arl0.items()},
            })  # fmt: skip
        else:
            for lam in (0.04, 0.5, 3.0):
                det = CountDetector(lam, d)
                counts = rng.poisson(lam, 400_000 * scale // 8)
                n_sig = int(np.count_nonzero(counts > det.limit))
                meas = len(counts) / n_sig if n_sig else math.inf
                rows.append({
                    "group": gp.group.name, "stream": f"Poisson λ={lam}/reading", "limit": det.limit,
                    "figure_measured_arl0": r3(meas), "exact_arl0": r3(det.arl0), "baseline_design_arl0": r3(d.arl0),
                    "ratio": ratio(meas, d.arl0), "note": "discrete limit: achieved ARL0 ≥ target",
                })  # fmt: skip
    return rows


def arl1_rows(plan: D.PlantPlan, rng: np.random.Generator, scale: int) -> list[dict[str, Any]]:
    rows = []
    changes = (("3σ step", {"shift": 3.0}), ("1σ step", {"shift": 1.0}), ("variance ×2", {"ratio": 2.0}))
    cases: list[tuple[str, float, float, D.IndividualsDesign | D.SubgroupDesign]] = []
    for gp in plan.groups:
        d = gp.design
        if isinstance(d, D.CountDesign):
            continue
        for phi in [0.0, 0.6] if gp.group.kind == "process" else [0.0]:
            cases.append((gp.group.name, gp.group.rate_hz, phi, d))
        if isinstance(d, D.SubgroupDesign):  # the alternative at the same budget: every part on its own
            alt = D.design_individuals(gp.arl0 * d.n)
            cases.append((f"{gp.group.name} as individuals", gp.group.rate_hz, 0.0, alt))
    for name, rate_hz, phi, d in cases:
        for label, kw in changes:
            if isinstance(d, D.IndividualsDesign):
                res = M.simulate_individuals(d, streams=250 * scale, steps=20_000, rng=rng, phi=phi,
                                             stop_when_all=True, **kw)  # fmt: skip
            else:
                res = M.simulate_subgroups(d, streams=250 * scale, subgroups=20_000, rng=rng, stop_when_all=True,
                                           **kw)  # type: ignore[arg-type]  # fmt: skip
            f = res.first[np.isfinite(res.first)]
            by = {n: float(np.mean(res.first == v)) for n, v in res.first_by.items()}
            rows.append({
                "group": name, "stream": "AR(1) φ=0.6" if phi else "iid", "change": label,
                "mean_points": r3(float(f.mean())), "median_points": r3(float(np.median(f))),
                "p90_points": r3(float(np.quantile(f, 0.9))),
                "median_seconds": r3(float(np.median(f)) / rate_hz),
                "detected_within_20000": r3(f.size / res.first.size),
                "first_by": {n: r3(v) for n, v in by.items()},
            })  # fmt: skip
    return rows


def phase1_rows(arl0: float, rng: np.random.Generator, scale: int) -> list[dict[str, Any]]:
    """In-control false-alarm rate with learned limits, as a function of the phase I length."""
    known = D.design_individuals(arl0)
    rows: list[dict[str, Any]] = []
    steps = max(2_000, int(60 * scale * arl0 / 3000))  # ~480 signals at the budget in a full run
    for n1 in PHASE1:
        designs: list[tuple[str, D.IndividualsDesign]] = [("known-parameter thresholds", known)]
        try:
            designs.append(("phase-I-adjusted thresholds", D.design_individuals(arl0, phase1_points=n1)))
        except spc.SpcError as exc:
            rows.append({"phase1_points": n1, "design": "phase-I-adjusted thresholds", "infeasible": str(exc)})
        if n1 <= 300:  # where the variance CUSUM is infeasible or costly: the design without it
            no_var = D.design_individuals(arl0, phase1_points=n1, split={"cusum_mean": 0.7, "shock": 0.3})
            designs.append(("phase-I-adjusted, no variance CUSUM", no_var))
        for label, des in designs:
            res = M.simulate_individuals(des, streams=3000, steps=steps, rng=rng, phase1=n1)
            rate, target = res.events / res.points, 1.0 / arl0
            rows.append({
                "phase1_points": n1, "design": label, "figure_false_alarm_rate_per_point": r3(rate),
                "baseline_budget_rate_per_point": r3(target), "ratio": ratio(rate, target), "signals": res.events,
                "arl1_1sigma_step_points": r3(A.cusum_arl(des.mean.k, des.mean.h, 1.0)),
                "arl1_variance_x2_points": r3(A.variance_cusum_arl(des.variance.k, des.variance.h, ratio=2.0))
                if math.isfinite(des.variance.h) else None,
                "thresholds": {"cusum_h": r3(des.mean.h), "var_h": r3(des.variance.h), "shock_L": r3(des.shock)},
            })  # fmt: skip
    return rows


def capability_rows(rng: np.random.Generator, reps: int) -> list[dict[str, Any]]:
    lsl, usl, mu = -4.0, 4.0, 1.0
    truth = {"cp": (usl - lsl) / 6.0, "cpk": min(mu - lsl, usl - mu) / 3.0, "cpl": (mu - lsl) / 3.0}
    rows = []
    for chart, make in (
        ("I-MR, 100 points", lambda: (spc.imr(rng.normal(mu, 1.0, 100)), "mr")),
        ("I-MR, 50 points", lambda: (spc.imr(rng.normal(mu, 1.0, 50)), "mr")),
        ("X̄-R, 25 subgroups of 5", lambda: (spc.xbar_r(rng.normal(mu, 1.0, (25, 5))), "r")),
    ):
        hits = {m: dict.fromkeys(truth, 0) for m in ("qcc", "effective-df")}
        for _ in range(reps):
            pair, sm = make()
            for m in hits:
                cap = spc.capability(pair.observations, center=float(pair.main.center),
                                     sigma_within=float(pair.main.sigma), lsl=lsl, usl=usl, sigma_method=sm,
                                     subgroup_sizes=pair.main.sizes, ci_method=m)  # fmt: skip
                for name, value in truth.items():
                    iv = cap.indices()[name]
                    assert iv is not None
                    hits[m][name] += iv.lower <= value <= iv.upper
        for name in truth:
            for m in hits:
                cov = hits[m][name] / reps
                rows.append({"chart": chart, "index": name, "ci_method": m, "figure_coverage": cov,
                             "baseline_nominal": 0.95, "ratio": r3(cov / 0.95), "replications": reps})  # fmt: skip
    return rows


def cost_rows(plan: D.PlantPlan) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200_000).tolist()
    by = {g.group.name: g for g in plan.groups}
    ind = by["process signals (1 Hz)"].design
    sub = by["fast part (1/s, n = 5)"].design
    cnt = by["count (per minute)"].design
    assert isinstance(ind, D.IndividualsDesign)
    assert isinstance(sub, D.SubgroupDesign)
    assert isinstance(cnt, D.CountDesign)
    base = spc.Baseline(0.0, 1.0)
    dets = {
        "IndividualsDetector": IndividualsDetector(base, ind),
        "IndividualsDetector (AR(1) residuals)": IndividualsDetector(spc.Baseline(0.0, 1.0, phi=0.6), ind),
        "SubgroupDetector": SubgroupDetector(base, sub),
        "CountDetector": CountDetector(0.5, cnt),
        "DataQualityDetector": DataQualityDetector(D.data_quality_design(1.0, 1e6), interval_s=1.0, stuck_run=5),
    }

    def bare() -> None:
        hits = 0
        for v in x:
            hits += v > 9.0
        _ = hits

    t0 = time.perf_counter()
    bare()
    base_us = (time.perf_counter() - t0) / len(x) * 1e6
    rows = []
    for name, det in dets.items():
        up = det.update
        vals = [abs(v) for v in x] if name == "CountDetector" else x
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            for i, v in enumerate(vals):
                up(1000 * i, v)
            best = min(best, time.perf_counter() - t0)
        us = best / len(x) * 1e6
        rows.append({"detector": name, "figure_us_per_reading": r3(us), "baseline_bare_loop_us": r3(base_us),
                     "ratio": ratio(us, base_us), "goal_us": 10.0})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 8× less Monte Carlo")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=float, default=1.0, help="false alarms per plant-hour")
    args = parser.parse_args()
    scale = 1 if args.quick else 8
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    plan = D.plan_budget(PLANT, D.AlarmBudget(per_hour=args.budget))
    process_arl0 = next(g.arl0 for g in plan.groups if g.group.kind == "process")
    doc: dict[str, Any] = {
        "bench": "alarm_design",
        "python": platform.python_version(),
        "seed": args.seed,
        "quick": args.quick,
        "budget_per_plant_hour": args.budget,
        "designed_spc_false_alarms_per_plant_hour": r3(plan.designed_per_hour()),
        "plant": [describe(g) for g in plan.groups],
    }
    doc["arl0"] = arl0_rows(plan, rng, scale)
    doc["arl1"] = arl1_rows(plan, rng, scale)
    doc["phase1"] = phase1_rows(process_arl0, rng, scale)
    known = [r for r in doc["phase1"] if r["design"].startswith("known")]
    enough = [r["phase1_points"] for r in known if r["ratio"] is not None and r["ratio"] <= 1.25]
    doc["phase1_long_enough_points"] = min(enough) if enough else None
    doc["capability"] = capability_rows(rng, 2000 if scale == 8 else 400)
    doc["cost"] = cost_rows(plan)
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(doc, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
