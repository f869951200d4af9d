"""`spc analyze` output for big files: compact streamed JSON, `--points violations`, per-point CSV/Parquet."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from smartfactory import spc
from smartfactory.cli import main, spc_output

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["spc", "analyze", *map(str, args)])


def strict(text: str | bytes) -> Any:
    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constants)


def as_json(*args: str | Path) -> Any:
    res = run(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    return strict(res.stdout)


def flagged_only(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in points if p["rules"] or p.get("signal")]


@pytest.fixture
def shifted(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Individuals with a mean shift and a few outliers, so that every rule family fires somewhere."""
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(10, 1, 300), rng.normal(11.2, 1, 300)])
    x[[50, 420]] = [15.0, 4.0]
    x[100] = 10.0  # a whole float: must come back as 10.0, a float
    path = tmp_path / "x.csv"
    path.write_text("t,x\n" + "".join(f"{i},{v!r}\n" for i, v in enumerate(x.tolist())))
    return path, x


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spc_output, "CHUNK", 7)  # many chunk boundaries in a small file
    monkeypatch.setattr(spc_output, "TABLE_CHUNK", 50)


@pytest.mark.usefixtures("small_chunks")
def test_streamed_json_is_compact_and_equals_the_dict_form(shifted: tuple[Path, np.ndarray]) -> None:
    path, x = shifted
    res = run(path, "--chart", "imr", "--value", "x", "--phase1", "200", "--format", "json")
    assert res.exit_code == 0, res.output
    assert res.stdout.count("\n") == 1  # one line, no indentation
    assert ": " not in res.stdout
    doc = strict(res.stdout)
    expected = spc.analysis_to_dict("imr", spc.imr(x, 200))
    assert doc == json.loads(json.dumps(expected))
    assert [p["index"] for p in doc["points"]] == list(range(1, 601))
    assert set(doc["points"][0]) == {"index", "value", "rules", "phase"}
    assert doc["points"][100]["value"] == 10.0
    assert isinstance(doc["points"][100]["value"], float)
    assert doc["points_given"] == doc["companion"]["points_given"] == "all"
    assert doc["points"][50]["rules"][:1] == ["WE1"]
    assert {p["phase"] for p in doc["points"][:200]} == {1}
    assert {p["phase"] for p in doc["points"][200:]} == {2}


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize(
    ("chart", "extra"),
    [
        ("ewma", ["--lambda", "0.1"]),
        ("cusum", ["--h", "4"]),
        ("xbar-s", ["--value", "d"]),
        ("p", ["--count", "D", "--size", "n"]),
    ],
)
def test_streamed_json_matches_the_dict_form_for_other_charts(tmp_path: Path, chart: str, extra: list[str]) -> None:
    rng = np.random.default_rng(4)
    m = 40
    d = rng.normal(5, 1, (m, 4))
    d[rng.random((m, 4)) < 0.15] = np.nan  # unequal subgroup sizes: varying limits (lists)
    d[:, :2] = np.where(np.isnan(d[:, :2]), 5.0, d[:, :2])
    sizes = rng.integers(40, 60, m)
    counts = rng.binomial(sizes, 0.1)
    frame = pd.DataFrame({"d1": d[:, 0], "d2": d[:, 1], "d3": d[:, 2], "d4": d[:, 3], "D": counts, "n": sizes})
    frame["x"] = np.concatenate([rng.normal(0, 1, 25), rng.normal(1.5, 1, 15)])
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    args = [path, "--chart", chart, "--phase1", "25", *extra]
    if chart in ("ewma", "cusum"):
        args += ["--value", "x"]
        result: Any = (spc.ewma if chart == "ewma" else spc.cusum)(
            frame["x"].to_numpy(), 25, **({"lam": 0.1} if chart == "ewma" else {"h": 4.0})
        )
    elif chart == "xbar-s":
        result = spc.xbar_s(d, 25)
    else:
        result = spc.p_chart(counts, sizes, 25)
    doc = as_json(*args)
    assert doc == json.loads(json.dumps(spc.analysis_to_dict(chart, result)))
    if chart in ("xbar-s", "p"):
        assert isinstance(doc["ucl"], list)
        assert all("size" in p for p in doc["points"])
    if chart == "p":
        assert all(isinstance(p["size"], int) for p in doc["points"])  # whole sizes print as integers


