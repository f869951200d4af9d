"""`smartfactory spc analyze FILE.csv --chart ...`: control charts, run rules and capability for a CSV file.

Reads the CSV with pandas, hands plain arrays to the pure engine in :mod:`smartfactory.spc`, and prints a
table (default) or JSON (``--format json``, see docs/spc.md for the keys). ``--plot FILE.html`` writes an
interactive plotly chart; PNG/SVG export needs the optional ``kaleido`` package.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from smartfactory import spc as engine
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.report import analysis_to_dict

CHARTS = ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")


@click.group(name="spc")
def spc() -> None:
    """Statistical process control on your own data (control charts, run rules, capability)."""


# -- reading the CSV ---------------------------------------------------------------------------------------
def _read(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, skipinitialspace=True, encoding="utf-8-sig")  # -sig: Excel's byte-order mark
        if df.shape[1] == 1 and ";" in str(df.columns[0]):  # semicolon-separated (European Excel)
            df = pd.read_csv(path, sep=";", skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {path} as CSV ({exc}): save it as comma-separated text") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise click.UsageError(f"{path} has no data rows")
    return df


def _column(df: pd.DataFrame, name: str, option: str, allow_blank: bool = False) -> np.ndarray:
    if name not in df.columns:
        raise click.UsageError(f"{option} {name!r}: no such column; the file has: {', '.join(map(str, df.columns))}")
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    blank = raw.isna().to_numpy()
    bad = np.flatnonzero(np.isnan(values) & ~blank)
    if bad.size:
        i = int(bad[0])
        raise click.UsageError(f"column {name!r}, data row {i + 1}: {raw.iloc[i]!r} is not a number: fix that cell")
    if not allow_blank and blank.any():
        raise click.UsageError(
            f"column {name!r}, data row {int(np.flatnonzero(blank)[0]) + 1} is empty: fill it or drop the row"
        )
    return values


def _wide_columns(df: pd.DataFrame, prefix: str = "x") -> list[str]:
    """Columns prefix1..prefixN (case-insensitive), in numeric order."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$", re.IGNORECASE)
    cols = [(int(m.group(1)), c) for c in df.columns if (m := pattern.match(c))]
    return [c for _, c in sorted(cols)]


def _subgroups(df: pd.DataFrame, value: str | None, subgroup: str | None) -> np.ndarray:
    """One row per subgroup, NaN-padded: long form (--value/--subgroup) or wide form (x1..xn, or
    NAME1..NAMEn with --value NAME)."""
    if subgroup is not None:
        if value is None:
            raise click.UsageError("--subgroup needs --value COL (the measurement column)")
        if subgroup not in df.columns:
            raise click.UsageError(f"--subgroup {subgroup!r}: no such column; the file has: {', '.join(df.columns)}")
        x = _column(df, value, "--value")
        codes, _ = pd.factorize(df[subgroup], sort=False)
        if (codes < 0).any():
            raise click.UsageError(f"column {subgroup!r} has empty cells: every row needs its subgroup label")
        groups = [x[codes == g] for g in range(int(codes.max()) + 1)]
        width = max(g.size for g in groups)
        out = np.full((len(groups), width), np.nan)
        for i, g in enumerate(groups):
            out[i, : g.size] = g
        return out
    cols = _wide_columns(df, value or "x")
    if not cols:
        raise click.UsageError(
            "this chart needs subgroups: one row per subgroup with columns x1..xn (or NAME1..NAMEn with "
            "--value NAME), or long form with --value COL --subgroup COL"
        )
    return np.column_stack([_column(df, c, "column", allow_blank=True) for c in cols])


def _individuals(df: pd.DataFrame, value: str | None) -> np.ndarray:
    if value is None:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        if len(numeric) != 1:
            raise click.UsageError(f"choose the measurement column with --value COL (columns: {', '.join(df.columns)})")
        value = str(numeric[0])
    return _column(df, value, "--value")


def _sizes(df: pd.DataFrame, size: str | None, n: int) -> np.ndarray | None:
    if size is None:
        return None
    if size not in df.columns:
        try:
            return np.full(n, float(size))  # a constant sample size, e.g. --size 50
        except ValueError:
            raise click.UsageError(f"--size {size!r}: no such column; the file has: {', '.join(df.columns)}") from None
    return _column(df, size, "--size")


