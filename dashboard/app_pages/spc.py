"""SPC: control charts of any series or part characteristic, with the live monitor's limits, and capability."""

from __future__ import annotations

import charts
import data
import explain
import numpy as np
import oeeview
import plantinfo
import sidebar
import spcview
import streamlit as st

from smartfactory import spc

st.title("Statistical process control")

MAX_POINTS = 200_000
BUCKETS = {"1 min": 60_000, "5 min": 300_000, "15 min": 900_000, "1 h": 3_600_000}
RULE_SETS = {
    "we": "Western Electric (WE1-WE4)",
    "nelson": "Nelson (N1-N8)",
    "all": "all rules",
    "none": "none (limits only)",
}
SOURCE_SERIES, SOURCE_PARTS, SOURCE_SCRAP = "sensor readings", "part measurements", "scrap parts"

config = data.settings()
window = data.window()
series_infos = data.series_list()
parts = data.parts(window.since_ms, window.until_ms)
if not series_infos and not parts:
    st.info(data.EMPTY_HINT)
    st.stop()

left, middle, right = st.columns(3)
kind = left.selectbox(
    "Chart",
    spcview.CHARTS,
    key="chart",
    bind="query-params",
    help="; ".join(f"{k}: {v}" for k, v in spcview.CHART_HELP.items()),
)
rule_names = list(RULE_SETS)
default_rules = config.spc.rules if config.spc.rules in RULE_SETS else "we"
rule_set = middle.selectbox(
    "Run rules",
    rule_names,
    index=rule_names.index(default_rules),
    format_func=RULE_SETS.__getitem__,
    key="rules",
    bind="query-params",
    help=f"The live monitor uses `{config.spc.rules}` (setting spc.rules).",
)
rules = spc.parse_rules(rule_set)

if kind in ("p", "np"):
    sources = [SOURCE_SCRAP]
elif kind in ("c", "u"):
    sources = [SOURCE_SCRAP, SOURCE_SERIES]
else:
    sources = [SOURCE_SERIES, SOURCE_PARTS]
available = [s for s in sources if (s == SOURCE_SERIES and series_infos) or (s != SOURCE_SERIES and parts)]
if not available:
    st.info(
        f"A {kind} chart needs {' or '.join(sources)}, and this window has none. "
        "The simulator publishes part results while machines run; choose a longer window or another chart."
    )
    st.stop()
source = right.radio("Data", available, horizontal=True, key="spc_source")

with st.expander("Chart settings", expanded=False):
    a, b, c = st.columns(3)
    subgroup = int(a.number_input("Subgroup size (X̄ charts)", 2, 25, 5, key="subgroup"))
    phase1 = int(
        b.number_input("Phase I points/subgroups (window mode)", 2, 100_000, config.spc.phase1_points, key="phase1")
    )
    bucket_label = c.selectbox("Sample bucket (attribute charts)", list(BUCKETS), index=1, key="bucket")
    lam = float(a.number_input("EWMA λ", 0.01, 1.0, 0.2, step=0.05, key="lam"))
    h = float(b.number_input("CUSUM h (σ)", 0.5, 20.0, 5.0, step=0.5, key="cusum_h"))
    k = float(c.number_input("CUSUM k (σ)", 0.0, 5.0, 0.5, step=0.25, key="cusum_k"))
    live = st.toggle(f"Live: refresh every {config.dashboard.refresh:g} s", value=True, key="spc_live")

active = data.alarms(active_only=True)
subject = subject_label = ""
values: np.ndarray | None = None
ts_ms: np.ndarray | None = None
learned: spcview.Learned | None = None
spec = plantinfo.SpecLimits()
machine = ""
if source == SOURCE_SERIES:
    names = [s.series for s in series_infos]
    by_name = {s.series: s for s in series_infos}
    series = st.selectbox(
        "Series",
        names,
        index=spcview.default_series(names, [a.series for a in active]),
        format_func=lambda s: f"{oeeview.series_label(s)}",
        key="series",
        bind="query-params",
    )
    subject, subject_label, spec = series, oeeview.series_label(series), data.plant().spec_for_series(series)
    if kind in spcview.VARIABLE_CHARTS:
        modes = [spcview.LIMITS_MONITOR, spcview.LIMITS_WINDOW]
        mode = st.radio(
            "Limits from",
            modes,
            horizontal=True,
            key="limits_mode",
            help="The live monitor learns centre and σ from the first readings of each series and then freezes them.",
        )
        if mode == spcview.LIMITS_MONITOR:
            learned = data.learned(series, config.spc.phase1_points)
            if learned is None:
                st.info(
                    f"The live monitor is still learning this series' limits (it needs {config.spc.phase1_points} "
                    "readings); showing a phase I study of the window instead."
                )
elif source == SOURCE_PARTS:
    pairs = sorted({(p.machine, name) for p in parts for name in p.measurements})
    machine, name = st.selectbox(
        "Characteristic", pairs, format_func=lambda mc: f"{oeeview.short(mc[0])} · {mc[1]}", key="spc_characteristic"
    )
    chosen = [p for p in parts if p.machine == machine and name in p.measurements]
    ts_ms = np.asarray([p.ts_ms for p in chosen], dtype=np.int64)
    values = np.asarray([p.measurements[name] for p in chosen], dtype=np.float64)
    subject, spec = f"{machine} part {name}", data.plant().spec_for_part(machine, name)
    subject_label = f"{oeeview.line_of(machine)} · {oeeview.short(machine)} · part {name}"
