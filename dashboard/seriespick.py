"""Choosing one series out of tens of thousands without sending them all to the browser (issue #13).

A selectbox ships every option, formatted, to the browser on every rerun; at 100,000 series that alone makes a
page take minutes. `pick_series` is the plain selectbox while the series fit on one page (`page_size`); beyond,
it is a search box (every word typed must occur in the series id or its label, ignoring case), a page number and
a selectbox holding that one page. The page's default, the current choice and the series a link names (`?key=`)
always stay among the options, so a choice survives a rerun, a search and a bookmark.

The search reads a casefolded copy of every id and label, made once per list of names and formatting function
and shared by every viewer (`functools.lru_cache`: hashing a tuple of 100,000 names costs about a millisecond
there, most of a second in `st.cache_data`'s hasher).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Literal

import streamlit as st

from smartfactory.query.series import series_label

PAGE_SIZE = 200


@lru_cache(maxsize=16)
def _positions(names: tuple[str, ...]) -> Mapping[str, int]:
    return {name: i for i, name in enumerate(names)}


#: The labels each formatting function made last, by name, so a list that gained a few series formats only those
#: (`series_label` parses the id: ~0.1 ms a name, seconds for 100,000). The newest few functions are kept.
_made: dict[Callable[[str], str], dict[str, str]] = {}
_made_lock = threading.Lock()  # viewers' sessions run in threads of one process


@lru_cache(maxsize=8)
def _labels(names: tuple[str, ...], format_func: Callable[[str], str]) -> tuple[str, ...]:
    with _made_lock:
        before = _made.pop(format_func, {})
        made = {name: label if (label := before.get(name)) is not None else format_func(name) for name in names}
        _made[format_func] = made
        while len(_made) > 4:
            del _made[next(iter(_made))]
    return tuple(made.values())


@lru_cache(maxsize=8)
def _folded(names: tuple[str, ...], format_func: Callable[[str], str]) -> tuple[str, ...]:
    labels = _labels(names, format_func)
    return tuple(f"{name}\n{text}".casefold() for name, text in zip(names, labels, strict=True))


def matching(names: Sequence[str], query: str, format_func: Callable[[str], str] = series_label) -> Sequence[str]:
    """The names, in their order, whose id or label contains every space-separated word of `query`, ignoring
    case; all of them for a blank query."""
    words = query.casefold().split()
    if not words:
        return names
    keys = tuple(names)
    first, *others = words
    found = [(name, text) for name, text in zip(keys, _folded(keys, format_func), strict=True) if first in text]
    for word in others:  # the first word usually leaves few to test the others on
        found = [(name, text) for name, text in found if word in text]
    return [name for name, _ in found]


def page_count(matches: int, page_size: int) -> int:
    """Pages of `page_size` that `matches` names fill; one, empty, when none match."""
    return max(1, math.ceil(matches / page_size))


def _first_page(page_key: str) -> None:
    st.session_state[page_key] = 1


def _linked(key: str, names: tuple[str, ...], format_func: Callable[[str], str]) -> str | None:
    """The series the address bar names by its label (what a `bind="query-params"` selectbox writes)."""
    shown = st.query_params.get(key)
    if not shown:
        return None
    selected = st.session_state.get(key)
    if isinstance(selected, str) and selected in _positions(names) and format_func(selected) == shown:
        return selected  # the usual rerun: the address bar shows the choice; no need to look it up
    labels = _labels(names, format_func)
    return names[labels.index(shown)] if shown in labels else None


def pick_series(
    names: Sequence[str],
    *,
    key: str,
    label: str = "Series",
    default: str | None = None,
    page_size: int = PAGE_SIZE,
    format_func: Callable[[str], str] = series_label,
    bind_query_params: bool = False,
    help: str | None = None,
) -> str | None:
    """One series of `names` (None when there are none), chosen in a selectbox under `key`.

    `default` is the series shown until one is chosen (else the first); with `bind_query_params` the choice is
    kept in the address bar as `?{key}=<label>`, as `st.selectbox(bind="query-params")` does. The search box and
    page number live under `{key}_filter` and `{key}_page`.
    """
    bind: Literal["query-params"] | None = "query-params" if bind_query_params else None
    keys = tuple(names)
    positions = _positions(keys)
    if len(keys) <= page_size:
        index = positions.get(default, 0) if default is not None else 0
        return st.selectbox(label, keys, index=index, format_func=format_func, key=key, bind=bind, help=help)

    page_key = f"{key}_page"
    search, pager = st.columns([3, 1], vertical_alignment="bottom")
    query = search.text_input(
        f"Search {label.lower()}",
        key=f"{key}_filter",
        placeholder="words of the id or label, e.g. cnc-01 temp",
        on_change=_first_page,
        args=(page_key,),
    )
    found = matching(keys, query, format_func)
    pages = page_count(len(found), page_size)
    page = 1
    if pages > 1:
        if st.session_state.get(page_key, 1) > pages:
            st.session_state[page_key] = pages  # the search narrowed the list under the page the viewer was on
        page = int(pager.number_input("Page", min_value=1, max_value=pages, step=1, key=page_key))
    st.caption(f"{len(found):,} of {len(keys):,} series match · showing page {page} of {pages}")

    # The default first (index 0, so a link without `?key=` means it), then the choice and the linked series
    # wherever they are, then the page.
    selected = st.session_state.get(key)
    kept = [
        default if default in positions else keys[0],
        selected if isinstance(selected, str) and selected in positions else None,
        _linked(key, keys, format_func) if bind_query_params else None,
    ]
    pinned = list(dict.fromkeys(s for s in kept if s is not None))
    options = pinned + [s for s in found[(page - 1) * page_size : page * page_size] if s not in pinned]
    return st.selectbox(label, options, index=0, format_func=format_func, key=key, bind=bind, help=help)
