"""A student's hook that returns something other than a number: only that value is dropped, the others of the
same instant are kept, and the warning names the student's file and the line that sets the value (issue 16)."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import discover
from smartfactory.sim.records import PartRec, Sample
from tests.sim.conftest import T0, one_machine_plant

OVEN = '''
from smartfactory.sim import Characteristic, Context, Machine, Sensor


class Oven(Machine):
    """An oven whose code returns text for one sensor and one characteristic."""

    sample_interval_s = 1.0
    ideal_cycle_s = 5.0
    sensors = {"temp": Sensor("C", nominal=180.0, sd=0.5), "fan": Sensor("rpm", nominal=900.0, sd=5.0)}
    quality = {"weight": Characteristic("g", target=500.0, sd=1.0), "height": Characteristic("mm", target=40.0, sd=0.1)}

    def sample(self, ctx: Context) -> dict[str, float]:
        values = super().sample(ctx)
        values["temp"] = "hot"
        return values

    def measure(self, ctx: Context) -> dict[str, float]:
        values = super().measure(ctx)
        values["height"] = float("nan") if ctx.parts_made % 2 else None
        return values
'''


@pytest.fixture
def oven_sim(tmp_path: Path) -> tuple[Simulation, Path]:
    folder = tmp_path / "simulators"
    folder.mkdir()
    source = folder / "oven.py"
    source.write_text(textwrap.dedent(OVEN), encoding="utf-8")
    catalog = discover(folder)
    assert not catalog.problems, catalog.problems
    return Simulation(one_machine_plant("oven"), catalog, seed=1, start_ms=T0), source


def line_of(source: Path, text: str) -> int:
    return next(i for i, line in enumerate(source.read_text().splitlines(), 1) if text in line)


def test_a_string_reading_is_dropped_alone_and_the_warning_names_file_and_line(
    oven_sim: tuple[Simulation, Path], caplog: pytest.LogCaptureFixture
) -> None:
    sim, source = oven_sim
    with caplog.at_level(logging.WARNING, logger="smartfactory.sim"):
        records = sim.advance(T0 + 30_000)
    ticks = [r for r in records if isinstance(r, Sample) and r.tick]
    assert len(ticks) == 30
    assert all(set(r.values) == {"fan"} for r in ticks)  # temp dropped, fan kept at every instant
    assert all(isinstance(v, float) for r in ticks for v in r.values.values())
    parts = [r for r in records if isinstance(r, PartRec)]
    assert parts
    assert all(set(p.measurements) == {"weight"} for p in parts)  # None and NaN heights dropped, weight kept
    warnings = [r.getMessage() for r in caplog.records if "not a finite number" in r.getMessage()]
    assert len(warnings) == 2  # once per signal, not once per reading
    temp, height = warnings
    temp_line, height_line = line_of(source, 'values["temp"] = "hot"'), line_of(source, 'values["height"]')
    assert f"{source}:{temp_line}" in temp
    assert "Oven.sample returned 'hot' for 'temp'" in temp
    assert f"{source}:{height_line}" in height
    assert "Oven.measure" in height
