"""Classroom mode in the dashboard (`dashboard.classroom_dir` set): sign-in with roster credentials, and which
pages each viewer gets. Without a class folder every viewer gets every page, as before.

| viewer | pages |
|---|---|
| not signed in | Sign in |
| a student | My plant (their namespace only) |
| the lecturer | Class overview, then every page of the plant dashboard |

A page outside a viewer's list is not served to them (Streamlit's navigation only runs the listed pages), and
the classroom pages check the role again themselves.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import classauth, data
from smartfactory.classroom.roster import Member

USER_KEY = "classroom_member"
PAGES = Path(__file__).resolve().parent / "app_pages"


def folder() -> Path | None:
    return data.settings().dashboard.classroom_dir


def enabled() -> bool:
    return folder() is not None


@st.cache_resource(ttl=30)
def roster(path: str) -> classauth.Roster:
    return classauth.load(Path(path))


def class_roster() -> classauth.Roster:
    path = folder()
    if path is None:
        raise RuntimeError("not in classroom mode")
    return roster(str(path))


def member() -> Member | None:
    """The signed-in member of this browser session (None: nobody)."""
    found = st.session_state.get(USER_KEY)
    return found if isinstance(found, Member) else None


def sign_in(username: str, password: str) -> Member | None:
    found = class_roster().check(username, password)
    if found is not None:
        st.session_state[USER_KEY] = found
    return found


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)


def require(role: str | None = None) -> Member:
    """The signed-in member (with `role`, if given); stops the page for anyone else."""
    found = member()
    if found is None or (role is not None and found.role != role):
        st.error("Sign in with your roster credentials to see this page.")
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises; this keeps type checkers informed
    return found


def pages(plant_pages: list[st.Page]) -> list[st.Page]:
    """The pages this viewer may open."""
    if not enabled():
        return plant_pages
    who = member()
    if who is None:
        return [st.Page(str(PAGES / "signin.py"), title="Sign in", icon=":material/login:", url_path="signin")]
    if who.is_lecturer:
        overview = st.Page(
            str(PAGES / "class_overview.py"), title="Class overview", icon=":material/school:", url_path="class"
        )
        return [overview, *plant_pages]
    return [st.Page(str(PAGES / "my_plant.py"), title="My plant", icon=":material/factory:", url_path="my-plant")]


def show_sidebar() -> bool:
    """The shared sidebar (window, status) shows once somebody is signed in (always outside classroom mode)."""
    return not enabled() or member() is not None


def sidebar_account() -> None:
    """Who is signed in, and a sign-out button (classroom mode only)."""
    who = member()
    if who is None:
        return
    with st.sidebar:
        label = "lecturer" if who.is_lecturer else who.namespace
        st.caption(f"Signed in as **{who.username}** ({label})")
        if st.button("Sign out", key="classroom_sign_out"):
            sign_out()
            st.rerun()


__all__ = ["enabled", "member", "pages", "require", "show_sidebar", "sidebar_account", "sign_in", "sign_out"]