# -- analysis --------------------------------------------------------------------------------------------
def _analyze(df: pd.DataFrame, chart: str, o: dict[str, Any]) -> ChartPair | ControlChart:
    common = {"nsigmas": o["nsigmas"], "rules": o["rules"], "revise": o["revise"]}
    known = {"center": o["center"], "sigma": o["sigma"]}
    if chart == "imr":
        return engine.imr(_individuals(df, o["value"]), o["phase1"], **known, **common)
    if chart in ("xbar-r", "xbar-s"):
        fn = engine.xbar_r if chart == "xbar-r" else engine.xbar_s
        return fn(_subgroups(df, o["value"], o["subgroup"]), o["phase1"], **known, **common)
    if chart in ("ewma", "cusum"):
        if o["subgroup"] is not None or _wide_columns(df, o["value"] or "x"):
            data: np.ndarray = _subgroups(df, o["value"], o["subgroup"])
        else:
            data = _individuals(df, o["value"])
        if chart == "ewma":
            lam = 0.2 if o["lam"] is None else o["lam"]
            return engine.ewma(data, o["phase1"], lam=lam, nsigmas=o["nsigmas"], **known)
        h = 5.0 if o["h"] is None else o["h"]
        k = 0.5 if o["k"] is None else o["k"]
        return engine.cusum(data, o["phase1"], h=h, k=k, **known)
    if o["sigma"] is not None:
        raise click.UsageError("--sigma does not apply to attribute charts: their sigma follows from the centre")
    if o["count"] is None:
        raise click.UsageError(f"a {chart} chart needs --count COL (and --size COL for p, np and u)")
    counts = _column(df, o["count"], "--count")
    sizes = _sizes(df, o["size"], counts.size)
    attr = {"center": o["center"], **common}
    if chart == "c":
        return engine.c_chart(counts, sizes, o["phase1"], **attr)
    if sizes is None:
        raise click.UsageError(f"a {chart} chart needs the sample sizes: --size COL (or a number, e.g. --size 50)")
    fn_attr = {"p": engine.p_chart, "np": engine.np_chart, "u": engine.u_chart}[chart]
    return fn_attr(counts, sizes, o["phase1"], **attr)


def _capability(result: ChartPair | ControlChart, o: dict[str, Any]) -> engine.Capability | None:
    if o["lsl"] is None and o["usl"] is None:
        if o["target"] is not None:
            raise click.UsageError("--target needs --lsl and/or --usl")
        return None
    if not isinstance(result, ChartPair):
        raise click.UsageError("capability (--lsl/--usl) needs a variables chart: imr, xbar-r or xbar-s")
    main, comp = result.main, result.companion

    def out_of_control(chart: ControlChart) -> bool:
        beyond = chart.beyond_limits()[: chart.n_phase1].copy()
        beyond[[i - 1 for i in chart.excluded]] = False  # points left out by --revise do not count
        return bool(beyond.any())

    phase1_out = out_of_control(main) or out_of_control(comp)
    return engine.capability(
        result.observations,
        center=float(np.mean(main.center_line[: main.n_phase1])),
        sigma_within=float(main.sigma_line[0]),
        lsl=o["lsl"],
        usl=o["usl"],
        target=o["target"],
        nsigmas=o["nsigmas"],
        in_control=not bool(phase1_out),
    )


# -- output ----------------------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "varies"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _table(doc: dict[str, Any], title: str) -> str:
    lines = [title, ""]
    for part in [doc, *([doc["companion"]] if "companion" in doc else [])]:
        lines.append(f"{part['chart']}: center {_fmt(part['center'])}  sigma {_fmt(part['sigma'])}  "
                     f"LCL {_fmt(part['lcl'])}  UCL {_fmt(part['ucl'])}  phase I/II {part['n_phase1']}/"
                     f"{part['n_phase2']}")  # fmt: skip
        lcl, ucl = part["lcl"], part["ucl"]
        if part["excluded"]:
            dropped = ", ".join(map(str, part["excluded"]))
            lines.append(f"phase I points left out of the estimates (--revise): {dropped}")
        lines.append(f"{'index':>6} {'phase':>5} {'value':>14} {'LCL':>14} {'UCL':>14}  rules")
        for p in part["points"]:
            i = p["index"] - 1
            lo = lcl[i] if isinstance(lcl, list) else lcl
            hi = ucl[i] if isinstance(ucl, list) else ucl
            extra = " ".join(p["rules"])
            if "upper" in p:
                extra = f"C+ {p['upper']:.4g}  C- {p['lower']:.4g}  " + extra
            if p.get("signal"):
                extra = ("SIGNAL " + extra).strip()
            row = f"{p['index']:>6} {p['phase']:>5} {_fmt(p['value']):>14} {_fmt(lo):>14} {_fmt(hi):>14}"
            row += f"  {extra}"
            lines.append(row.rstrip())
        lines.append("")
    cap = doc.get("capability")
    if cap:
        lines.append(f"capability (n = {cap['n']}, sigma within {_fmt(cap['sigma_within'])}, overall "
                     f"{_fmt(cap['sigma_overall'])}, {cap['confidence']:.0%} intervals)")  # fmt: skip
        for key in ("cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk"):
            iv = cap[key]
            if iv is not None:
                lines.append(f"  {key:<4} {_fmt(iv['value']):>10}  [{_fmt(iv['lower'])}, {_fmt(iv['upper'])}]")
        norm = cap["normality"]
        lines.append(f"  normality: {norm['test']} p = {_fmt(norm['p_value'])}")
        lines.extend(f"  warning: {w}" for w in cap["warnings"])
    return "\n".join(lines).rstrip() + "\n"


