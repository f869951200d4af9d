"""Issue 13: a reading of -0.0 is the same reading in both backends.

SQLite cannot keep the sign (its REAL storage writes a whole-valued float as an integer), InfluxDB's line protocol
carries it (`value=-0.0`). So the wire reads -0.0 as 0.0 (wire.py `_finite`), and both store 0.0.
"""

from __future__ import annotations

import math
from pathlib import Path

from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.model import Reading
from smartfactory.storage.lineprotocol import ReadingLines
from smartfactory.storage.sqlite import SqliteStorage

NOW = 1_795_341_600_000
SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/t"


def _sign(value: float) -> float:
    return math.copysign(1.0, value)


def test_sqlite_itself_does_not_keep_the_sign_of_zero(tmp_path: Path) -> None:
    """Why the wire decides: a -0.0 written past the decoder comes back from a real SQLite file as 0.0."""
    store = SqliteStorage(f"sqlite:///{tmp_path / 'zero.db'}")
    try:
        assert store.write_readings([Reading(SERIES, NOW, -0.0)]) == 1
        (value,) = store.read_series(SERIES)["value"]
    finally:
        store.close()
    assert (value, _sign(value)) == (0.0, 1.0)


def test_a_decoded_minus_zero_is_stored_as_0_0_by_sqlite_and_sent_as_0_0_to_influxdb(tmp_path: Path) -> None:
    """Before: the decoder passed -0.0 on, SQLite stored 0.0 and the InfluxDB line said `value=-0.0`."""
    decoded = Decoder().decode(SERIES, b'{"ts": %d, "value": -0.0}' % NOW, NOW)
    assert isinstance(decoded, Decoded)
    (line,) = ReadingLines().lines(decoded.readings)
    influx_value = line.rsplit(" ", 2)[1].removeprefix("value=")

    url = f"sqlite:///{tmp_path / 'zero.db'}"
    store = SqliteStorage(url)
    try:
        store.write_readings(decoded.readings)
    finally:
        store.close()
    reopened = SqliteStorage(url)  # read back from the file, not from anything the writer holds
    try:
        (sqlite_value,) = [r.value for chunk in reopened.iter_readings() for r in chunk]
        # the same reading again (a QoS 1 redelivery) is a duplicate, not a conflict that rewrites the value
        assert reopened.write_readings(decoded.readings) == 0
        assert reopened.conflicts == 0
    finally:
        reopened.close()
    assert influx_value == repr(sqlite_value) == "0.0"
    assert _sign(sqlite_value) == 1.0
