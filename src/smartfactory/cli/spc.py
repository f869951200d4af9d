"""`smartfactory spc analyze FILE.csv --chart ...`: control charts, run rules and capability for a CSV file.

Reads the CSV with pandas (only the columns the chart needs), hands plain arrays to the pure engine in
:mod:`smartfactory.spc`, and prints a table (default), compact JSON (``--format json``, see docs/spc.md for the
keys) or the per-point table (``--format csv|parquet``). A file that holds several series (a ``topic`` or
``series`` column, as ``smartfactory export`` writes) is charted one series at a time: ``--series NAME`` or
``--by COLUMN``. ``--plot FILE.html`` writes an interactive plotly chart; PNG/SVG export needs ``kaleido``.
"""

from __future__ import annotations

import contextlib
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click
import numpy as np
import pandas as pd

from smartfactory import spc as engine
from smartfactory.spc.chart import ChartPair, ControlChart
from smartfactory.spc.report import POINTS_GIVEN, analysis_document, materialize

CHARTS = ("imr", "xbar-r", "xbar-s", "p", "np", "c", "u", "ewma", "cusum")
FORMATS = ("table", "json", "csv", "parquet")
CI_METHODS = ("effective-df", "qcc")
#: column names (case-insensitive) that say which series a row belongs to (`smartfactory export` writes `topic`)
SERIES_COLUMNS = ("topic", "series")


@click.group(name="spc")
def spc() -> None:
    """Statistical process control on your own data (control charts, run rules, capability)."""


# -- reading the CSV ---------------------------------------------------------------------------------------
def _csv(path: Path, sep: str = ",", nrows: int | None = None, usecols: list[str] | None = None) -> pd.DataFrame:
    # utf-8-sig: Excel's byte-order mark
    return pd.read_csv(path, sep=sep, nrows=nrows, usecols=usecols, skipinitialspace=True, encoding="utf-8-sig")


