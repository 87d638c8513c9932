"""The growth curve for the README: seconds against business units, log-log, one line per step, with a
dashed line of slope 1 (linear growth) for reference."""
from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

LINES = [("etl_clean", "ETL, clean CSV"), ("bare_duckdb", "bare DuckDB"), ("etl_xlsx", "ETL, Excel"),
         ("panel_refresh", "panel refresh, whole"), ("panel_month_load", "panel refresh after a month's file"), ("twfe", "TWFE"), ("correlate", "correlations"),
         ("event_study", "event study")]


def plot(results: list[dict], out: Path) -> None:
    if len(results) < 2:
        return
    fig = go.Figure()
    xs = [r["rows"]["business_units"] for r in results]
    for key, label in LINES:
        pts = [(x, r[key]["seconds"]) for x, r in zip(xs, results) if key in r]
        if pts:
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=label))
    slowest = [r["pages"] for r in results if r.get("pages")]
    if slowest:
        pts = [(x, max(v["cold"] for k, v in r["pages"].items() if not k.startswith("_")))
               for x, r in zip(xs, results) if r.get("pages")]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                 name="slowest page, cold"))
    base = results[0]["etl_clean"]["seconds"]
    fig.add_trace(go.Scatter(x=[xs[0], xs[-1]], y=[base, base * xs[-1] / xs[0]], mode="lines", name="linear growth",
                             line={"dash": "dash", "color": "grey"}))
    fig.update_layout(title="PB-KPI Lens: time vs. business units (synthetic data, make bench)", width=1000, height=600,
                      xaxis={"type": "log", "title": "business units"}, yaxis={"type": "log", "title": "seconds"},
                      template="plotly_white")
    from briefing.figures import export_session

    with export_session():
        out.write_bytes(fig.to_image(format="png", width=1000, height=600))
