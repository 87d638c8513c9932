"""Shared Streamlit pieces: language, global filters and URL state, cached reads, chart theme, layout."""