else:
    machine_names = sorted({p.machine for p in parts})
    machine = st.selectbox("Machine", machine_names, format_func=oeeview.short, key="spc_machine")
    subject = f"{machine} scrap"
    subject_label = f"{oeeview.line_of(machine)} · {oeeview.short(machine)} · scrap parts"


def load_series(series: str) -> tuple[np.ndarray, np.ndarray, bool]:
    frame = data.readings(series, window.since_ms, window.until_ms, MAX_POINTS)
    ts = frame["ts"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return ts, frame["value"].to_numpy(dtype=np.float64), len(frame) >= MAX_POINTS


def build_view() -> tuple[spcview.ChartView, np.ndarray | None, list[str]]:
    notes: list[str] = []
    if kind in spcview.VARIABLE_CHARTS:
        if source == SOURCE_SERIES:
            t, x, capped = load_series(subject)
            if capped:
                notes.append(f"showing the most recent {MAX_POINTS:,} readings of the window")
        else:
            if ts_ms is None or values is None:
                raise spc.SpcError("no part measurements selected")
            t, x = ts_ms, values
        view = spcview.variables_chart(
            kind, t, x, rules=rules, phase1=phase1, learned=learned, subgroup=subgroup, lam=lam, h=h, k=k
        )
        return view, x, notes
    bucket = BUCKETS[bucket_label]
    if source == SOURCE_SCRAP:
        chosen = [p for p in parts if p.machine == machine]
        times, counts, sizes = spcview.bucket_counts(
            [p.ts_ms for p in chosen], [0.0 if p.good else 1.0 for p in chosen], bucket
        )
        notes.append(f"one sample per {bucket_label}: scrap parts / parts made")
    else:
        t, x, _ = load_series(subject)
        if kind == "c":
            times, counts, sizes = spcview.to_time(t), x, np.ones_like(x)
            notes.append("each reading is one count")
        else:
            times, counts, sizes = spcview.bucket_counts(t, x, bucket)
            notes.append(f"one sample per {bucket_label}: sum of the counts / readings")
    return spcview.attribute_chart(kind, times, counts, sizes, rules=rules, phase1=phase1), None, notes


@st.fragment(run_every=config.dashboard.refresh if live else None)
def chart() -> None:
    try:
        view, observations, notes = build_view()
    except spc.SpcError as exc:
        st.warning(f"Cannot draw a {kind} chart of {subject_label} in this window: {exc}")
        return
    st.subheader(f"{kind} · {subject_label}", anchor=False)
    figure = charts.control_chart(view, projector=sidebar.projector())
    figure.update_layout(uirevision=f"{kind}|{subject}")  # keep the user's zoom across live refreshes
    st.plotly_chart(figure, key="spc_chart")
    flagged = int(view.flagged.sum())
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Points", f"{view.main.n:,}")
    m2.metric("Flagged points", f"{flagged:,}")
    centre = view.main.center
    m3.metric("Centre", f"{float(np.mean(view.main.center_line)):.4g}" + ("" if np.isscalar(centre) else " (varies)"))
    m4.metric("σ (within)", f"{float(np.mean(view.main.sigma_line)):.4g}")
    st.caption(" · ".join([view.limits_note, *notes, window.describe()]))
    if flagged and st.toggle(f"List the {flagged:,} flagged points and why", key="spc_why"):
        st.dataframe(explain.violations_table(view.main, view.x), hide_index=True, key="spc_violations")
    if observations is not None:
        capability(observations)


def capability(observations: np.ndarray) -> None:
    st.subheader("Capability", anchor=False)
    a, b, c = st.columns(3)
    lsl = a.number_input("LSL", value=spec.lsl, format="%.4g", key=f"lsl|{subject}")
    usl = b.number_input("USL", value=spec.usl, format="%.4g", key=f"usl|{subject}")
    target = c.number_input("Target", value=spec.target, format="%.4g", key=f"target|{subject}")
    if lsl is None and usl is None:
        where = "the plant file defines none for it" if not spec.known else ""
        st.info(f"Enter LSL and/or USL to see the capability of {subject_label}{' (' + where + ')' if where else ''}.")
        return
    try:
        cap = spcview.capability_study(kind, observations, lsl, usl, target, subgroup=subgroup, rules=rules)
    except spc.SpcError as exc:
        st.warning(f"No capability study: {exc}")
        return
    shown = plantinfo.SpecLimits(lsl, usl, target)
    left, right = st.columns([3, 2])
    left.plotly_chart(
        charts.capability_figure(observations, cap, shown, projector=sidebar.projector()), key="spc_capability"
    )
    right.dataframe(spcview.capability_table(cap), hide_index=True, key="spc_indices")
    normal = cap.normality
    tested = f"; normality ({normal.test}) p = {normal.p_value:.3g}" if normal.p_value is not None else ""
    right.caption(
        f"n = {cap.n}, centre {cap.center:.4g}, σ within {cap.sigma_within:.4g}, "
        f"σ overall {cap.sigma_overall:.4g}{tested}"
    )
    for warning in cap.warnings:
        right.warning(warning)


chart()
