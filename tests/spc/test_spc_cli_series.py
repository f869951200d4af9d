"""`spc analyze` on a file with several series, as `smartfactory export` writes it (topic, ts, value, unit)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from smartfactory import spc
from smartfactory.cli import main
from smartfactory.model import Reading
from smartfactory.storage.export import CsvChunks

PLANT = "acme/plant1/machining/line-1"
SERIES = {
    f"{PLANT}/cnc-01/telemetry/spindle_temp": (60.0, 0.5, "degC"),
    f"{PLANT}/cnc-01/telemetry/vibration": (2.0, 0.1, "mm/s"),
    f"{PLANT}/cnc-02/telemetry/spindle_temp": (55.0, 0.4, "degC"),
}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["spc", "analyze", *map(str, args)])


@pytest.fixture
def export_csv(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """Readings of three series interleaved in time, written by the export command's own CSV writer."""
    rng = np.random.default_rng(2)
    values = {name: rng.normal(mu, sd, 60) for name, (mu, sd, _) in SERIES.items()}
    readings = [
        Reading(name, 1_760_000_000_000 + 1000 * i, float(values[name][i]), SERIES[name][2])
        for i in range(60)
        for name in SERIES
    ]
    text = io.StringIO()
    writer = CsvChunks(text)
    writer.write(readings)
    writer.close()
    path = tmp_path / "readings.csv"
    path.write_text(text.getvalue())
    assert path.read_text().splitlines()[0] == "topic,ts,value,unit"
    return path, values


def test_several_series_are_refused_with_what_to_do(export_csv: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = export_csv
    res = run(path, "--chart", "imr", "--value", "value")
    assert res.exit_code == 2
    message = " ".join(res.output.split())
    assert "readings.csv holds 3 series in column 'topic'" in message
    assert "--series NAME" in message
    assert "--by topic" in message
    assert "cnc-01/telemetry/spindle_temp" in message  # a shortest unique name to copy


@pytest.mark.parametrize(
    "name",
    [f"{PLANT}/cnc-02/telemetry/spindle_temp", "cnc-02/telemetry/spindle_temp", "cnc-02/telemetry/spindle_temp/"],
)
def test_one_series_is_charted_alone(export_csv: tuple[Path, dict[str, np.ndarray]], name: str) -> None:
    path, values = export_csv
    full = f"{PLANT}/cnc-02/telemetry/spindle_temp"
    res = run(path, "--chart", "imr", "--value", "value", "--series", name, "--phase1", "30", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["series"] == full
    expected = json.loads(json.dumps(spc.analysis_to_dict("imr", spc.imr(values[full], 30))))
    assert {k: v for k, v in doc.items() if k != "series"} == expected
    assert doc["center"] == pytest.approx(float(np.mean(values[full][:30])), rel=1e-12)


@pytest.mark.parametrize(
    ("name", "message"),
    [("spindle_temp", "fits 2 series"), ("cnc-09/telemetry/spindle_temp", "no such series in column 'topic'")],
)
def test_an_ambiguous_or_unknown_series_is_an_error(
    export_csv: tuple[Path, dict[str, np.ndarray]], name: str, message: str
) -> None:
    path, _ = export_csv
    res = run(path, "--chart", "imr", "--value", "value", "--series", name)
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())


def test_by_charts_every_series(export_csv: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    path, values = export_csv
    args = [path, "--chart", "imr", "--value", "value", "--phase1", "30"]
    res = run(*args, "--by", "topic", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["by"] == "topic"
    assert [g["series"] for g in doc["groups"]] == sorted(SERIES)
    for group in doc["groups"]:
        alone = json.loads(run(*args, "--series", group["series"], "--format", "json").stdout)
        assert group == alone
        assert len(group["points"]) == values[group["series"]].size
    out = tmp_path / "points.csv"
    assert run(*args, "--by", "topic", "--format", "csv", "-o", out).exit_code == 0
    table = pd.read_csv(out)
    assert table.columns[0] == "series"
    assert table.groupby("series").size().to_dict() == {name: 60 + 59 for name in SERIES}  # I and MR points
    plot = run(*args, "--by", "topic", "--plot", tmp_path / "chart.html")
    assert plot.exit_code == 2
    assert "--series" in plot.output
    text = run(*args, "--by", "topic")
    assert text.exit_code == 0
    assert text.stdout.count("imr chart of readings.csv, series ") == 3


def test_a_single_series_file_and_row_numbers_after_selection(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("topic,ts,value,unit\n" + "".join(f"a/b,{i},{v},mm\n" for i, v in enumerate([1, 2, 3, 2, 1])))
    doc = json.loads(run(one, "--chart", "imr", "--value", "value", "--format", "json").stdout)
    assert doc["series"] == "a/b"
    assert doc["center"] == pytest.approx(1.8)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("topic,ts,value,unit\na/x,1,1.0,\na/y,1,oops,\na/x,2,2.0,\na/y,2,3.0,\na/x,3,x,\n")
    res = run(mixed, "--chart", "imr", "--value", "value", "--series", "a/x")
    assert res.exit_code == 2
    assert "data row 5: 'x' is not a number" in res.output  # the row in the file, not in the selection
    plain = tmp_path / "plain.csv"
    plain.write_text("value\n1\n2\n3\n")
    res = run(plain, "--chart", "imr", "--series", "a/x")
    assert res.exit_code == 2
    assert "no column named topic or series" in res.output
