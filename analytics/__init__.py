"""Statistics over tidy panels: pure functions of DataFrames, no Streamlit, no database writes.

Each method validates its inputs, computes, and returns a typed result (analytics.results) with
`to_frame()` and `to_dict()`; plain-language summaries live in analytics.summaries."""
