"""Stream readings out of a store as CSV or Parquet, one chunk at a time (the only module importing pyarrow).

Both formats hold the same four columns: `topic` (the series id), `ts` (UTC, millisecond precision), `value`,
`unit`. CSV writes `ts` as ISO-8601 text and `value` with every digit of the float; Parquet writes one row group
per chunk, so a week of data never sits in memory at once, and keeps `ts` as a timestamp type that pandas and
polars read back as UTC datetimes.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any, Protocol

from smartfactory.errors import ConfigError
from smartfactory.model import Reading
from smartfactory.wire import format_ts

FORMATS = ("csv", "parquet")
COLUMNS = ("topic", "ts", "value", "unit")


class ChunkWriter(Protocol):
    def write(self, chunk: list[Reading]) -> None: ...
    def close(self) -> None: ...


class CsvChunks:
    def __init__(self, stream: IO[str]) -> None:
        self._out = csv.writer(stream, lineterminator="\n")
        self._out.writerow(COLUMNS)

    def write(self, chunk: list[Reading]) -> None:
        self._out.writerows((r.series, format_ts(r.ts_ms), repr(r.value), r.unit or "") for r in chunk)

    def close(self) -> None:
        pass


class ParquetChunks:
    def __init__(self, stream: IO[bytes]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow comes with streamlit
            raise ConfigError("Parquet export needs pyarrow: pip install pyarrow") from None
        self._pa: Any = pa
        self._schema = pa.schema(
            [
                ("topic", pa.string()),
                ("ts", pa.timestamp("ms", tz="UTC")),
                ("value", pa.float64()),
                ("unit", pa.string()),
            ]
        )
        self._writer = pq.ParquetWriter(stream, self._schema, compression="zstd")

    def write(self, chunk: list[Reading]) -> None:
        pa = self._pa
        columns = [
            pa.array([r.series for r in chunk], type=pa.string()),
            pa.array([r.ts_ms for r in chunk], type=pa.int64()).cast(self._schema.field("ts").type),
            pa.array([r.value for r in chunk], type=pa.float64()),
            pa.array([r.unit for r in chunk], type=pa.string()),
        ]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


def open_writer(fmt: str, text: IO[str], binary: IO[bytes]) -> ChunkWriter:
    """A writer for `fmt`: CSV goes to the text stream, Parquet to the binary one."""
    if fmt == "csv":
        return CsvChunks(text)
    if fmt == "parquet":
        return ParquetChunks(binary)
    raise ConfigError(f"unknown export format {fmt!r}: use csv or parquet")


def write_chunks(writer: ChunkWriter, chunks: Iterable[list[Reading]]) -> int:
    """Write every chunk, close the writer; return the number of readings written."""
    rows = 0
    try:
        for chunk in chunks:
            writer.write(chunk)
            rows += len(chunk)
    finally:
        writer.close()
    return rows
