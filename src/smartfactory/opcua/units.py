"""Engineering units as OPC UA `EUInformation` (OPC 10000-8, Data Access): UNECE Recommendation 20 common codes.

The `UnitId` of a common code is its (up to four) ASCII characters packed big-endian into an Int32, as the
specification prescribes ("MMT" → 0x4D4D54 = 5066068); a unit without a code gets `UnitId` -1, "not available".
Only the units the shipped simulators speak (and a few neighbours) are mapped; any other unit keeps its text as
`DisplayName`, which is all most clients show.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The namespace of UNECE unit ids (OPC 10000-8, EUInformation).
CEFACT_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
NO_UNIT_ID = -1

#: unit text as the wire format carries it → (UNECE common code, description)
UNECE: dict[str, tuple[str, str]] = {
    "°C": ("CEL", "degree Celsius"),
    "K": ("KEL", "kelvin"),
    "mm": ("MMT", "millimetre"),
    "m": ("MTR", "metre"),
    "µm": ("4H", "micrometre (micron)"),
    "mm/s": ("C16", "millimetre per second"),
    "m/min": ("2X", "metre per minute"),
    "rpm": ("RPM", "revolutions per minute"),
    "kW": ("KWT", "kilowatt"),
    "W": ("WTT", "watt"),
    "A": ("AMP", "ampere"),
    "V": ("VLT", "volt"),
    "Hz": ("HTZ", "hertz"),
    "g": ("GRM", "gram"),
    "kg": ("KGM", "kilogram"),
    "bar": ("BAR", "bar [unit of pressure]"),
    "kN": ("B47", "kilonewton"),
    "N": ("NEW", "newton"),
    "s": ("SEC", "second [unit of time]"),
    "ms": ("C26", "millisecond"),
    "min": ("MIN", "minute [unit of time]"),
    "%": ("P1", "percent"),
}


@dataclass(frozen=True, slots=True)
class EngineeringUnit:
    """The fields of an `EUInformation`."""

    namespace_uri: str
    unit_id: int
    display_name: str
    description: str


def unit_id(common_code: str) -> int:
    """The OPC UA `UnitId` of a UNECE common code: its characters packed big-endian, one byte each."""
    if not 1 <= len(common_code) <= 4 or not common_code.isascii():
        raise ValueError(f"a UNECE common code has 1 to 4 ASCII characters, not {common_code!r}")
    value = 0
    for char in common_code:
        value = (value << 8) | ord(char)
    return value


def engineering_unit(unit: str) -> EngineeringUnit:
    """The `EUInformation` of a unit text: with its UNECE id where one is known, else id -1 and the text alone."""
    known = UNECE.get(unit)
    if known is None:
        return EngineeringUnit(CEFACT_NAMESPACE, NO_UNIT_ID, unit, unit)
    code, description = known
    return EngineeringUnit(CEFACT_NAMESPACE, unit_id(code), unit, description)
