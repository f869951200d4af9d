"""Series and machine ids on the read side: parsed with the wire's functions, labelled, grouped by line id."""

from __future__ import annotations

from pathlib import Path

from smartfactory.model import Reading
from smartfactory.query import series
from smartfactory.storage.sqlite import SqliteStorage

CNC = "acme/plant1/machining/line-1/cnc-01"
PRESS = "acme/plant1/pressing/line-1/press-01"  # another area's line-1


def test_ids_and_labels() -> None:
    temp = f"{CNC}/telemetry/spindle_temp"
    parts = series.split_series(temp)
    assert (parts.machine, parts.sensor, parts.line) == (CNC, "spindle_temp", "machining/line-1")
    assert series.series_label(temp) == "machining/line-1 · cnc-01 · spindle_temp"
    assert (series.line_of(CNC), series.short(CNC), series.line_and_name(CNC)) == (
        "machining/line-1",
        "cnc-01",
        "line-1/cnc-01",
    )
    # ids a store may hold without ingestion having checked them: usable, never a crash
    assert series.split_series("not/a/series") == series.SeriesParts("not/a/series", "", "not/a/series")
    assert series.series_label("odd") == "odd"
    assert (series.line_of("press"), series.short("press")) == ("press", "press")


def test_two_areas_line_1_are_two_lines() -> None:
    grouped = series.machines_by_line([PRESS, CNC, f"{CNC[:-2]}02"])
    assert grouped == {
        "machining/line-1": [CNC, f"{CNC[:-2]}02"],
        "pressing/line-1": [PRESS],
    }


def test_first_readings_and_oldest(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 's.db'}")
    try:
        a, b = f"{CNC}/telemetry/a", f"{PRESS}/telemetry/b"
        store.write_readings([Reading(a, 1000 + i, float(i)) for i in range(10)])
        store.write_readings([Reading(b, 500 + i, float(i)) for i in range(3)])
        first = series.first_readings(store, a, 4)
        assert [r.ts_ms for r in first] == [1000, 1001, 1002, 1003]
        assert series.first_readings(store, "no series", 4) == []
        assert series.oldest_ms(store, store.list_series()) == 500
        assert series.series_machines(store.list_series()) == {CNC, PRESS}
        assert [i.sensor for i in series.series_of_machine(store.list_series(), PRESS)] == ["b"]
    finally:
        store.close()
