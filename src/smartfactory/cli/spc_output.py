"""Writers for `smartfactory spc analyze`: compact JSON streamed in chunks, and the per-point table as CSV/Parquet.

The JSON writer walks the lazy document of :func:`smartfactory.spc.report.analysis_document`: small values go
through :func:`json.dumps`; float arrays and the per-point columns are turned into text a chunk of rows at a
time with Arrow's vectorised kernels and written straight from Arrow's buffer, so a million points never become
a million Python dicts. Numbers use Arrow's shortest round-trip formatting (parsing gives back the very same
float; whole floats get ``.0`` so they read back as floats, as with :func:`json.dumps`); non-finite numbers are
``null``. ``json.loads`` of the output equals :func:`~smartfactory.spc.report.analysis_to_dict` (a test checks).

pyarrow is already loaded by pandas here; this module is the CLI's one door to it (Parquet export of stored
readings has its own in ``storage/export.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from smartfactory.spc.report import PointColumns

CHUNK = 1 << 17  # rows formatted per pass: big enough to amortise the kernel calls, small enough for memory
_PHASE = pa.array(["0", "1", "2"], type=pa.string())
_BOOL = pa.array(["false", "true"], type=pa.string())


def float_text(values: npt.NDArray[np.float64], *, whole_as_float: bool = True) -> pa.Array:
    """Each float as JSON text: shortest round trip, ``null`` when not finite; ``10`` → ``10.0`` unless
    ``whole_as_float`` is false (sizes print as integers when they are whole)."""
    x = np.ascontiguousarray(values, dtype=np.float64)
    text = pc.cast(pa.array(x, type=pa.float64()), pa.string())
    finite = np.isfinite(x)
    whole = finite & (x == np.trunc(x))  # Arrow prints these as "10" (or "1e+16"): Python's repr says "10.0"
    if whole_as_float and whole.any():
        if 8 * int(np.count_nonzero(whole)) < x.size:  # a few: take Python's own repr for them
            fixed = pa.array([repr(v) for v in x[whole].tolist()], type=pa.string())
            text = pc.replace_with_mask(text, pa.array(whole), fixed)
        else:  # counts and the like: append ".0" where Arrow wrote neither a point nor an exponent
            bare = pc.invert(pc.or_(pc.match_substring(text, "."), pc.match_substring(text, "e")))
            text = pc.if_else(bare, pc.binary_join_element_wise(text, ".0", ""), text)
    if not finite.all():
        text = pc.if_else(pa.array(finite), text, pa.scalar("null", type=pa.string()))
    return text


def int_text(values: npt.NDArray[np.int64]) -> pa.Array:
    return pc.cast(pa.array(np.ascontiguousarray(values)), pa.string())


class JsonWriter:
    """Writes a (lazy) document as compact, strict JSON to a binary stream."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def _put(self, text: str) -> None:
        self._out.write(text.encode("utf-8"))

    def _joined(self, text: pa.Array, skip: int) -> None:
        """Write every string of ``text`` back to back (Arrow keeps them contiguous), minus ``skip`` bytes."""
        if len(text) == 0:
            return
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        large = pa.types.is_large_string(text.type)
        width = 8 if large else 4
        offsets = np.frombuffer(
            text.buffers()[1], dtype=np.int64 if large else np.int32, count=len(text) + 1, offset=text.offset * width
        )
        data = text.buffers()[2]
        if data is not None:
            self._out.write(memoryview(data)[int(offsets[0]) + skip : int(offsets[-1])])

    def write(self, doc: Any) -> None:
        if isinstance(doc, dict):
            self._put("{")
            for i, (key, value) in enumerate(doc.items()):
                self._put(("," if i else "") + json.dumps(str(key)) + ":")
                self.write(value)
            self._put("}")
        elif isinstance(doc, list):
            self._put("[")
            for i, value in enumerate(doc):
                if i:
                    self._put(",")
                self.write(value)
            self._put("]")
        elif isinstance(doc, PointColumns):
            self._points(doc)
        elif isinstance(doc, np.ndarray):
            self._floats(doc)
        else:
            self._put(json.dumps(doc, allow_nan=False, separators=(",", ":")))

    def _floats(self, values: npt.NDArray[np.float64]) -> None:
        self._put("[")
        for start in range(0, values.size, CHUNK):
            text = pc.binary_join_element_wise(",", float_text(values[start : start + CHUNK]), "")
            self._joined(text, skip=1 if start == 0 else 0)
        self._put("]")

    def _points(self, cols: PointColumns) -> None:
        labels = cols.labels()
        table = ["[]"] * (max(labels) + 1)
        for code, ids in labels.items():
            table[code] = json.dumps(list(ids), separators=(",", ":"))
        rules = pa.array(table, type=pa.string())
        self._put("[")
        for start in range(0, len(cols), CHUNK):
            rows = slice(start, start + CHUNK)
            parts: list[Any] = [
                ',{"index":',
                int_text(cols.index[rows]),
                ',"value":',
                float_text(cols.value[rows]),
                ',"rules":',
                pc.take(rules, pa.array(np.ascontiguousarray(cols.codes[rows]))),
                ',"phase":',
                pc.take(_PHASE, pa.array(np.ascontiguousarray(cols.phase[rows]))),
            ]
            for key, column in cols.extra.items():
                parts.append(f',"{key}":')
                part = column[rows]
                if key == "signal":
                    parts.append(pc.take(_BOOL, pa.array(np.ascontiguousarray(part, dtype=np.uint8))))
                else:
                    parts.append(float_text(part, whole_as_float=key != "size"))
            parts.append("}")
            self._joined(pc.binary_join_element_wise(*parts, ""), skip=1 if start == 0 else 0)
        self._put("]")


