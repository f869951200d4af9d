"""The series picker (dashboard/seriespick.py, issue #13): one plain selectbox for a small plant; a search box, a
page number and one page of options for a large one, keeping the choice, the default and a linked series."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard.seriespick import PAGE_SIZE, matching, page_count
from streamlit.testing.v1 import AppTest

from smartfactory.model import Reading
from smartfactory.query.series import series_label
from smartfactory.storage.sqlite import SqliteStorage
from tests.dashboard.conftest import APP, T0


def synthetic(count: int) -> list[str]:
    """`count` series ids on seven lines, one sensor per machine, sorted as a store lists them."""
    return [f"acme/plant1/area-{i % 3}/line-{i % 7}/m-{i:05d}/telemetry/temp" for i in range(count)]


def picker(count: int, default_at: int | None = None) -> None:
    """The app under test: a bound picker over `count` synthetic series; what it returned, as markdown."""
    import streamlit as st
    from dashboard.seriespick import pick_series

    from tests.dashboard.test_seriespick import synthetic

    names = synthetic(count)
    default = None if default_at is None else names[default_at]
    chosen = pick_series(names, key="pick", default=default, bind_query_params=True)
    st.markdown(f"chosen: {chosen}")


def run(count: int, default_at: int | None = None, **query: str) -> AppTest:
    app = AppTest.from_function(picker, args=(count, default_at), default_timeout=30)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def shown(app: AppTest) -> list[str]:
    return list(app.selectbox(key="pick").options)


def labels(names: list[str]) -> list[str]:
    return [series_label(n) for n in names]


# ------------------------------------------------------------------------------------------ pure parts


def test_search_matches_every_word_in_the_id_or_the_label_ignoring_case() -> None:
    names = synthetic(30)
    assert matching(names, "") is names
    assert matching(names, "  M-0001 ") == names[10:20]  # `m-0001` in m-00010 … m-00019
    assert matching(names, "line-2 m-0001") == [names[16]]  # both words: 16 is the one on line-2 (16 % 7)
    assert matching(names, "area-1/line-3") == [n for n in names if "area-1/line-3" in n]  # a part of the id
    assert matching(names, "line-3 · m-00010") == [names[10]]  # a part of the label only
    assert matching(names, "nowhere") == []


def test_page_count() -> None:
    assert [page_count(n, 200) for n in (0, 1, 200, 201, 5000)] == [1, 1, 1, 2, 25]


# ------------------------------------------------------------------------------------------ small plant


def test_few_series_are_one_plain_selectbox() -> None:
    app = run(5)
    assert len(app.selectbox) == 1
    assert len(app.text_input) == 0
    assert len(app.number_input) == 0
    assert shown(app) == labels(synthetic(5))
    assert app.selectbox(key="pick").value == synthetic(5)[0]


# ------------------------------------------------------------------------------------------ large plant


def test_many_series_show_one_page_with_a_search_box() -> None:
    names = synthetic(5000)
    app = run(5000)
    assert shown(app) == labels(names[:PAGE_SIZE])  # the default (the first series) heads its own page
    assert app.selectbox(key="pick").value == names[0]
    assert app.caption[0].value == "5,000 of 5,000 series match · showing page 1 of 25"
    assert len(app.text_input) == 1


def test_searching_narrows_the_options_and_keeps_the_choice() -> None:
    names = synthetic(5000)
    app = run(5000)
    app.selectbox(key="pick").select(names[7]).run()
    app.text_input(key="pick_filter").input("m-0042 LINE-0").run()
    hits = [n for n in names if "m-0042" in n and "line-0" in n]
    assert hits == [names[420], names[427]]
    assert shown(app) == labels([names[0], names[7], *hits])  # the default and the choice stay first
    assert app.selectbox(key="pick").value == names[7]
    assert app.caption[0].value == "2 of 5,000 series match · showing page 1 of 1"
    assert len(app.number_input) == 0  # one page: no page number
    app.selectbox(key="pick").select(names[427]).run()
    assert app.selectbox(key="pick").value == names[427]


def test_paging_changes_the_options_and_a_new_search_starts_at_page_one() -> None:
    names = synthetic(5000)
    app = run(5000)
    app.selectbox(key="pick").select(names[150]).run()
    app.number_input(key="pick_page").set_value(3).run()
    assert shown(app) == labels([names[0], names[150], *names[400:600]])
    assert app.selectbox(key="pick").value == names[150]  # a choice on another page survives the paging
    assert app.caption[0].value == "5,000 of 5,000 series match · showing page 3 of 25"
    app.text_input(key="pick_filter").input("line-4").run()
    assert app.number_input(key="pick_page").value == 1
    assert app.caption[0].value == "714 of 5,000 series match · showing page 1 of 4"


def test_a_default_off_the_page_is_selected_and_kept() -> None:
    names = synthetic(5000)
    app = run(5000, default_at=4321)
    assert app.selectbox(key="pick").value == names[4321]
    assert shown(app)[0] == series_label(names[4321])
    assert len(shown(app)) == PAGE_SIZE + 1
    app.number_input(key="pick_page").set_value(2).run()
    assert app.selectbox(key="pick").value == names[4321]
    assert shown(app) == labels([names[4321], *names[200:400]])


def test_a_link_to_a_series_off_the_first_page_opens_it() -> None:
    names = synthetic(5000)
    app = run(5000, pick=series_label(names[3000]))
    assert app.selectbox(key="pick").value == names[3000]
    assert shown(app)[:2] == labels([names[0], names[3000]])
    app.number_input(key="pick_page").set_value(4).run()  # a rerun keeps it
    assert app.selectbox(key="pick").value == names[3000]


# ------------------------------------------------------------------------------------------ the Data page


@pytest.fixture
def large_store(dashboard_store: Path) -> list[str]:
    """A store with more series than fit on a page: one reading each (250 machines, one sensor)."""
    names = [f"acme/plant1/machining/line-1/m-{i:03d}/telemetry/temp" for i in range(PAGE_SIZE + 50)]
    store = SqliteStorage(f"sqlite:///{dashboard_store}")
    store.write_readings([Reading(name, T0, float(i), "°C") for i, name in enumerate(names)])
    store.close()
    return sorted(names)


def captions(app: AppTest) -> list[str]:
    return [c.value for c in app.caption]


def open_page(page: str, **query: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_the_data_page_sends_one_page_of_a_large_store(large_store: list[str]) -> None:
    app = open_page(
        "browse",
    )
    picked = app.selectbox(key="data_series")
    assert len(picked.options) <= PAGE_SIZE
    assert picked.value == large_store[0]
    assert f"{len(large_store)} of {len(large_store)} series match · showing page 1 of 2" in captions(app)
    app.text_input(key="data_series_filter").input("m-249").run()
    assert list(app.selectbox(key="data_series").options) == labels([large_store[0], large_store[249]])
    app.selectbox(key="data_series").select(large_store[249]).run()
    assert app.metric[0].label == "Rows"
    assert app.metric[0].value == "1"


def test_a_link_to_the_data_page_opens_a_series_off_the_first_page(large_store: list[str]) -> None:
    app = open_page("browse", data_series=series_label(large_store[240]))
    assert app.selectbox(key="data_series").value == large_store[240]
    assert app.metric[1].value == "240 °C"  # its one reading


@pytest.mark.parametrize("by", ["label", "id"])
def test_a_link_to_the_spc_page_opens_a_series_off_the_first_page(large_store: list[str], by: str) -> None:
    wanted = large_store[230]
    app = open_page("spc", series=series_label(wanted) if by == "label" else wanted)
    picked = app.selectbox(key="series")
    assert picked.value == wanted
    assert len(picked.options) <= PAGE_SIZE + 2