def _read(path: Path, wanted: Callable[[list[str]], set[str] | None] | None = None) -> pd.DataFrame:
    """The CSV (comma- or semicolon-separated); only the columns ``wanted(header)`` names, when it names any
    (else all, so the usual messages say what is missing). ``df.attrs["columns"]`` lists every column."""
    try:
        header = _csv(path, nrows=0).columns
        sep = ","
        if len(header) == 1 and ";" in str(header[0]):  # semicolon-separated (European Excel)
            sep, header = ";", _csv(path, ";", nrows=0).columns
        names = [str(c).strip() for c in header]
        keep = None if wanted is None else wanted(names)
        use = None if keep is None else [raw for raw, name in zip(header, names, strict=True) if name in keep]
        df = _csv(path, sep, usecols=use or None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {path} as CSV ({exc}): save it as comma-separated text") from exc
    df.columns = [str(c).strip() for c in df.columns]
    df.attrs["columns"] = names
    if df.empty:
        raise click.UsageError(f"{path} has no data rows")
    return df


def _columns(df: pd.DataFrame) -> str:
    return ", ".join(map(str, df.attrs.get("columns", df.columns)))


def _row(raw: pd.Series, i: int) -> int:
    """The data row (1-based, in the file) of position ``i`` of a column, also after selecting a series."""
    return int(raw.index[i]) + 1


def _column(df: pd.DataFrame, name: str, option: str, allow_blank: bool = False) -> np.ndarray:
    if name not in df.columns:
        raise click.UsageError(f"{option} {name!r}: no such column; the file has: {_columns(df)}")
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    blank = raw.isna().to_numpy()
    bad = np.flatnonzero(np.isnan(values) & ~blank)
    if bad.size:
        i = int(bad[0])
        raise click.UsageError(
            f"column {name!r}, data row {_row(raw, i)}: {raw.iloc[i]!r} is not a number: fix that cell"
        )
    if not allow_blank and blank.any():
        raise click.UsageError(
            f"column {name!r}, data row {_row(raw, int(np.flatnonzero(blank)[0]))} is empty: fill it or drop the row"
        )
    return values


def _wide_columns(columns: Any, prefix: str = "x") -> list[str]:
    """Columns prefix1..prefixN (case-insensitive), in numeric order."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$", re.IGNORECASE)
    cols = [(int(m.group(1)), c) for c in map(str, columns) if (m := pattern.match(c))]
    return [c for _, c in sorted(cols)]


def _wanted(header: list[str], chart: str, o: dict[str, Any]) -> set[str] | None:
    """The columns this chart reads (None: all of them, when the measurement column is to be guessed)."""
    if o["value"] is None and o["subgroup"] is None and chart in ("imr", "ewma", "cusum"):
        return None
    names = {str(o[k]) for k in ("value", "subgroup", "count", "size", "by") if o[k] is not None}
    names |= {c for c in header if c.lower() in SERIES_COLUMNS}
    if chart in ("xbar-r", "xbar-s", "ewma", "cusum"):
        names |= set(_wide_columns(header, o["value"] or "x"))
    return names


# -- one series at a time ----------------------------------------------------------------------------------
def _few(names: list[str], limit: int = 3) -> str:
    more = f" … and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _short_name(name: str, names: list[str]) -> str:
    """The shortest ending of ``name`` (whole /-separated levels) that no other series shares."""
    parts = name.split("/")
    for k in range(1, len(parts) + 1):
        ending = "/".join(parts[-k:])
        if sum(1 for n in names if n == ending or n.endswith("/" + ending)) == 1:
            return ending
    return name


def _resolve(series: str, names: list[str], col: str) -> str:
    if series in names:
        return series
    ending = series.strip("/")
    matches = [n for n in names if n.endswith("/" + ending)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise click.UsageError(f"--series {series!r} fits {len(matches)} series in column {col!r} "
                               f"({_few(matches)}): give more of the id")  # fmt: skip
    raise click.UsageError(f"--series {series!r}: no such series in column {col!r}; the file has {_few(names, 5)}")


def _series_column(df: pd.DataFrame, o: dict[str, Any]) -> str | None:
    if o["by"] is not None:
        if o["by"] not in df.columns:
            raise click.UsageError(f"--by {o['by']!r}: no such column; the file has: {_columns(df)}")
        return str(o["by"])
    charted = {o[k] for k in ("value", "subgroup", "count", "size")}
    return next((str(c) for c in df.columns if str(c).lower() in SERIES_COLUMNS and c not in charted), None)


def _groups(df: pd.DataFrame, file: Path, o: dict[str, Any]) -> tuple[str | None, list[tuple[str | None, Any]]]:
    """(series column, [(series name, its rows), ...]): the rows of the one series chosen with ``--series``,
    one entry per series with ``--by``, or the whole file when it holds a single series."""
    col = _series_column(df, o)
    if col is None:
        if o["series"] is not None:
            raise click.UsageError(f"--series {o['series']!r}: {file.name} has no column named topic or series; "
                                   "say which column holds the series with --by COLUMN")  # fmt: skip
        return None, [(None, df)]
    raw = df[col]
    if raw.isna().any():
        i = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise click.UsageError(f"column {col!r}, data row {_row(raw, i)} is empty: every row needs its series")
    labels = raw if pd.api.types.is_string_dtype(raw) else raw.astype(str)
    names = sorted(map(str, pd.unique(labels)))
    if o["series"] is not None:
        name = _resolve(str(o["series"]), names, col)
        return col, [(name, df[(labels == name).to_numpy()])]
    if o["by"] is not None:
        return col, [(str(k), g) for k, g in df.groupby(labels, sort=True)]
    if len(names) > 1:
        raise click.UsageError(
            f"{file.name} holds {len(names)} series in column {col!r} ({_few(names)}) and a control chart "
            f"shows one: chart one with --series NAME (its full id or a unique ending, e.g. --series "
            f"{_short_name(names[0], names)}) or each of them with --by {col}"
        )
    return col, [(names[0], df)]


def _subgroups(df: pd.DataFrame, value: str | None, subgroup: str | None) -> np.ndarray:
    """One row per subgroup, NaN-padded: long form (--value/--subgroup) or wide form (x1..xn, or
    NAME1..NAMEn with --value NAME)."""
    if subgroup is not None:
        if value is None:
            raise click.UsageError("--subgroup needs --value COL (the measurement column)")
        if subgroup not in df.columns:
            raise click.UsageError(f"--subgroup {subgroup!r}: no such column; the file has: {_columns(df)}")
        x = _column(df, value, "--value")
        codes, _ = pd.factorize(df[subgroup], sort=False)
        if (codes < 0).any():
            raise click.UsageError(f"column {subgroup!r} has empty cells: every row needs its subgroup label")
        # scatter each value to (its subgroup, its position inside the subgroup), in file order
        counts = np.bincount(codes)
        order = np.argsort(codes, kind="stable")
        position = np.arange(codes.size) - np.repeat(np.cumsum(counts) - counts, counts)
        out = np.full((counts.size, int(counts.max())), np.nan)
        out[codes[order], position] = x[order]
        return out
    cols = _wide_columns(df.columns, value or "x")
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
            raise click.UsageError(f"choose the measurement column with --value COL (columns: {_columns(df)})")
        value = str(numeric[0])
    return _column(df, value, "--value")


def _sizes(df: pd.DataFrame, size: str | None, n: int) -> np.ndarray | None:
    if size is None:
        return None
    if size not in df.columns:
        try:
            return np.full(n, float(size))  # a constant sample size, e.g. --size 50
        except ValueError:
            raise click.UsageError(f"--size {size!r}: no such column; the file has: {_columns(df)}") from None
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
        if o["subgroup"] is not None or _wide_columns(df.columns, o["value"] or "x"):
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
    method, sizes = sigma_estimator(result, known=o["sigma"] is not None)
    return engine.capability(
        result.observations,
        center=float(np.mean(main.center_line[: main.n_phase1])),
        sigma_within=float(main.sigma_line[0]),
        lsl=o["lsl"],
        usl=o["usl"],
        target=o["target"],
        nsigmas=o["nsigmas"],
        in_control=not bool(phase1_out),
        sigma_method=method,
        subgroup_sizes=sizes,
        ci_method=o["ci_method"],
    )


def sigma_estimator(result: ChartPair, *, known: bool) -> tuple[str, np.ndarray | None]:
    """How the chart estimated its within σ (`spc.capability`'s `sigma_method`) and, for subgroup charts, the
    sizes of the phase I subgroups it used (those `--revise` dropped left out)."""
    main = result.main
    if known:
        return "known", None
    if main.chart == "i":
        return "mr", None
    keep = np.ones(main.n_phase1, dtype=np.bool_)
    keep[[i - 1 for i in main.excluded]] = False
    return ("r" if result.companion.chart == "r" else "s"), np.asarray(main.sizes[: main.n_phase1])[keep]


# -- output ----------------------------------------------------------------------------------------------
def _plot(result: ChartPair | ControlChart, path: Path, title: str) -> None:
    from smartfactory.query.figures import figure

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


def _write(output: str, fmt: str, docs: list[tuple[str | None, dict[str, Any]]], by: str | None, title: str) -> None:
    from smartfactory.cli import spc_output as writers

    with contextlib.ExitStack() as stack:
        sys.stdout.flush()
        out: IO[bytes] = sys.stdout.buffer if output == "-" else stack.enter_context(open(output, "wb"))
        if fmt == "json":
            writers.write_json({"by": by, "groups": [d for _, d in docs]} if by else docs[0][1], out)
        elif fmt in ("csv", "parquet"):
            writers.write_points(docs, fmt, out)
        else:
            for name, doc in docs:
                text = writers.table_text(materialize(doc), title + ("" if name is None else f", series {name}"))
                out.write((text + ("\n" if len(docs) > 1 else "")).encode("utf-8"))
        out.flush()


@spc.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chart", "chart", type=click.Choice(CHARTS), required=True, help="Control chart type.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table, json, or the per-point table as csv or parquet.")  # fmt: skip
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE", help="Write here instead of stdout.")
@click.option("--points", type=click.Choice(POINTS_GIVEN), default="all", show_default=True,
              help="List every point, or only the flagged ones (rules violated, EWMA/CUSUM signals).")  # fmt: skip
@click.option("--series", help="Chart this series only (a value of the topic/series column, or its unique ending).")
@click.option("--by", help="Chart each value of this column on its own (e.g. --by topic for an export).")
@click.option("--value", help="Measurement column (individuals, or long-form subgroups with --subgroup).")
@click.option("--subgroup", help="Subgroup label column (long form). Without it, columns x1..xn form subgroups.")
@click.option("--count", help="Count column for p, np, c, u charts (nonconforming units or nonconformities).")
@click.option("--size", help="Sample size column (or one number) for p, np, u (and c) charts.")
@click.option("--phase1", type=click.IntRange(min=1), help="The first N points/subgroups are phase I [all].")
@click.option("--rules", default="all", show_default=True, help="we, nelson, all, none, or ids like WE1,N3.")
@click.option("--lsl", type=float, help="Lower specification limit (capability).")
@click.option("--usl", type=float, help="Upper specification limit (capability).")
@click.option("--target", type=float, help="Target for Cpm [middle of the specification].")
@click.option("--ci-method", "ci_method", type=click.Choice(CI_METHODS), default="effective-df", show_default=True,
              help="Capability intervals: the within σ's own df (MR̄, R̄, s̄), or qcc 2.7's n − 1.")  # fmt: skip
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
def analyze(file: Path, chart: str, fmt: str, output: str, points: str, plot: Path | None, **o: Any) -> None:
    """Draw a control chart for FILE.csv, flag rule violations, and (with --lsl/--usl) study capability.

    A file with several series (a topic or series column, as `smartfactory export` writes) needs --series NAME
    or --by COLUMN.

    \b
    Examples:
      smartfactory spc analyze rings.csv --chart xbar-r --phase1 25 --lsl 73.95 --usl 74.05
      smartfactory spc analyze temps.csv --chart imr --value temp_c --format json --points violations
      smartfactory spc analyze readings.csv --chart imr --value value --series cnc-01/telemetry/spindle_temp
      smartfactory spc analyze readings.csv --chart imr --value value --by topic --format csv -o points.csv
      smartfactory spc analyze defects.csv --chart p --count D --size n --rules we
    """
    if chart not in ("ewma",) and o["lam"] is not None:
        raise click.UsageError("--lambda applies to --chart ewma only")
    if chart != "cusum" and (o["h"] is not None or o["k"] is not None):
        raise click.UsageError("--h/--k apply to --chart cusum only")
    if fmt == "parquet" and output == "-" and sys.stdout.isatty():
        raise click.UsageError("Parquet is binary: give -o FILE.parquet or redirect stdout to a file")
    try:
        o["rules"] = engine.parse_rules(o["rules"])
        col, groups = _groups(_read(file, lambda header: _wanted(header, chart, o)), file, o)
        if plot is not None and len(groups) > 1:
            raise click.UsageError(f"--plot draws one chart: choose one series with --series NAME (column {col!r})")
        results: list[tuple[str | None, ChartPair | ControlChart, engine.Capability | None]] = []
        for name, rows in groups:
            try:
                result = _analyze(rows, chart, o)
                results.append((name, result, _capability(result, o)))
            except engine.SpcError as exc:
                raise engine.SpcError(f"series {name}: {exc}" if name is not None and o["by"] else str(exc)) from exc
    except engine.SpcError as exc:
        raise click.UsageError(str(exc)) from exc
    docs: list[tuple[str | None, dict[str, Any]]] = []
    for name, result, cap in results:
        doc = analysis_document(chart, result, cap, "violations" if points == "violations" else "all")
        if cap is not None:  # how the intervals treat σ_within: "effective-df" (its estimator's df) or "qcc" (n − 1)
            doc["capability"].update(
                ci_method=cap.ci_method, df_within=cap.df_within if math.isfinite(cap.df_within) else None
            )
        docs.append((name, doc if name is None else {"series": name, **doc}))
    _write(output, fmt, docs, col if o["by"] else None, f"{chart} chart of {file.name}")
    if output != "-":
        click.echo(f"{fmt} written to {output}", err=True)
    if plot is not None:
        name, result, _ = results[0]
        _plot(result, plot, f"{chart} chart of {file.name}" + ("" if name is None else f", {name}"))
        click.echo(f"chart written to {plot}", err=True)