def write_json(doc: Any, out: IO[bytes]) -> None:
    JsonWriter(out).write(doc)
    out.write(b"\n")


# -- the readable table ----------------------------------------------------------------------------------
def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list):
        return "varies"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def table_text(doc: dict[str, Any], title: str) -> str:
    """The readable table of one analysis (a materialised document)."""
    lines = [title, ""]
    for part in [doc, *([doc["companion"]] if "companion" in doc else [])]:
        lines.append(f"{part['chart']}: center {_fmt(part['center'])}  sigma {_fmt(part['sigma'])}  "
                     f"LCL {_fmt(part['lcl'])}  UCL {_fmt(part['ucl'])}  phase I/II {part['n_phase1']}/"
                     f"{part['n_phase2']}")  # fmt: skip
        lcl, ucl = part["lcl"], part["ucl"]
        if part["excluded"]:
            dropped = ", ".join(map(str, part["excluded"]))
            lines.append(f"phase I points left out of the estimates (--revise): {dropped}")
        if part.get("points_given") == "violations":
            lines.append(f"flagged points only (--points violations): {len(part['points'])}")
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
        df = f", {_fmt(cap['df_within'])} df within" if cap.get("df_within") is not None else ""
        lines.append(f"capability (n = {cap['n']}, sigma within {_fmt(cap['sigma_within'])}, overall "
                     f"{_fmt(cap['sigma_overall'])}, {cap['confidence']:.0%} intervals{df})")  # fmt: skip
        for key in ("cp", "cpk", "cpl", "cpu", "cpm", "pp", "ppk"):
            iv = cap[key]
            if iv is not None:
                lines.append(f"  {key:<4} {_fmt(iv['value']):>10}  [{_fmt(iv['lower'])}, {_fmt(iv['upper'])}]")
        norm = cap["normality"]
        lines.append(f"  normality: {norm['test']} p = {_fmt(norm['p_value'])}")
        lines.extend(f"  warning: {w}" for w in cap["warnings"])
    return "\n".join(lines).rstrip() + "\n"


