"""`smartfactory spc analyze` through click's CliRunner, on the shared CSVs and on small files of our own."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

from smartfactory.cli import main

REL = 1e-9


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["spc", "analyze", *map(str, args)])


def strict_json(text: str) -> Any:
    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=no_constants)


def analyze_json(*args: str | Path) -> Any:
    res = run(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    return strict_json(res.stdout)


def close(a: Any, b: Any) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=REL, atol=0)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pistonrings_xbar_r_json(reference: Path, expected: Any) -> None:
    doc = analyze_json(
        reference / "inputs/pistonrings.csv", "--chart", "xbar-r", "--phase1", "25", "--ci-method", "qcc",
        "--lsl", "73.95", "--usl", "74.05", "--target", "74",
    )  # fmt: skip
    exp = expected("pistonrings_xbar.json")
    assert doc["chart"] == "xbar-r"
    assert doc["statistic"] == "xbar"
    close([doc["center"], doc["sigma"], doc["lcl"], doc["ucl"]],
          [exp["center"], exp["std_dev"], exp["limits"]["LCL"], exp["limits"]["UCL"]])  # fmt: skip
    assert [p["index"] for p in doc["points"]] == list(range(1, 41))
    close([p["value"] for p in doc["points"]], exp["statistics"] + exp["newstats"])
    assert [p["index"] for p in doc["points"] if "WE1" in p["rules"]] == [37, 38, 39]
    assert doc["points"][34]["rules"] == ["WE2", "WE3", "N5", "N6"]
    assert {p["phase"] for p in doc["points"][25:]} == {2}
    r = expected("pistonrings_R.json")
    comp = doc["companion"]
    assert comp["chart"] == "r"
    assert set(comp) >= {"center", "sigma", "lcl", "ucl", "points"}
    close([comp["center"], comp["lcl"], comp["ucl"]], [r["center"], r["limits"]["LCL"], r["limits"]["UCL"]])
    cap = expected("pistonrings_capability.json")["indices"]
    for key, name in {"cp": "Cp", "cpk": "Cp_k", "cpl": "Cp_l", "cpu": "Cp_u", "cpm": "Cpm"}.items():
        got = doc["capability"][key]
        close([got["value"], got["lower"], got["upper"]], [cap[name]["value"], cap[name]["lower"], cap[name]["upper"]])
    assert set(doc["capability"]["pp"]) == {"value", "lower", "upper"}
    assert doc["capability"]["normality"]["test"] == "shapiro-wilk"


def test_pistonrings_xbar_s_json(reference: Path, expected: Any) -> None:
    doc = analyze_json(reference / "inputs/pistonrings.csv", "--chart", "xbar-s", "--phase1", "25")
    s = expected("pistonrings_S.json")
    close(doc["sigma"], s["std_dev"])
    close([doc["companion"]["center"], doc["companion"]["ucl"]], [s["center"], s["limits"]["UCL"]])
    assert doc["companion"]["points"][25]["rules"] == ["WE2", "N5"]


def test_orangejuice_p_revised_from_the_cli(reference: Path, expected: Any) -> None:
    exp = expected("orangejuice_p.json")["p_revised_excl_15_23_newdata_31_54"]
    doc = analyze_json(
        reference / "inputs/orangejuice.csv", "--chart", "p", "--count", "D", "--size", "size",
        "--phase1", "30", "--revise", "1",
    )  # fmt: skip
    assert doc["excluded"] == [15, 23]
    close([doc["center"], doc["lcl"], doc["ucl"]], [exp["center"], exp["limits"]["LCL"], exp["limits"]["UCL"]])
    assert len(doc["points"]) == 54
    assert doc["n_phase2"] == 24


def test_orangejuice_np_and_circuit_c(reference: Path, expected: Any) -> None:
    np_doc = analyze_json(reference / "inputs/orangejuice.csv", "--chart", "np", "--count", "D", "--size", "50",
                          "--phase1", "30")  # fmt: skip
    exp = expected("orangejuice_p.json")["np_trial"]
    close([np_doc["center"], np_doc["sigma"], np_doc["ucl"]], [exp["center"], exp["std_dev"], exp["limits"]["UCL"]])
    c_doc = analyze_json(reference / "inputs/circuit.csv", "--chart", "c", "--count", "x", "--size", "size",
                         "--phase1", "26", "--rules", "we")  # fmt: skip
    c = expected("circuit_c.json")["c_trial"]
    close([c_doc["center"], c_doc["lcl"], c_doc["ucl"]], [c["center"], c["limits"]["LCL"], c["limits"]["UCL"]])
    assert c_doc["rules_evaluated"] == ["WE1", "WE2", "WE3", "WE4"]
    assert [p["index"] for p in c_doc["points"] if p["rules"]][:3] == [6, 20, 21]


def test_imr_long_and_wide_subgroups(tmp_path: Path) -> None:
    values = [10.0, 12.0, 11.0, 15.0, 13.0, 30.0]
    f = write(tmp_path, "ind.csv", "t,temp\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    doc = analyze_json(f, "--chart", "imr", "--value", "temp", "--phase1", "5")
    assert doc["center"] == pytest.approx(12.2)
    assert doc["points"][5]["rules"] == ["WE1", "N1"]
    assert len(doc["companion"]["points"]) == 5
    assert doc["companion"]["chart"] == "mr"

    wide = write(tmp_path, "wide.csv", "x1,x2,x3,x4\n5,6,7,8\n6,6.5,,\n4,7,6,\n5.5,6.5,6,7\n")
    groups: list[list[float]] = [[5, 6, 7, 8], [6, 6.5], [4, 7, 6], [5.5, 6.5, 6, 7]]
    long_rows = "g,v\n" + "".join(f"{g},{v}\n" for g, row in enumerate(groups) for v in row)
    long = write(tmp_path, "long.csv", long_rows)
    a = analyze_json(wide, "--chart", "xbar-r")
    b = analyze_json(long, "--chart", "xbar-r", "--value", "v", "--subgroup", "g")
    assert isinstance(a["lcl"], list)
    assert len(a["ucl"]) == 4
    assert a["points"] == b["points"]
    assert a["ucl"] == b["ucl"]
    assert [p["size"] for p in a["points"]] == [4, 2, 3, 4]


def test_ewma_and_cusum_json(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(10, 1, 30), rng.normal(11.5, 1, 20)])
    f = write(tmp_path, "x.csv", "value\n" + "\n".join(f"{v:.4f}" for v in x) + "\n")
    e = analyze_json(f, "--chart", "ewma", "--phase1", "30", "--lambda", "0.1", "--nsigmas", "2.7")
    assert e["lambda"] == 0.1
    assert isinstance(e["ucl"], list)
    assert len(e["ucl"]) == 50
    assert all(isinstance(p["signal"], bool) and p["rules"] == [] for p in e["points"])
    assert any(p["signal"] for p in e["points"][30:])
    c = analyze_json(f, "--chart", "cusum", "--phase1", "30", "--h", "4", "--k", "0.5")
    assert (c["lcl"], c["ucl"], c["h"], c["k"]) == (-4.0, 4.0, 4.0, 0.5)
    assert all({"upper", "lower", "signal"} <= set(p) for p in c["points"])
    assert all(p["lower"] <= 0 <= p["upper"] for p in c["points"])
    assert c["points"][-1]["signal"] is True


def test_u_chart_with_a_size_column(tmp_path: Path) -> None:
    f = write(tmp_path, "u.csv", "c,n\n2,1\n9,2.5\n0,0.5\n4,2\n")
    doc = analyze_json(f, "--chart", "u", "--count", "c", "--size", "n")
    assert doc["center"] == pytest.approx(2.5)
    assert isinstance(doc["ucl"], list)
    assert doc["lcl"] == 0.0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("a,b\n1,2\n", ["--chart", "imr", "--value", "temp"], "no such column"),
        ("temp\n1\nabc\n3\n", ["--chart", "imr", "--value", "temp"], "'abc' is not a number"),
        ("a,b\n1,2\n3,4\n", ["--chart", "imr"], "choose the measurement column"),
        ("temp,x\n1,1\n,2\n3,3\n", ["--chart", "imr", "--value", "temp"], "row 2 is empty"),
        ("temp\n1\n", ["--chart", "imr"], "at least 2"),
        ("a\n1\n2\n", ["--chart", "xbar-r"], "columns x1..xn"),
        ("D,n\n1,10\n2,10\n", ["--chart", "p", "--count", "D"], "--size"),
        ("D,n\n1,10\n2,10\n", ["--chart", "p", "--count", "D", "--size", "n", "--lsl", "0"], "variables chart"),
        ("v\n1\n2\n3\n", ["--chart", "imr", "--lambda", "0.3"], "ewma only"),
        ("v\n1\n2\n3\n", ["--chart", "imr", "--rules", "WE7"], "unknown rule"),
        ("v\n1\n2\n3\n", ["--chart", "imr", "--phase1", "9"], "lower --phase1"),
    ],
)
def test_bad_input_gives_a_usage_error(tmp_path: Path, content: str, args: list[str], message: str) -> None:
    res = run(write(tmp_path, "bad.csv", content), *args)
    assert res.exit_code == 2
    assert message in res.output


def test_table_output_and_plots(reference: Path, tmp_path: Path) -> None:
    rings = reference / "inputs/pistonrings.csv"
    res = run(rings, "--chart", "xbar-r", "--phase1", "25", "--lsl", "73.95", "--usl", "74.05",
              "--plot", tmp_path / "chart.html")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "xbar-r: center 74.0012" in res.stdout
    assert "WE1 WE2 N1 N5" in res.stdout
    assert "cpk" in res.stdout
    html = (tmp_path / "chart.html").read_text()
    assert "plotly" in html.lower()
    assert "Range" in html
    png = run(rings, "--chart", "xbar-r", "--plot", tmp_path / "chart.png")
    if importlib.util.find_spec("kaleido") is None:
        assert png.exit_code == 1
        assert "kaleido" in png.output
        assert "chart.html" in png.output
    else:
        assert png.exit_code == 0
        assert (tmp_path / "chart.png").stat().st_size > 0


def test_wide_form_with_a_named_prefix_and_ewma_on_subgroups(tmp_path: Path) -> None:
    f = write(tmp_path, "d.csv", "lot,d1,d2,d3\n1,5,6,7\n2,6,6.5,7.5\n3,4,7,6\n4,5.5,6.5,6\n")
    a = analyze_json(f, "--chart", "xbar-s", "--value", "d")
    assert [p["value"] for p in a["points"]] == pytest.approx([6.0, 20 / 3, 17 / 3, 6.0])
    e = analyze_json(f, "--chart", "ewma", "--value", "d", "--phase1", "3")
    assert [p["observed"] for p in e["points"]] == pytest.approx([6.0, 20 / 3, 17 / 3, 6.0])
    assert e["n_phase1"] == 3
    bad = run(f, "--chart", "xbar-r", "--value", "lot")
    assert bad.exit_code == 2
    assert "NAME1..NAMEn" in bad.output


def test_semicolon_csv_with_byte_order_mark_and_capability_warning(tmp_path: Path) -> None:
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 10.1, 9.9, 14.0]
    f = tmp_path / "excel.csv"
    f.write_text("\ufeffzeit;temp\n" + "".join(f"{i};{v}\n" for i, v in enumerate(values)), encoding="utf-8")
    doc = analyze_json(f, "--chart", "imr", "--value", "temp", "--usl", "12")
    assert doc["points"][9]["rules"][:1] == ["WE1"]
    warnings = doc["capability"]["warnings"]
    assert any("not in statistical control" in w for w in warnings)
    assert doc["capability"]["cp"] is None
    assert doc["capability"]["cpu"]["value"] > 0
