"""Western Electric and Nelson run rules, vectorised over numpy arrays.

Rule ids and definitions (σ lines are the chart's zone lines, so they follow varying limits and are clipped
like the limits, e.g. at 0 on R/S/p/np/c/u charts; comparisons are strict unless said otherwise):

====  ===================================================================================================
WE1   one point beyond the 3σ limits (``x > UCL`` or ``x < LCL``)
WE2   2 of 3 consecutive points beyond the same 2σ line; the last point of the window must be one of them
WE3   4 of 5 consecutive points beyond the same 1σ line; the last point of the window must be one of them
WE4   8 points in a row strictly on one side of the centre line (the 8th and every later point of the run)
N1    = WE1
N2    9 points in a row strictly on one side of the centre line (9th and later)
N3    6 points in a row steadily increasing or decreasing (5 equal-signed differences; 6th and later)
N4    14 points in a row alternating up and down (14th and later)
N5    = WE2
N6    = WE3
N7    15 points in a row within the 1σ lines, inclusive (15th and later)
N8    8 points in a row beyond the 1σ lines (strict) with points on both sides; the last point of each
      such window
====  ===================================================================================================

These are the definitions of Western Electric (1956), *Statistical Quality Control Handbook*, and
Nelson, L. S. (1984), "The Shewhart control chart — tests for special causes", *J. Quality Technology*
16(4), as implemented by the R package qcc 3.0 (``qccRulesViolatingWER1..4``, ``qccRulesViolatingNEL1..8``;
Scrucca 2004). One deliberate difference: qcc compares *every* point of a WE2/WE3 window with the zone line
of the window's *last* point when limits vary; here each point is compared with its own zone line. With
constant limits both agree.

A NaN value never satisfies a condition: it breaks runs and does not count in windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from smartfactory.spc.errors import SpcError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

WE_RULES: tuple[str, ...] = ("WE1", "WE2", "WE3", "WE4")
NELSON_RULES: tuple[str, ...] = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
ALL_RULES: tuple[str, ...] = WE_RULES + NELSON_RULES

RULE_DESCRIPTIONS: dict[str, str] = {
    "WE1": "1 point beyond the 3σ limits",
    "WE2": "2 of 3 consecutive points beyond 2σ on the same side",
    "WE3": "4 of 5 consecutive points beyond 1σ on the same side",
    "WE4": "8 consecutive points on one side of the centre line",
    "N1": "1 point beyond the 3σ limits",
    "N2": "9 points in a row on one side of the centre line",
    "N3": "6 points in a row steadily increasing or decreasing",
    "N4": "14 points in a row alternating up and down",
    "N5": "2 of 3 consecutive points beyond 2σ on the same side",
    "N6": "4 of 5 consecutive points beyond 1σ on the same side",
    "N7": "15 points in a row within 1σ of the centre line",
    "N8": "8 points in a row beyond 1σ with points on both sides",
}

_GROUPS: dict[str, tuple[str, ...]] = {
    "all": ALL_RULES,
    "we": WE_RULES,
    "western-electric": WE_RULES,
    "nelson": NELSON_RULES,
    "none": (),
}


def parse_rules(spec: str | Iterable[str] | None) -> tuple[str, ...]:
    """Turn ``"all"``, ``"we"``, ``"nelson"``, ``"none"``, ``"WE1,N3"`` or a list of ids into rule ids.

    The result is ordered as in :data:`ALL_RULES` and free of duplicates. ``None`` means all rules.
    """
    if spec is None:
        return ALL_RULES
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    chosen: set[str] = set()
    for item in items:
        if not item:
            continue
        key = item.lower()
        if key in _GROUPS:
            chosen.update(_GROUPS[key])
        elif item.upper() in ALL_RULES:
            chosen.add(item.upper())
        elif item.upper().startswith("NE") and "N" + item[2:] in ALL_RULES:
            chosen.add("N" + item[2:])  # qcc/reference files spell Nelson rules NE1..NE8
        else:
            raise SpcError(f"unknown rule {item!r}: use all, we, nelson, none or ids among {', '.join(ALL_RULES)}")
    return tuple(r for r in ALL_RULES if r in chosen)


@dataclass(frozen=True)
class Zones:
    """Centre line and the 1σ, 2σ and 3σ lines (lo*/hi*), per point or as scalars."""

    center: FloatArray
    lo1: FloatArray
    hi1: FloatArray
    lo2: FloatArray
    hi2: FloatArray
    lo3: FloatArray
    hi3: FloatArray


@dataclass(frozen=True)
class RuleFlags:
    """Boolean flags, one row per rule id, one column per point."""

    ids: tuple[str, ...]
    flags: BoolArray  # shape (len(ids), n)

    @property
    def n(self) -> int:
        return int(self.flags.shape[1])

    def of(self, rule: str) -> BoolArray:
        """Flags of one rule (all False when the rule was not evaluated)."""
        if rule not in self.ids:
            return np.zeros(self.n, dtype=np.bool_)
        row: BoolArray = self.flags[self.ids.index(rule)]
        return row

    def indices(self, rule: str) -> list[int]:
        """1-based indices of the points violating ``rule``."""
        return [int(i) + 1 for i in np.flatnonzero(self.of(rule))]

    def any(self) -> BoolArray:
        """True where a point violates at least one evaluated rule."""
        if not self.ids:
            return np.zeros(self.n, dtype=np.bool_)
        return np.asarray(self.flags.any(axis=0), dtype=np.bool_)

    def per_point(self) -> list[tuple[str, ...]]:
        """Rule ids per point, in :data:`ALL_RULES` order (empty tuple when none)."""
        out: list[tuple[str, ...]] = [() for _ in range(self.n)]
        if not self.ids:
            return out
        rows, cols = np.nonzero(self.flags.T)  # sorted by point, then by rule
        for point, rule in zip(rows.tolist(), cols.tolist(), strict=True):
            out[point] = (*out[point], self.ids[rule])
        return out


def _index(n: int) -> IntArray:
    return np.arange(n, dtype=np.int64 if n >= 2**31 else np.int32)


def run_length(cond: BoolArray) -> IntArray:
    """Length of the run of True values ending at each position (0 where ``cond`` is False)."""
    idx = _index(cond.size)
    last_false = np.where(cond, idx.dtype.type(-1), idx)
    np.maximum.accumulate(last_false, out=last_false)
    return np.asarray(idx - last_false)


def side_run_length(sign: npt.NDArray[np.int8]) -> IntArray:
    """Length of the run of equal non-zero signs ending at each position (0 where ``sign`` is 0).

    One accumulate pass serves both sides (above/below the centre, rising/falling).
    """
    n = sign.size
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    idx = _index(n)
    start = np.empty_like(idx)
    start[0] = 0
    start[1:] = np.where(sign[1:] != sign[:-1], idx[1:], idx.dtype.type(0))
    np.maximum.accumulate(start, out=start)
    out = idx - start + 1
    out[sign == 0] = 0
    return np.asarray(out)


def window_count(cond: BoolArray, width: int) -> npt.NDArray[np.uint8]:
    """Number of True values in the window of ``width`` (≤ 255) points ending at each position.

    Positions without a full window get 0, so a windowed rule never fires before its window is complete.
    Shifted uint8 additions: for the short windows of the rules this beats a cumulative sum.
    """
    a = cond.view(np.uint8) if cond.dtype == np.bool_ else np.asarray(cond, dtype=np.uint8)
    n = a.size
    out = a.copy()
    for k in range(1, width):
        if k < n:
            out[k:] += a[: n - k]
    out[: width - 1] = 0
    return out


def _sign(pos: BoolArray, neg: BoolArray) -> npt.NDArray[np.int8]:
    """+1 where ``pos``, −1 where ``neg``, 0 elsewhere (NaN comparisons are False on both sides)."""
    return pos.view(np.int8) - neg.view(np.int8)


def _windowed(above: BoolArray, below: BoolArray, width: int, need: int) -> BoolArray:
    hit_above = above & (window_count(above, width) >= need)
    hit_below = below & (window_count(below, width) >= need)
    return np.asarray(hit_above | hit_below, dtype=np.bool_)


def evaluate(values: npt.ArrayLike, zones: Zones, rules: Iterable[str] | str = ALL_RULES) -> RuleFlags:
    """Evaluate the selected rules on ``values`` (1-D, phase I then phase II) against ``zones``.

    ``rules`` is anything :func:`parse_rules` accepts: ids, ``"we"``, ``"nelson"``, ``"all"``, ``"none"``.
    """
    ids = parse_rules(rules)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise SpcError("rules need a 1-D sequence of plotted statistics")
    n = x.size
    flags = np.zeros((len(ids), n), dtype=np.bool_)
    if n == 0 or not ids:
        return RuleFlags(ids, flags)
    want = set(ids)
    cache: dict[str, BoolArray] = {}

    def put(rule_ids: tuple[str, ...], value: BoolArray) -> None:
        for rule in rule_ids:
            if rule in want:
                flags[ids.index(rule)] = value

    if want & {"WE1", "N1"}:
        put(("WE1", "N1"), np.asarray((x > zones.hi3) | (x < zones.lo3), dtype=np.bool_))
    if want & {"WE2", "N5"}:
        put(("WE2", "N5"), _windowed(x > zones.hi2, x < zones.lo2, 3, 2))
    if want & {"WE3", "N6", "N8"}:
        cache["a1"] = np.asarray(x > zones.hi1, dtype=np.bool_)
        cache["b1"] = np.asarray(x < zones.lo1, dtype=np.bool_)
    if want & {"WE3", "N6"}:
        put(("WE3", "N6"), _windowed(cache["a1"], cache["b1"], 5, 4))
    if want & {"WE4", "N2"}:
        side = side_run_length(_sign(x > zones.center, x < zones.center))
        put(("WE4",), np.asarray(side >= 8, dtype=np.bool_))
        put(("N2",), np.asarray(side >= 9, dtype=np.bool_))
    if want & {"N3", "N4"} and n >= 2:
        d = x[1:] - x[:-1]
        if "N3" in want:
            trend = side_run_length(_sign(d > 0, d < 0)) >= 5
            put(("N3",), np.concatenate(([False], trend)))
        if "N4" in want and n >= 3:
            alternating = run_length((d[1:] * d[:-1]) < 0) >= 12
            put(("N4",), np.concatenate(([False, False], alternating)))
    if "N7" in want:
        inside = (x >= zones.lo1) & (x <= zones.hi1)
        put(("N7",), np.asarray(run_length(inside) >= 15, dtype=np.bool_))
    if "N8" in want:
        a1, b1 = cache["a1"], cache["b1"]
        mixed = (window_count(a1 | b1, 8) == 8) & (window_count(a1, 8) > 0) & (window_count(b1, 8) > 0)
        put(("N8",), np.asarray(mixed, dtype=np.bool_))
    return RuleFlags(ids, flags)


def zones_from(center: npt.ArrayLike, sigma_lines: dict[int, tuple[npt.ArrayLike, npt.ArrayLike]]) -> Zones:
    """Build :class:`Zones` from a centre and ``{1: (lo1, hi1), 2: (lo2, hi2), 3: (lcl, ucl)}``."""

    def arr(v: npt.ArrayLike) -> FloatArray:
        return np.asarray(v, dtype=np.float64)

    return Zones(
        center=arr(center),
        lo1=arr(sigma_lines[1][0]),
        hi1=arr(sigma_lines[1][1]),
        lo2=arr(sigma_lines[2][0]),
        hi2=arr(sigma_lines[2][1]),
        lo3=arr(sigma_lines[3][0]),
        hi3=arr(sigma_lines[3][1]),
    )
