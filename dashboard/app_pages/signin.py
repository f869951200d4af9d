"""Classroom sign-in: the username and password from the login card."""

from __future__ import annotations

import streamlit as st

from dashboard import classgate

st.title("Sign in")
st.caption("Use the username and password on your login card.")
with st.form("classroom_signin"):
    username = st.text_input("Username", key="classroom_username")
    password = st.text_input("Password", type="password", key="classroom_password")
    submitted = st.form_submit_button("Sign in")
if submitted:
    if classgate.sign_in(username, password) is not None:
        st.rerun()
    st.error("Unknown username or wrong password.")