def _plot(result: ChartPair | ControlChart, path: Path, title: str) -> None:
    from smartfactory.spc.figure import figure

    fig = figure(result, title)
    if path.suffix.lower() in (".html", ".htm"):
        fig.write_html(str(path), include_plotlyjs=True)
        return
    try:
        fig.write_image(str(path))
    except (ValueError, ImportError, RuntimeError) as exc:
        raise click.ClickException(
            f"cannot write {path.name} ({exc}): image export needs the kaleido package "
            f"(pip install kaleido); or use --plot {path.with_suffix('.html').name} for an interactive chart"
        ) from exc


@spc.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chart", "chart", type=click.Choice(CHARTS), required=True, help="Control chart type.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--value", help="Measurement column (individuals, or long-form subgroups with --subgroup).")
@click.option("--subgroup", help="Subgroup label column (long form). Without it, columns x1..xn form subgroups.")
@click.option("--count", help="Count column for p, np, c, u charts (nonconforming units or nonconformities).")
@click.option("--size", help="Sample size column (or one number) for p, np, u (and c) charts.")
@click.option("--phase1", type=click.IntRange(min=1), help="The first N points/subgroups are phase I [all].")
@click.option("--rules", default="all", show_default=True, help="we, nelson, all, none, or ids like WE1,N3.")
@click.option("--lsl", type=float, help="Lower specification limit (capability).")
@click.option("--usl", type=float, help="Upper specification limit (capability).")
@click.option("--target", type=float, help="Target for Cpm [middle of the specification].")
@click.option("--lambda", "lam", type=float, help="EWMA smoothing constant [0.2].")
@click.option("--nsigmas", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True,
              help="Width of the control limits in sigmas.")  # fmt: skip
@click.option("--h", "h", type=float, help="CUSUM decision interval in sigma units [5].")
@click.option("--k", "k", type=float, help="CUSUM reference value in sigma units [0.5].")
@click.option("--center", type=float, help="Known centre (mean; p̄, c̄ or ū for attribute charts).")
@click.option("--sigma", type=float, help="Known process standard deviation.")
@click.option("--revise", type=click.IntRange(min=0), default=0, show_default=True,
              help="Passes dropping out-of-control phase I points and re-estimating.")  # fmt: skip
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the chart (.html; .png needs kaleido).",
)
def analyze(file: Path, chart: str, fmt: str, plot: Path | None, **o: Any) -> None:
    """Draw a control chart for FILE.csv, flag rule violations, and (with --lsl/--usl) study capability.

    \b
    Examples:
      smartfactory spc analyze rings.csv --chart xbar-r --phase1 25 --lsl 73.95 --usl 74.05
      smartfactory spc analyze temps.csv --chart imr --value temp_c --format json
      smartfactory spc analyze defects.csv --chart p --count D --size n --rules we
    """
    if chart not in ("ewma",) and o["lam"] is not None:
        raise click.UsageError("--lambda applies to --chart ewma only")
    if chart != "cusum" and (o["h"] is not None or o["k"] is not None):
        raise click.UsageError("--h/--k apply to --chart cusum only")
    try:
        o["rules"] = engine.parse_rules(o["rules"])
        df = _read(file)
        result = _analyze(df, chart, o)
        cap = _capability(result, o)
    except engine.SpcError as exc:
        raise click.UsageError(str(exc)) from exc
    doc = analysis_to_dict(chart, result, cap)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
    else:
        click.echo(_table(doc, f"{chart} chart of {file.name}"), nl=False)
    if plot is not None:
        _plot(result, plot, f"{chart} chart of {file.name}")
        click.echo(f"chart written to {plot}", err=True)
