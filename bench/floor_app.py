"""The floor of the browser benchmark (bench/browser.py): a one-chart Streamlit app on the same server
settings, so a page's time is read against what any Streamlit page with one Plotly chart costs on this
machine in the same run. It marks the end of its run as the dashboard does (ui/layout.py)."""
import uuid

import plotly.graph_objects as go
import streamlit as st

st.title("floor")
st.plotly_chart(go.Figure(go.Scatter(x=list(range(24)), y=[(i * 7) % 11 for i in range(24)])), key="floor_chart")
st.radio("grain", ["month", "quarter"], key="grain", horizontal=True)
st.sidebar.html(f'<span data-testid="pbkpi-run-done" data-run="{uuid.uuid4().hex[:12]}"></span>')
