"""The page scripts `st.navigation` runs (each one is executed as a script, top to bottom, on every rerun)."""
