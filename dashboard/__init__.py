"""The smartfactory dashboard: a Streamlit app over the read side (`smartfactory.query`).

Run it with `smartfactory dashboard` (or `streamlit run dashboard/app.py`). `app.py` sets up navigation over
`app_pages/` (thin page scripts: widgets and layout); the logic lives in the modules of this package, testable
without a browser:

- `data`: every read, cached (`st.cache_resource` for the store and the MQTT link, `st.cache_data` for results);
- `timewin`: the time window every page shows; `sidebar`: the shared sidebar;
- `spcview`, `oeeview`, `machineview`, `alarmview`, `tiles`: what each page computes (no Streamlit);
- `charts`, `theme`: the figures and their colour language (the control chart itself is `query.figures`);
- `csvexport`: the Data page's download; `link`: the one MQTT connection (health, acknowledgements);
- `heap`: freezes the start-up objects once, so the garbage collector skips them on every refresh.

Only this package imports streamlit. It reads plant facts from the store (`query.plantinfo`), never by running
the simulator's files.
"""
