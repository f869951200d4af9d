"""A series' phase I readings, kept exactly and compactly while the live monitor learns its limits.

50,000 series may all be learning at once (bench/scale_cardinality.py: 360 readings each at 0.2 Hz), so the
bytes per kept reading set the ingestion process's peak memory. Readings on the wire are usually decimals of a
few places (a sensor's declared `decimals`), and such a value `v` is kept as the integer `q = v·10^k` in 4 bytes
(`array('i')`) as long as `q / 10^k` gives `v` back bit for bit; the first value that does not fit (more than
`MAX_PLACES` places, beyond ±2^31 once scaled, or −0.0) turns the buffer into float64, 8 bytes a reading, as
before. `values()` decodes with the same IEEE division, so the learned limits are those of the float64 values
(exact, not approximately equal: the reference comparisons are at 1e-12).

Why the division is exact: `q / 10^k` is the double nearest the decimal `q·10^-k` (IEEE division is correctly
rounded and `10^k` is exact for k ≤ 22). Raising `k` to fit a value with more places multiplies the kept integers
by `10^Δk`, which names the same decimals, so every earlier value still decodes to itself.
"""

from __future__ import annotations

import math
from array import array

import numpy as np

#: most decimal places kept as integers (a sensor declaring more is kept as float64)
MAX_PLACES = 6
_LIMIT = 2**31 - 1
_SCALES = [10.0**k for k in range(MAX_PLACES + 1)]


class PhaseOne:
    """`add(value)` until it returns True (`size` finite values kept); `values()` returns them as float64."""

    __slots__ = ("_floats", "_ints", "_places", "size")

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self._ints = array("i")  # values · 10^_places, while every value fits
        self._floats: array[float] | None = None  # every value, once one did not fit
        self._places = 0

    def __len__(self) -> int:
        return len(self._ints) if self._floats is None else len(self._floats)

    @property
    def bytes_per_value(self) -> int:
        return self._ints.itemsize if self._floats is None else self._floats.itemsize

    def add(self, value: float) -> bool:
        """Keep a finite value (others are ignored); True once `size` are kept."""
        if len(self) < self.size and value - value == 0.0:  # finite: inf − inf and nan − nan are nan
            if self._floats is not None:
                self._floats.append(value)
                return len(self._floats) >= self.size
            if -_LIMIT < value < _LIMIT:  # the common case first: the value has no more places than the others
                scale = _SCALES[self._places]
                q = round(value * scale)
                if q / scale == value and -_LIMIT <= q <= _LIMIT and (q or math.copysign(1.0, value) > 0):
                    self._ints.append(q)
                    return len(self._ints) >= self.size
            if not self._add_decimal(value):
                floats = array("d", self.values().tobytes())
                floats.append(value)
                self._floats, self._ints = floats, array("i")
        return len(self) >= self.size

    def _add_decimal(self, value: float) -> bool:
        """Keep `value` as an integer multiple of 10^-places (raising places if it needs more); False if it cannot."""
        if not abs(value) < _LIMIT or (value == 0.0 and math.copysign(1.0, value) < 0):
            return False
        for places in range(self._places, MAX_PLACES + 1):
            scale = _SCALES[places]
            q = round(value * scale)
            if -_LIMIT <= q <= _LIMIT and q / scale == value:
                break
        else:
            return False
        if places > self._places:
            factor = 10 ** (places - self._places)
            if self._ints and max(max(self._ints), -min(self._ints)) * factor > _LIMIT:
                return False
            self._ints = array("i", [x * factor for x in self._ints])
            self._places = places
        self._ints.append(q)
        return True

    def values(self) -> np.ndarray:
        if self._floats is not None:
            return np.frombuffer(self._floats, dtype=np.float64).copy()
        ints = np.frombuffer(self._ints, dtype=np.dtype(f"i{self._ints.itemsize}"))
        return ints.astype(np.float64) / _SCALES[self._places]