@pytest.mark.parametrize("chart", ["imr", "ewma"])
def test_violations_are_the_flagged_points_of_the_full_listing(shifted: tuple[Path, np.ndarray], chart: str) -> None:
    path, _ = shifted
    args = [path, "--chart", chart, "--value", "x", "--phase1", "200"]
    full = as_json(*args)
    only = as_json(*args, "--points", "violations")
    for a, b in [(full, only), *([(full["companion"], only["companion"])] if chart == "imr" else [])]:
        assert b["points_given"] == "violations"
        assert 0 < len(b["points"]) < len(a["points"])
        assert b["points"] == flagged_only(a["points"])
        assert {k: v for k, v in a.items() if k not in ("points", "points_given", "companion")} == {
            k: v for k, v in b.items() if k not in ("points", "points_given", "companion")
        }
    table = run(*args, "--points", "violations")
    assert table.exit_code == 0, table.output
    assert f"flagged points only (--points violations): {len(only['points'])}" in table.stdout


def _compare_table(table: pd.DataFrame, doc: dict[str, Any]) -> None:
    for part, statistic in [(doc, doc["statistic"]), (doc["companion"], doc["companion"]["chart"])]:
        rows = table[table["chart"] == statistic]
        points = part["points"]
        assert rows["index"].tolist() == [p["index"] for p in points]
        assert rows["phase"].tolist() == [p["phase"] for p in points]
        np.testing.assert_array_equal(rows["value"].to_numpy(dtype=float), [p["value"] for p in points])
        assert rows["rules"].fillna("").tolist() == [" ".join(p["rules"]) for p in points]
        np.testing.assert_array_equal(rows["ucl"].to_numpy(dtype=float), np.full(len(points), part["ucl"]))


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("points", ["all", "violations"])
def test_point_tables_round_trip(shifted: tuple[Path, np.ndarray], tmp_path: Path, fmt: str, points: str) -> None:
    path, _ = shifted
    args = [path, "--chart", "imr", "--value", "x", "--phase1", "200", "--points", points]
    doc = as_json(*args)
    out = tmp_path / f"points.{fmt}"
    res = run(*args, "--format", fmt, "-o", out)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert list(table.columns[:8]) == ["chart", "index", "phase", "value", "center", "lcl", "ucl", "rules"]
    assert len(table) == len(doc["points"]) + len(doc["companion"]["points"])
    _compare_table(table, doc)
    if fmt == "csv":
        same = run(*args, "--format", "csv")  # to stdout: the same bytes
        assert same.stdout_bytes == out.read_bytes()


def test_parquet_to_a_terminal_is_refused(shifted: tuple[Path, np.ndarray]) -> None:
    path, _ = shifted
    command = [sys.executable, "-m", "smartfactory", "spc", "analyze", str(path), "--chart", "imr", "--value", "x"]
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [*command, "--format", "parquet"],
            stdout=follower,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    assert b"Parquet is binary" in proc.stderr
    assert b"-o FILE.parquet" in proc.stderr


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_point_table_keeps_the_optional_fields(shifted: tuple[Path, np.ndarray], tmp_path: Path, fmt: str) -> None:
    path, _ = shifted
    args = [path, "--chart", "ewma", "--value", "x", "--phase1", "200"]
    doc = as_json(*args)
    out = tmp_path / f"ewma.{fmt}"
    assert run(*args, "--format", fmt, "-o", out).exit_code == 0
    table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert list(table.columns) == [
        "chart", "index", "phase", "value", "center", "lcl", "ucl", "rules", "signal", "observed",
    ]  # fmt: skip
    assert set(table["chart"]) == {"ewma"}
    assert table["signal"].tolist() == [p["signal"] for p in doc["points"]]
    np.testing.assert_array_equal(table["observed"].to_numpy(dtype=float), [p["observed"] for p in doc["points"]])
    np.testing.assert_array_equal(table["ucl"].to_numpy(dtype=float), doc["ucl"])  # a varying line, per point
