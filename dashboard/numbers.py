"""How the dashboard writes numbers (pure: no Streamlit): every value to its characteristic's resolution.

A machine declares, per signal, how many decimals its values carry (`SignalInfo.decimals` in the birth; the
simulator rounds to it). Shown with fewer digits a diameter of 24.9961–25.0029 mm reads "25 mm" three times, and
a spec limit of 25.015 reads 25.02; shown with more, the digits are noise. So:

- a **value** (a reading, a part measurement, a minimum or maximum) carries the signal's declared decimals;
- a signal that declares none but has spec limits gets enough decimals to show a hundredth of its tolerance,
  (USL − LSL) / 100: 24.985–25.015 mm → 0.0003 mm → 4 decimals. A tolerance is the resolution that matters for
  a characteristic, and a gauge should resolve at least a tenth of it (the "10 % rule" of measurement system
  analysis, AIAG MSA 4th ed.); one more digit leaves room for the statistics computed from it;
- a **statistic** computed from many values (a mean, a centre line, control limits, σ) carries one decimal
  more than the values (the usual rule for reporting derived figures, e.g. ASTM E29 / Montgomery's examples);
- a **spec limit** is shown as it was declared (25.015, 495), never rounded to look like another number;
- a signal with neither decimals nor spec limits keeps four significant digits (12,000 rpm, 62.14 °C).

Numbers from 1,000 on are written with thousands separators. A missing value (None, NaN) is "—", never "nan".
"""

from __future__ import annotations

import math

import numpy as np

from smartfactory.wire import SignalInfo

#: Digits for a number nothing is known about (significant digits).
SIGNIFICANT = 4
#: The most decimals a derived resolution asks for (a tolerance of 1e-6 and below is not a machine's).
MAX_DECIMALS = 8
MISSING = "—"


def decimals_from_spec(lsl: float | None, usl: float | None) -> int | None:
    """Decimals that show a hundredth of the tolerance USL − LSL (None without both limits)."""
    if lsl is None or usl is None or not usl > lsl:
        return None
    step = (usl - lsl) / 100.0
    return min(MAX_DECIMALS, max(0, math.ceil(-math.log10(step) - 1e-9)))


def resolution(signal: SignalInfo | None) -> int | None:
    """The decimals a signal's values carry: declared, else from its spec width, else unknown (None)."""
    if signal is None:
        return None
    if signal.decimals is not None:
        return signal.decimals
    return decimals_from_spec(signal.lsl, signal.usl)


def statistic_decimals(decimals: int | None) -> int | None:
    """Decimals of a statistic computed from values with `decimals`: one more."""
    return None if decimals is None else decimals + 1


def _missing(value: float | None) -> bool:
    return value is None or not math.isfinite(float(value))


def fmt(value: float | None, decimals: int | None = None, unit: str | None = None) -> str:
    """`value` with `decimals` decimals (four significant digits when None) and its unit: `25.0029 mm`."""
    if _missing(value):
        return MISSING
    assert value is not None
    v = float(value)
    if decimals is not None:
        text = f"{v:,.{decimals}f}"
    elif abs(v) >= 1000:
        text = f"{v:,.0f}"
    else:
        text = f"{v:.{SIGNIFICANT}g}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]  # "-0.000" is a rounding artefact, not a negative reading
    return f"{text} {unit}" if unit else text


def fmt_stat(value: float | None, decimals: int | None = None, unit: str | None = None) -> str:
    """A statistic (mean, centre, limit, σ) of values with `decimals`: one decimal more (see the module)."""
    return fmt(value, statistic_decimals(decimals), unit)


def fmt_declared(value: float | None, unit: str | None = None) -> str:
    """A declared number (a spec limit, a target) as written: the shortest text that reads back the same."""
    if _missing(value):
        return MISSING
    assert value is not None
    text = np.format_float_positional(float(value), trim="-")
    return f"{text} {unit}" if unit else text


def printf(decimals: int | None) -> str:
    """The printf format of a value with `decimals` (for Streamlit's number inputs and table columns)."""
    return "%.4g" if decimals is None else f"%.{decimals}f"


def input_decimals(decimals: int | None, *declared: float | None) -> int | None:
    """Decimals for a number input that must show `declared` values exactly and the resolution `decimals`."""
    needed = [len(fmt_declared(v).partition(".")[2]) for v in declared if not _missing(v)]
    if decimals is None and not needed:
        return None
    return max([decimals or 0, *needed])
