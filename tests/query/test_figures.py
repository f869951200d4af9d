"""The one control-chart renderer (`query.figures`): the CLI's `--plot` figure and the dashboard's SPC chart."""

from __future__ import annotations

import numpy as np

from smartfactory import spc
from smartfactory.query import figures


def test_cli_figure_numbers_points_and_marks_phase_one() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(10, 1, 40)
    x[30] = 20.0
    pair = spc.imr(x, phase1=25)
    fig = figures.figure(pair, "spindle")
    assert fig.layout.title.text == "spindle"
    titles = [a.text for a in fig.layout.annotations]
    assert {"Individuals (I)", "Moving range (MR)", "phase I"} <= set(titles)
    individuals = next(t for t in fig.data if t.name == "Individuals (I)")
    assert list(individuals.x) == list(range(1, 41))  # point numbers
    moving = next(t for t in fig.data if t.name == "Moving range (MR)")
    assert moving.x[0] == 2  # a moving range stands beside its second reading
    band = next(s for s in fig.layout.shapes if s.type == "rect" and s.x0 == 0.5)
    assert band.x1 == 25.5  # the first 25 points are phase I
    marks = next(t for t in fig.data if str(t.name).startswith("violations"))
    assert 31 in list(marks.x)
    assert any("point 31" in h and "WE1" in h for h in marks.hovertext)
    assert {"UCL", "LCL", "CL"} <= {a.text.split()[0] for a in fig.layout.annotations}


def test_time_axis_and_a_given_layout() -> None:
    x = np.tile([1.0, 2.0, 3.0], 10)
    chart = spc.ewma(x, phase1=10)
    times = (np.arange(30) * 1000).astype("datetime64[ms]")
    fig = figures.control_chart([figures.Panel(chart, times)], layout={"height": 123})
    assert fig.layout.height == 123
    assert fig.layout.xaxis.type == "date"
    assert next(a.text for a in fig.layout.annotations) == figures.TITLES["ewma"]