# -- the per-point table -----------------------------------------------------------------------------------
TABLE_CHUNK = 1 << 20  # rows per Parquet row group / CSV batch
_FIXED = (("chart", pa.string()), ("index", pa.int64()), ("phase", pa.int64()), ("value", pa.float64()),
          ("center", pa.float64()), ("lcl", pa.float64()), ("ucl", pa.float64()), ("rules", pa.string()))  # fmt: skip
_EXTRA = {"size": pa.float64(), "signal": pa.bool_(), "observed": pa.float64(), "upper": pa.float64(),
          "lower": pa.float64()}  # fmt: skip


def _parts(docs: list[tuple[str | None, dict[str, Any]]]) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(series, plotted statistic, chart document) of every chart: each main chart, then its companion."""
    out: list[tuple[str | None, str, dict[str, Any]]] = []
    for series, doc in docs:
        out.append((series, str(doc["statistic"]), doc))
        if "companion" in doc:
            out.append((series, str(doc["companion"]["chart"]), doc["companion"]))
    return out


def _schema(parts: list[tuple[str | None, str, dict[str, Any]]]) -> pa.Schema:
    fields = [("series", pa.string())] if any(series is not None for series, _, _ in parts) else []
    present = {key for _, _, part in parts for key in part["points"].extra}
    return pa.schema([*fields, *_FIXED, *((k, t) for k, t in _EXTRA.items() if k in present)])


def _line_at(line: float | npt.NDArray[np.float64] | None, index: npt.NDArray[np.int64]) -> pa.Array:
    if isinstance(line, np.ndarray):
        return pa.array(np.ascontiguousarray(line[index - 1]), type=pa.float64())
    return pa.array(np.full(index.size, np.nan if line is None else float(line)), type=pa.float64())


def _batches(schema: pa.Schema, series: str | None, statistic: str, part: dict[str, Any]) -> Iterator[Any]:
    cols: PointColumns = part["points"]
    labels = cols.labels()
    table = [""] * (max(labels) + 1)
    for code, ids in labels.items():
        table[code] = " ".join(ids)
    rules = pa.array(table, type=pa.string())
    for start in range(0, len(cols), TABLE_CHUNK):
        rows = slice(start, start + TABLE_CHUNK)
        index = cols.index[rows]
        k = index.size
        columns: dict[str, pa.Array] = {
            "series": pa.repeat(pa.scalar(series, type=pa.string()), k),
            "chart": pa.repeat(pa.scalar(statistic, type=pa.string()), k),
            "index": pa.array(np.ascontiguousarray(index), type=pa.int64()),
            "phase": pa.array(cols.phase[rows].astype(np.int64), type=pa.int64()),
            "value": pa.array(np.ascontiguousarray(cols.value[rows]), type=pa.float64()),
            "center": _line_at(part["center"], index),
            "lcl": _line_at(part["lcl"], index),
            "ucl": _line_at(part["ucl"], index),
            "rules": pc.take(rules, pa.array(np.ascontiguousarray(cols.codes[rows]))),
        }
        for key, column in cols.extra.items():
            columns[key] = pa.array(np.ascontiguousarray(column[rows]), type=_EXTRA[key])
        arrays = [columns.get(f.name, pa.nulls(k, type=f.type)) for f in schema]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_points(docs: list[tuple[str | None, dict[str, Any]]], fmt: str, out: IO[bytes]) -> None:
    """One row per point of every chart of every analysis, written a million rows at a time: series (with a
    series column or --by), chart, index, phase, value, center, lcl, ucl, rules (space-separated ids, empty
    when none) and the charts' optional fields. CSV has a header row and quotes text; Parquet is zstd."""
    parts = _parts(docs)
    schema = _schema(parts)
    writer: Any
    if fmt == "parquet":
        import pyarrow.parquet as pq

        writer = pq.ParquetWriter(out, schema, compression="zstd")
    else:
        import pyarrow.csv as pacsv

        writer = pacsv.CSVWriter(out, schema)
    try:
        for series, statistic, part in parts:
            for batch in _batches(schema, series, statistic, part):
                writer.write_batch(batch)
    finally:
        writer.close()
