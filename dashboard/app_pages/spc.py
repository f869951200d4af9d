"""SPC: control charts of any series or part characteristic, with the live monitor's stored limits, and capability."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import charts, data, numbers, sidebar, spcview
from dashboard.seriespick import pick_series
from dashboard.spcview import SOURCE_PARTS, SOURCE_SERIES, Samples
from smartfactory import spc
from smartfactory.model import LimitsVersion
from smartfactory.query import limits as stored_limits
from smartfactory.query.explain import violations_table
from smartfactory.query.plantinfo import SpecLimits
from smartfactory.query.series import line_of, series_label, short

st.title("Statistical process control")

MAX_POINTS = 200_000

config = data.settings()
window = data.window()
series_infos = data.series_list()
# only whose parts the window has: reading the parts themselves waits until a chart of them is chosen
part_machines = data.part_machines(window.since_ms, window.until_ms)
if not series_infos and not part_machines:
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
assert kind is not None
rule_names = list(spcview.RULE_SETS)
default_rules = config.spc.rules if config.spc.rules in spcview.RULE_SETS else "we"
rule_set = middle.selectbox(
    "Run rules",
    rule_names,
    index=rule_names.index(default_rules),
    format_func=spcview.RULE_SETS.__getitem__,
    key="rules",
    bind="query-params",
    help=f"The live monitor uses `{config.spc.rules}` (setting spc.rules).",
)
assert rule_set is not None

sources = spcview.sources_for(kind)
available = [s for s in sources if (s == SOURCE_SERIES and series_infos) or (s != SOURCE_SERIES and part_machines)]
if not available:
    st.info(
        f"A {kind} chart needs {' or '.join(sources)}, and this window has none. "
        "The simulator publishes part results while machines run; choose a longer window or another chart."
    )
    st.stop()
source = right.radio("Data", available, horizontal=True, key="spc_source")
assert source is not None

with st.expander("Chart settings", expanded=False):
    a, b, c = st.columns(3)
    subgroup = int(a.number_input("Subgroup size (X̄ charts)", 2, 25, 5, key="subgroup"))
    phase1 = int(
        b.number_input("Phase I points/subgroups (window mode)", 2, 100_000, config.spc.phase1_points, key="phase1")
    )
    bucket = c.selectbox("Sample bucket (attribute charts)", list(spcview.BUCKETS), index=1, key="bucket")
    lam = float(a.number_input("EWMA λ", 0.01, 1.0, 0.2, step=0.05, key="lam"))
    h = float(b.number_input("CUSUM h (σ)", 0.5, 20.0, 5.0, step=0.5, key="cusum_h"))
    k = float(c.number_input("CUSUM k (σ)", 0.0, 5.0, 0.5, step=0.25, key="cusum_k"))
    live = st.toggle(f"Live: refresh every {config.dashboard.refresh:g} s", value=True, key="spc_live")
chart_settings = spcview.ChartSettings(kind, spc.parse_rules(rule_set), phase1, subgroup, lam, h, k, bucket or "5 min")

active = data.alarms(active_only=True)
plant = data.plant()
subject = subject_label = machine = name = ""
spec = SpecLimits()
decimals: int | None = None  # of the subject's values (numbers.resolution): every number below follows it
monitor_mode = False
if source == SOURCE_SERIES:
    names = [s.series for s in series_infos]
    # `?series=` takes the display label (the binding below reads it) or the full series id (set here)
    from_url = spcview.series_from_url(st.query_params.get("series"), names)
    if from_url is not None:
        st.session_state["series"] = from_url
    characteristics = [n for n in names if (sig := plant.signal_for_series(n)) is not None and sig.kind == "quality"]
    series = pick_series(
        names,
        default=None
        if from_url is not None
        else names[spcview.default_series(names, [a.series for a in active], characteristics)],
        format_func=series_label,
        key="series",
        bind_query_params=True,
        help="Part characteristics (one value per part) come first: the lecture starts at the product.",
    )
    assert series is not None
    subject, subject_label, spec = series, series_label(series), plant.spec_for_series(series)
    decimals = numbers.resolution(plant.signal_for_series(series))
    if kind in spcview.VARIABLE_CHARTS:
        mode = st.radio(
            "Limits from",
            [spcview.LIMITS_MONITOR, spcview.LIMITS_WINDOW],
            horizontal=True,
            key="limits_mode",
            help="The live monitor's limits as it stored them (learned from the first readings of each series, "
            "or configured), or a phase I study of the window.",
        )
        monitor_mode = mode == spcview.LIMITS_MONITOR
        if monitor_mode and data.monitor_limits(series) is None:
            st.info(
                stored_limits.missing_note(subject_label, config.spc.phase1_points)
                + " Meanwhile the chart shows limits computed here from the window."
            )
elif source == SOURCE_PARTS:
    parts = data.parts(window.since_ms, window.until_ms)
    pairs = sorted({(p.machine, name) for p in parts for name in p.measurements})
    chosen_pair = st.selectbox(
        "Characteristic", pairs, format_func=lambda mc: f"{short(mc[0])} · {mc[1]}", key="spc_characteristic"
    )
    assert chosen_pair is not None
    machine, name = chosen_pair
    subject, spec = f"{machine} part {name}", plant.spec_for_part(machine, name)
    decimals = numbers.resolution(plant.signal(machine, name))
    subject_label = f"{line_of(machine)} · {short(machine)} · part {name}"
else:
    machine = st.selectbox("Machine", part_machines, format_func=short, key="spc_machine")
    assert machine is not None
    subject, subject_label = f"{machine} scrap", f"{line_of(machine)} · {short(machine)} · scrap parts"


def samples() -> Samples:
    if source == SOURCE_SERIES:
        return data.series_samples(subject, window.since_ms, window.until_ms, MAX_POINTS)
    if source == SOURCE_PARTS:
        return spcview.part_samples(data.parts(window.since_ms, window.until_ms, machine), machine, name)
    return spcview.scrap_samples(data.parts(window.since_ms, window.until_ms, machine), machine)


@st.fragment(run_every=config.dashboard.refresh if live else None)
def chart() -> None:
    monitor: LimitsVersion | None = data.monitor_limits(subject) if monitor_mode else None
    try:
        view, observations, notes = spcview.build(chart_settings, source, samples(), monitor, decimals)
    except spc.SpcError as exc:
        st.warning(f"Cannot draw a {kind} chart of {subject_label} in this window: {exc}")
        return
    st.subheader(f"{kind} · {subject_label}", anchor=False)
    figure = charts.control_chart(view, projector=sidebar.projector(), decimals=decimals)
    figure.update_layout(uirevision=f"{kind}|{subject}")  # keep the user's zoom across live refreshes
    st.plotly_chart(figure, key="spc_chart")
    flagged = int(view.flagged.sum())
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Points", f"{view.main.n:,}")
    m2.metric("Flagged points", f"{flagged:,}")
    centre = view.main.center
    stat = spcview.statistic_decimals(kind, decimals)
    centre_text = numbers.fmt(float(np.mean(view.main.center_line)), stat)
    m3.metric("Centre", centre_text + ("" if np.isscalar(centre) else " (varies)"))
    chart_sigma = float(np.mean(view.main.sigma_line))
    m4.metric(
        spcview.sigma_label(kind, monitor is not None),
        numbers.fmt(chart_sigma, stat),
        help="The σ the control limits are built on (short-term, within subgroups). The capability study below "
        "also shows the window's overall σ (sample standard deviation), which includes drift between subgroups.",
    )
    st.caption(" · ".join([view.limits_note, *notes, window.describe()]))
    number = st.column_config.NumberColumn(format=numbers.printf(stat))
    if monitor is not None:
        st.dataframe(
            spcview.limits_table(data.limits_versions(subject)),
            hide_index=True,
            key="spc_limits",
            column_config={c: number for c in ("centre", "σ", "LCL", "UCL")},
        )
    if flagged and st.toggle(f"List the {flagged:,} flagged points and why", key="spc_why"):
        fmt = charts.formats(view.main.chart, decimals)
        table = violations_table(view.main, view.x, value_format=fmt.value, limit_format=fmt.limit)
        st.dataframe(table, hide_index=True, key="spc_violations", column_config={"value": number})
    if observations is not None:
        capability(observations, chart_sigma if monitor is not None else None)


def capability(observations: np.ndarray, monitor_sigma: float | None) -> None:
    """The capability study of the window; `monitor_sigma`: the chart's σ when it is the monitor's (said apart)."""
    st.subheader("Capability", anchor=False)
    a, b, c = st.columns(3)
    shown = numbers.printf(numbers.input_decimals(decimals, spec.lsl, spec.usl, spec.target))
    lsl = a.number_input("LSL", value=spec.lsl, format=shown, key=f"lsl|{subject}")
    usl = b.number_input("USL", value=spec.usl, format=shown, key=f"usl|{subject}")
    target = c.number_input("Target", value=spec.target, format=shown, key=f"target|{subject}")
    if lsl is None and usl is None:
        where = "" if spec.known else " (its machine announced none)"
        st.info(f"Enter LSL and/or USL to see the capability of {subject_label}{where}.")
        return
    try:
        rules = chart_settings.rules
        cap = spcview.capability_study(kind, observations, lsl, usl, target, subgroup=subgroup, rules=rules)
    except spc.SpcError as exc:
        st.warning(f"No capability study: {exc}")
        return
    left, right = st.columns([3, 2])
    figure = charts.capability_figure(
        observations, cap, SpecLimits(lsl, usl, target), projector=sidebar.projector(), decimals=decimals
    )
    left.plotly_chart(figure, key="spc_capability")
    indices = spcview.capability_table(cap)
    two = st.column_config.NumberColumn(format="%.2f")  # capability indices: two decimals, as usually reported
    right.dataframe(
        indices, hide_index=True, key="spc_indices", column_config={c: two for c in indices.columns if c != "index"}
    )
    normal = cap.normality
    tested = f"; normality ({normal.test}) p = {normal.p_value:.3g}" if normal.p_value is not None else ""
    stat = spcview.statistic_decimals(kind, decimals)
    estimator = spcview.SIGMA_ESTIMATORS.get(kind, "MR̄/d₂")
    monitor_note = (
        f"; the control chart above uses the live monitor's σ {numbers.fmt(monitor_sigma, stat)}, learned from "
        "its own phase I"
        if monitor_sigma is not None
        else ""
    )
    right.caption(
        f"n = {cap.n}, centre {numbers.fmt(cap.center, stat)}. Two σ of this window: **σ within** "
        f"{numbers.fmt(cap.sigma_within, stat)} ({estimator}, short-term: Cp, Cpk) and **σ overall** "
        f"{numbers.fmt(cap.sigma_overall, stat)} (sample standard deviation s, long-term: Pp, Ppk)"
        f"{monitor_note}{tested}"
    )
    for warning in cap.warnings:
        right.warning(warning)


chart()
