"""Monte Carlo run lengths of the designed detectors, vectorised across many parallel streams.

Each function simulates R independent streams for T steps with numpy arrays of length R (the recursion in
time is sequential, the streams are not), applying exactly the update and restart rules of the per-reading
classes in :mod:`smartfactory.spc.detect` (tests/spc/test_spc_detectors.py checks that they agree reading by
reading). Used by the ARL tests and bench/alarm_design.py to verify the designs in
:mod:`smartfactory.spc.design`:

- the steady-state in-control rate: alarms per point over R·T points (what a plant accumulates), and
- zero-state run lengths after a change at t = 1 (ARL1: steps to the first detection).

Streams are AR(1), x_t = μ + shift + φ(x_{t−1} − μ − shift) + √ratio·√(1 − φ²)·a_t with a_t ~ N(0, 1), so
the in-control marginal σ is 1 whatever φ. Phase I (``phase1=n``) is simulated per stream and learned with
the formulas of :func:`smartfactory.spc.baseline.learn_baseline` (:func:`learn_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from smartfactory.spc.design import IndividualsDesign, SubgroupDesign
from smartfactory.spc.detect.individuals import PHI_MATERIAL
from smartfactory.spc.rules import FloatArray

BLOCK = 256  # steps of random numbers drawn at once


@dataclass(frozen=True)
class RunLengths:
    """Outcome of a simulation: per-detector alarm counts and first-detection steps per stream."""

    points: int  # stream-steps simulated (R·T)
    alarms: Mapping[str, int]  # signals per detector (a statistic restarts after each)
    events: int  # steps with at least one detection (what the class returns a Detection for)
    first: FloatArray  # per stream: 1-based step of its first detection (inf: none within T)
    first_by: Mapping[str, FloatArray]

    @property
    def arl(self) -> float:
        """Steady-state in-control ARL: points per detection event."""
        return math.inf if self.events == 0 else self.points / self.events

    def arl_of(self, detector: str) -> float:
        n = self.alarms.get(detector, 0)
        return math.inf if n == 0 else self.points / n


def learn_rows(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Row-wise (μ̂, σ̂, φ̂, σ̂_e) of a (R, n) array, as :func:`learn_baseline` computes them."""
    n = x.shape[1]
    mu = x.mean(axis=1)
    dev = x - mu[:, None]
    ss = np.einsum("ij,ij->i", dev, dev)
    sd = np.sqrt(ss / (n - 1))
    phi = np.einsum("ij,ij->i", dev[:, 1:], dev[:, :-1]) / ss
    resid = dev[:, 1:] - phi[:, None] * dev[:, :-1]
    sd_e = np.sqrt(np.einsum("ij,ij->i", resid, resid) / (n - 2))
    return mu, sd, phi, sd_e


def ar1(rng: np.random.Generator, streams: int, steps: int, phi: float, start: FloatArray | None = None) -> FloatArray:
    """(streams, steps) stationary AR(1) paths with marginal σ 1 (continuing from ``start`` when given)."""
    a = rng.standard_normal((streams, steps)) * math.sqrt(1.0 - phi * phi)
    x = np.empty((streams, steps))
    prev = rng.standard_normal(streams) if start is None else start
    if phi == 0.0:
        return a
    for t in range(steps):
        prev = phi * prev + a[:, t]
        x[:, t] = prev
    return x


