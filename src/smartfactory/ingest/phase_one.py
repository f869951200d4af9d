"""A series' phase I readings, kept exactly and compactly while the live monitor learns its limits.

50,000 series may all be learning at once (bench/scale_cardinality.py: 500 readings each, one every 5 s), so the
bytes per kept reading set the ingestion process's peak memory. Readings on the wire are usually decimals of a
few places (a sensor's declared `decimals`), and such a value `v` is the integer `q = v·10^k` exactly when
`q / 10^k` gives `v` back bit for bit. A phase I of an in-control process stays near its first reading, so what is
kept is `q − q₀`, the offset from the first one: 2 bytes (`array('h')`) while every offset is within ±32,767
(a spread of ±32.767 units at three places), 4 bytes (`array('i')`) within ±2^31, and 8 bytes (float64, every value
as it came) from the first value that does not fit (more than `MAX_PLACES` places, beyond ±2^31 itself, −0.0, or
an offset beyond ±2^31). `values()` decodes `(q₀ + offset) / 10^k` with the same IEEE division, so the learned
limits are those of the float64 values (exact, not approximately equal: the reference comparisons are at 1e-12).

Why the division is exact: `q / 10^k` is the double nearest the decimal `q·10^-k` (IEEE division is correctly
rounded and `10^k` is exact for k ≤ 22). Raising `k` to fit a value with more places multiplies the kept integers
and `q₀` by `10^Δk`, which names the same decimals, so every earlier value still decodes to itself.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

#: most decimal places kept as integers (a sensor declaring more is kept as float64)
MAX_PLACES = 6
_LIMIT = 2**31 - 1
_WIDEST = {"h": 2**15 - 1, "i": 2**31 - 1}  # the offsets each integer array holds, narrowest first
_SCALES = [10.0**k for k in range(MAX_PLACES + 1)]


class PhaseOne:
    """`add(value)` until it returns True (`size` finite values kept); `values()` returns them as float64."""

    __slots__ = ("_base", "_floats", "_offsets", "_places", "size")

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self._offsets = array("h")  # values · 10^_places − _base, while every value fits
        self._base = 0  # the first value · 10^_places
        self._floats: array[float] | None = None  # every value, once one did not fit
        self._places = 0

    def __len__(self) -> int:
        return len(self._offsets) if self._floats is None else len(self._floats)

    @property
    def bytes_per_value(self) -> int:
        return self._offsets.itemsize if self._floats is None else self._floats.itemsize

    def add(self, value: float) -> bool:
        """Keep a finite value (others are ignored); True once `size` are kept."""
        if len(self) < self.size and value - value == 0.0:  # finite: inf − inf and nan − nan are nan
            if self._floats is not None:
                self._floats.append(value)
                return len(self._floats) >= self.size
            offsets = self._offsets
            if offsets and -_LIMIT < value < _LIMIT:  # the common case: no more places, a small offset
                scale = _SCALES[self._places]
                q = round(value * scale)
                offset, widest = q - self._base, _WIDEST[offsets.typecode]
                if q / scale == value and -widest <= offset <= widest and (q or math.copysign(1.0, value) > 0):
                    offsets.append(offset)
                    return len(offsets) >= self.size
            if not self._add_decimal(value):
                floats = array("d", self.values().tobytes())
                floats.append(value)
                self._floats, self._offsets = floats, array("h")
        return len(self) >= self.size

    def _add_decimal(self, value: float) -> bool:
        """Keep `value`, raising the places or widening the offsets as it needs; False if it cannot be kept so."""
        if not abs(value) < _LIMIT or (value == 0.0 and math.copysign(1.0, value) < 0):
            return False
        for places in range(self._places, MAX_PLACES + 1):
            scale = _SCALES[places]
            q = round(value * scale)
            if q / scale == value:
                break
        else:
            return False
        factor = 10 ** (places - self._places)
        base = self._base * factor if self._offsets else q
        offsets = [x * factor for x in self._offsets]
        offsets.append(q - base)
        widest = max(max(offsets), -min(offsets))
        codes = [c for c, limit in _WIDEST.items() if limit >= widest and limit >= _WIDEST[self._offsets.typecode]]
        if not codes:
            return False
        self._offsets, self._base, self._places = array(codes[0], offsets), base, places
        return True

    def values(self) -> np.ndarray:
        if self._floats is not None:
            return np.frombuffer(self._floats, dtype=np.float64).copy()
        offsets = np.frombuffer(self._offsets, dtype=np.dtype(f"i{self._offsets.itemsize}"))
        return (offsets.astype(np.int64) + self._base).astype(np.float64) / _SCALES[self._places]
