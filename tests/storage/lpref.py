"""Reference readers for the tests: a line-protocol parser and a Flux string-literal reader, written from the
InfluxDB 2 line-protocol reference and the Flux spec, independent of the code under test."""

from __future__ import annotations

from dataclasses import dataclass

_KEY_ESCAPABLE = {",", "=", " ", "\\"}


@dataclass
class Point:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, object]
    ts: int


def _take_name(text: str, pos: int, stops: str) -> tuple[str, int]:
    """Read an unquoted name until an unescaped character of `stops`; `\\x` is `x` for escapable x."""
    out: list[str] = []
    while pos < len(text) and text[pos] not in stops:
        if text[pos] == "\\" and pos + 1 < len(text) and text[pos + 1] in _KEY_ESCAPABLE:
            out.append(text[pos + 1])
            pos += 2
        else:
            out.append(text[pos])
            pos += 1
    return "".join(out), pos


def _take_string(text: str, pos: int) -> tuple[str, int]:
    assert text[pos] == '"', text[pos:]
    pos += 1
    out: list[str] = []
    while text[pos] != '"':
        if text[pos] == "\\" and text[pos + 1] in '"\\':
            out.append(text[pos + 1])
            pos += 2
        else:
            out.append(text[pos])
            pos += 1
    return "".join(out), pos + 1


def _value(raw: str) -> object:
    if raw.endswith("i"):
        return int(raw[:-1])
    if raw in ("true", "false"):
        return raw == "true"
    return float(raw)


def parse_line(line: str) -> Point:
    assert "\n" not in line
    measurement, pos = _take_name(line, 0, ", ")
    tags: dict[str, str] = {}
    while line[pos] == ",":
        key, pos = _take_name(line, pos + 1, "=")
        value, pos = _take_name(line, pos + 1, ", ")
        tags[key] = value
    assert line[pos] == " "
    pos += 1
    fields: dict[str, object] = {}
    while True:
        key, pos = _take_name(line, pos, "=")
        pos += 1
        if line[pos] == '"':
            fields[key], pos = _take_string(line, pos)
        else:
            end = pos
            while line[end] not in ", ":
                end += 1
            fields[key], pos = _value(line[pos:end]), end
        if line[pos] == " ":
            break
        pos += 1
    return Point(measurement, tags, fields, int(line[pos + 1 :]))


_FLUX_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def read_flux_string(literal: str) -> str:
    """The value of one Flux string literal; fails on an unescaped quote or a live `${` interpolation."""
    assert literal.startswith('"'), literal
    assert literal.endswith('"'), literal
    body, out, pos = literal[1:-1], [], 0
    while pos < len(body):
        char = body[pos]
        if char == "\\":
            following = body[pos + 1]
            if following == "$":
                assert body[pos + 2] == "{", "only \\${ is an escape starting with $"
                out.append("${")
                pos += 3
                continue
            out.append(_FLUX_ESCAPES[following])
            pos += 2
            continue
        assert char != '"', f"unescaped quote in {literal!r}"
        assert body[pos : pos + 2] != "${", f"live interpolation in {literal!r}"
        out.append(char)
        pos += 1
    return "".join(out)