def _baselines(
    rng: np.random.Generator, streams: int, phi: float, phase1: int | None, phi_material: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per-stream (μ̂, scale of z, φ used, the process's last value) at the start of phase II."""
    if phase1 is None:
        use = abs(phi) > phi_material
        mu = np.zeros(streams)
        scale = np.full(streams, math.sqrt(1.0 - phi * phi) if use else 1.0)
        phis = np.full(streams, phi if use else 0.0)
        return mu, scale, phis, rng.standard_normal(streams)
    x1 = ar1(rng, streams, phase1, phi)
    mu, sd, ph, sd_e = learn_rows(x1)
    residual = np.abs(ph) > max(phi_material, 3.0 / math.sqrt(phase1))  # as Baseline.uses_residuals
    scale = np.where(residual, sd_e, sd)
    phis = np.where(residual, ph, 0.0)
    return mu, scale, phis, x1[:, -1].copy()


def simulate_individuals(
    design: IndividualsDesign,
    *,
    streams: int,
    steps: int,
    rng: np.random.Generator,
    phi: float = 0.0,
    shift: float = 0.0,
    ratio: float = 1.0,
    phase1: int | None = None,
    phi_material: float = PHI_MATERIAL,
    stop_when_all: bool = False,
    values: FloatArray | None = None,
) -> RunLengths:
    """Run the :class:`IndividualsDetector` recursion on R streams (see the module docstring).

    ``phase1=None``: known parameters (μ = 0, σ = 1, φ). ``stop_when_all``: stop once every stream has
    detected (ARL1 runs). ``values`` (R, T): chart these readings instead of simulated ones (known parameters).
    """
    mu, scale, phis, level = _baselines(rng, streams, phi, phase1, phi_material)
    if values is not None:
        steps = values.shape[1]
    prev_d = np.zeros(streams)  # a fresh detector: the class starts with x_{t−1} − μ = 0
    k, h = design.mean.k, design.mean.h
    kv, hv = design.variance.k, design.variance.h
    lim = design.shock
    cp, cn, sv = np.zeros(streams), np.zeros(streams), np.zeros(streams)
    names = ("shock", "cusum_mean", "cusum_var")
    counts = dict.fromkeys(names, 0)
    events = 0
    first = np.full(streams, np.inf)
    first_by = {n: np.full(streams, np.inf) for n in names}
    innov = math.sqrt(ratio) * math.sqrt(1.0 - phi * phi)
    ar_any = bool(np.any(phis != 0.0))
    done = 0
    t = 0
    while t < steps:
        block = min(BLOCK, steps - t)
        a = rng.standard_normal((block, streams)) * innov if values is None else values[:, t : t + block].T
        for b in range(block):
            t += 1
            if values is not None:
                level = a[b] - shift
            elif phi != 0.0:
                level = phi * level + a[b]
            else:
                level = a[b]
            d = level + (shift - mu)
            if ar_any:
                z = (d - phis * prev_d) / scale
                prev_d = d
            else:
                z = d / scale
            cp = np.maximum(cp + z - k, 0.0)
            cn = np.maximum(cn - z - k, 0.0)
            sv = np.maximum(sv + z * z - kv, 0.0)
            m_p, m_n, f_v, f_s = cp > h, cn > h, sv > hv, np.abs(z) > lim
            any_f = m_p | m_n | f_v | f_s
            if any_f.any():  # rare in control: the bookkeeping only runs on steps with a signal
                f_m = m_p | m_n
                events += int(np.count_nonzero(any_f))
                counts["shock"] += int(np.count_nonzero(f_s))
                counts["cusum_mean"] += int(np.count_nonzero(m_p)) + int(np.count_nonzero(m_n))
                counts["cusum_var"] += int(np.count_nonzero(f_v))
                cp[m_p] = 0.0
                cn[m_n] = 0.0
                sv[f_v] = 0.0
                for name, f in (("shock", f_s), ("cusum_mean", f_m), ("cusum_var", f_v)):
                    fb = first_by[name]
                    fb[f & np.isinf(fb)] = t
                new = any_f & np.isinf(first)
                if new.any():
                    first[new] = t
                    done += int(np.count_nonzero(new))
            if stop_when_all and done == streams:
                return RunLengths(streams * t, counts, events, first, first_by)
    return RunLengths(streams * steps, counts, events, first, first_by)


def simulate_subgroups(
    design: SubgroupDesign,
    *,
    streams: int,
    subgroups: int,
    rng: np.random.Generator,
    shift: float = 0.0,
    ratio: float = 1.0,
    phase1: int | None = None,
    stop_when_all: bool = False,
    values: FloatArray | None = None,
) -> RunLengths:
    """Run the :class:`SubgroupDetector` on R streams of i.i.d. parts; steps are counted in parts.

    ``phase1``: parts of phase I per stream (μ̂ = mean, σ̂ = overall sd), ``None`` for known parameters
    (μ = 0, σ = 1). ``values`` (R, subgroups·n): chart these parts instead of simulated ones.
    """
    n = design.n
    if values is not None:
        subgroups = values.shape[1] // n
    if phase1 is None:
        mu, sd = np.zeros(streams), np.ones(streams)
    else:
        x1 = rng.standard_normal((streams, phase1))
        mu, sd = x1.mean(axis=1), x1.std(axis=1, ddof=1)
    k, h = design.mean.k, design.mean.h
    root = math.sqrt(n)
    cp, cn = np.zeros(streams), np.zeros(streams)
    names = ("shock", "xbar", "s", "cusum_mean")
    counts = dict.fromkeys(names, 0)
    events = 0
    first = np.full(streams, np.inf)
    first_by = {nm: np.full(streams, np.inf) for nm in names}
    done = 0
    for g in range(subgroups):
        if values is None:
            x = rng.standard_normal((streams, n)) * math.sqrt(ratio) + shift
        else:
            x = values[:, g * n : (g + 1) * n]
        z = (x - mu[:, None]) / sd[:, None]
        zbar = z.mean(axis=1) * root
        s = z.std(axis=1, ddof=1)
        cp = np.maximum(cp + zbar - k, 0.0)
        cn = np.maximum(cn - zbar - k, 0.0)
        shock_parts = np.abs(z) > design.shock  # (R, n)
        f_x = np.abs(zbar) > design.xbar
        f_s = s > design.s_limit
        n_mean = int(np.count_nonzero(cp > h)) + int(np.count_nonzero(cn > h))
        f_m = (cp > h) | (cn > h)
        cp[cp > h] = 0.0
        cn[cn > h] = 0.0
        close = f_x | f_s | f_m | shock_parts[:, -1]  # a detection on the subgroup's last part
        early = shock_parts[:, :-1]  # shocks on the parts before it are detections of their own
        events += int(np.count_nonzero(close)) + int(np.count_nonzero(early))
        counts["shock"] += int(np.count_nonzero(shock_parts))
        counts["xbar"] += int(np.count_nonzero(f_x))
        counts["s"] += int(np.count_nonzero(f_s))
        counts["cusum_mean"] += n_mean
        base = g * n
        first_shock = np.where(shock_parts.any(axis=1), base + 1 + shock_parts.argmax(axis=1), np.inf)
        end = base + n
        cand = {
            "shock": first_shock,
            "xbar": np.where(f_x, end, np.inf),
            "s": np.where(f_s, end, np.inf),
            "cusum_mean": np.where(f_m, end, np.inf),
        }
        for nm, c in cand.items():
            fb = first_by[nm]
            np.minimum(fb, c, out=fb)
        step = np.minimum(first_shock, np.where(close, end, np.inf))
        newly = np.isinf(first) & np.isfinite(step)
        first[newly] = step[newly]
        done += int(np.count_nonzero(newly))
        if stop_when_all and done == streams:
            return RunLengths(streams * end, counts, events, first, first_by)
    return RunLengths(streams * subgroups * n, counts, events, first, first_by)
