"""`smartfactory export --format csv|parquet`: same rows in both formats, filters, streaming in chunks."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.model import Reading
from smartfactory.storage.export import CsvChunks, ParquetChunks, open_writer, write_chunks
from smartfactory.storage.sqlite import SqliteStorage

T0 = 1_795_341_600_000
M1 = "acme/plant1/machining/line-1/cnc-01"
M2 = "acme/plant1/moulding/line-2/imm-01"


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'export.db'}"
    store = SqliteStorage(url)
    store.write_readings([Reading(f"{M1}/telemetry/temp", T0 + i, 0.1 * i, "degC") for i in range(120)])
    store.write_readings([Reading(f"{M2}/telemetry/pressure", T0 + i, -1.0 * i) for i in range(30)])
    store.close()
    return url


def run(*args: str) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(main, ["export", *args])
    return result.exit_code, result.stdout_bytes, result.stderr


def test_csv_and_parquet_hold_the_same_rows(url: str, tmp_path: Path) -> None:
    code, out, err = run("--store", url)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert len(rows) == 150
    assert "exported 150 readings" in err

    target = tmp_path / "readings.parquet"
    code, out, err = run("--store", url, "--format", "parquet", "--output", str(target))
    assert code == 0, err
    assert out == b""
    frame = pq.read_table(target).to_pandas()
    assert list(frame.columns) == ["topic", "ts", "value", "unit"]
    assert str(frame["ts"].dtype) == "datetime64[ms, UTC]"
    assert len(frame) == 150
    by_csv = pd.DataFrame(rows)
    assert frame["topic"].tolist() == by_csv["topic"].tolist()
    assert frame["value"].tolist() == [float(v) for v in by_csv["value"]]
    assert [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" for t in frame["ts"]] == by_csv["ts"].tolist()
    assert frame["unit"].iloc[0] == "degC"
    assert frame.loc[frame["topic"].str.contains("pressure"), "unit"].isna().all()


def test_parquet_to_stdout_and_filters(url: str) -> None:
    code, out, err = run(
        "--store", url, "--format", "parquet", "--machine", "cnc-01", "--since", "2026-11-22T10:00:00.100Z"
    )
    assert code == 0, err
    frame = pq.read_table(io.BytesIO(out)).to_pandas()
    assert len(frame) == 20
    assert set(frame["topic"]) == {f"{M1}/telemetry/temp"}


def test_csv_to_a_file(url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, _, err = run("--store", url, "--sensor", "pressure", "-o", str(target))
    assert code == 0, err
    lines = target.read_text().splitlines()
    assert lines[0] == "topic,ts,value,unit"
    assert len(lines) == 31


def test_dead_letters_are_csv_only(url: str) -> None:
    code, _, err = run("--store", url, "--deadletter", "--format", "parquet")
    assert code == 2
    assert "CSV only" in err


def test_writers_stream_one_row_group_per_chunk(tmp_path: Path) -> None:
    chunks = [[Reading(f"{M1}/telemetry/t", T0 + 10 * k + i, float(i)) for i in range(10)] for k in range(5)]
    target = tmp_path / "chunks.parquet"
    with target.open("wb") as handle:
        assert write_chunks(ParquetChunks(handle), iter(chunks)) == 50
    assert pq.ParquetFile(target).num_row_groups == 5
    text = io.StringIO()
    assert write_chunks(CsvChunks(text), iter(chunks[:2])) == 20
    assert text.getvalue().count("\n") == 21
    with pytest.raises(Exception, match="csv or parquet"):
        open_writer("xlsx", text, io.BytesIO())


def test_export_pulls_chunks_lazily(tmp_path: Path) -> None:
    """The writer asks for the next chunk only after writing the last: memory holds one chunk."""
    pulled: list[int] = []

    def chunks() -> object:
        for k in range(3):
            pulled.append(k)
            yield [Reading(f"{M1}/telemetry/t", T0 + k, 1.0)]

    written: list[int] = []

    class Spy(CsvChunks):
        def write(self, chunk: list[Reading]) -> None:
            written.append(len(pulled))
            super().write(chunk)

    write_chunks(Spy(io.StringIO()), chunks())  # type: ignore[arg-type]
    assert written == [1, 2, 3]
