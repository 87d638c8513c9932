"""The floor of the browser benchmark (bench/browser.py): a one-chart Streamlit app on the same server
settings, so a page's time is read against what any Streamlit page with one Plotly chart costs on this
machine in the same run. Its two widgets are the dashboard's two kinds of change: a radio as the sidebar's
grain (a filter) and a selectbox as a page's pick, timed the same way (the click on another option, after
the list is open); either change redraws the chart, as a change on a page does. It marks the end of its run
as the dashboard does (ui/layout.py)."""
import uuid

import plotly.graph_objects as go
import streamlit as st

st.title("floor")
grain = st.radio("grain", ["month", "quarter"], key="grain", horizontal=True)
months = [f"2025-{m:02d}" for m in range(1, 13)]
month = st.selectbox("month", months, key="month")
shift = months.index(month) + (5 if grain == "quarter" else 0)
st.plotly_chart(go.Figure(go.Scatter(x=list(range(24)), y=[(i * 7 + shift) % 11 for i in range(24)])), key="floor_chart")
st.sidebar.html(f'<span data-testid="pbkpi-run-done" data-run="{uuid.uuid4().hex[:12]}"></span>')
