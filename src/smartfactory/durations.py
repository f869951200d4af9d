"""Durations as people write them: the one parser for flags, scenario files and fault parameters (pure).

Syntax (documented in docs/settings.md, "Durations"):

    duration := number                 seconds: 90, 1.5
              | part (space? part)*    90s, 15m, 8h, 7d, 2w, 250ms, 1.5h, 1h30m, 1d 12h
    part     := number space? unit
    unit     := ms | s | m | h | d | w   (milliseconds … weeks; m is minutes; any letter case)
    number   := digits ("." digits)?

Parts go from the largest unit to the smallest and name each unit once (`1h30m`, not `30m1h` or `1m1m`), so a
typo is an error rather than a surprise. A duration is never negative or infinite. Used by `smartfactory simulate
--duration/--backfill`, `demo --duration/--backfill`, the `--since/--until` "that long ago" forms, scenario files
(`at`, `duration`, `backfill`, `*_s` parameters) and `smartfactory inject --param duration=…`.
"""

from __future__ import annotations

import math
import re

from smartfactory.errors import ConfigError

#: Seconds per unit, largest first (the order parts must follow).
UNITS_S: dict[str, float] = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
#: The forms to show in help texts and error messages.
EXAMPLES = "90, 90s, 15m, 8h, 7d, 1h30m"

_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|s|m|h|d|w)\s*")
_BARE = re.compile(rf"\s*({_NUMBER})\s*")
_RANK = {unit: rank for rank, unit in enumerate(UNITS_S)}


def parse_duration(value: object, *, unit_required: bool = False) -> float:
    """Seconds from a number or text such as `90`, `90s`, `15m`, `8h`, `7d`, `1h30m` (see the module docstring).

    `unit_required` refuses bare numbers (`90`): for places where a number alone means something else. Raises
    `ConfigError` saying which forms are accepted.
    """
    if isinstance(value, bool):  # YAML's `yes`/`no`; bool is an int subclass
        raise ConfigError(f"{value!r} is not a duration: write e.g. {EXAMPLES}")
    if isinstance(value, int | float) and not unit_required:
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value, unit_required)
    else:
        need = "with a unit (e.g. 15m, 2h, 7d)" if unit_required else f"e.g. {EXAMPLES}"
        raise ConfigError(f"cannot read duration {value!r}: write it {need}")
    if not math.isfinite(seconds):
        raise ConfigError(f"duration {value!r} is not finite")
    if seconds < 0:
        raise ConfigError(f"duration {value!r} is negative")
    return seconds


def _parse_text(value: str, unit_required: bool) -> float:
    text = value.lower()
    bare = _BARE.fullmatch(text)
    if bare is not None and not unit_required:
        return float(bare.group(1))
    seconds, pos, last_rank = 0.0, 0, -1
    while pos < len(text):
        part = _PART.match(text, pos)
        if part is None or part.end() == pos:
            break
        number, unit = part.groups()
        rank = _RANK[unit]
        if rank <= last_rank:
            raise ConfigError(f"cannot read duration {value!r}: give each unit once, largest first (e.g. 1h30m, 1d12h)")
        seconds += float(number) * UNITS_S[unit]
        last_rank, pos = rank, part.end()
    if pos != len(text) or last_rank < 0:
        forms = "with a unit, e.g. 15m, 2h, 7d, 1h30m" if unit_required else f"seconds or e.g. {EXAMPLES}"
        raise ConfigError(f"cannot read duration {value!r}: write {forms} (units ms, s, m, h, d, w)")
    return seconds


__all__ = ["EXAMPLES", "UNITS_S", "parse_duration"]
