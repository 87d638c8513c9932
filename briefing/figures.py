"""The briefing's charts as Plotly figures (one theme with the dashboard: ui/charts.py), and their static
rendering. Static export goes through kaleido with the system Chromium; one export session serves a
whole deck."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pandas as pd
import plotly.graph_objects as go

from analytics.indices import QUADRANTS
from briefing.content import Briefing, quarter_label
from catalogue import metric, t, value_texts
from ui import charts, palette

WIDTH, HEIGHT = 1600, 900  # 16:9 at presentation resolution


class NoBrowser(RuntimeError):
    """Static export needs Chromium, which is not installed."""


def browser_path() -> str | None:
    return os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser") \
        or shutil.which("google-chrome")


@contextmanager
def export_session():
    """Open one kaleido/Chromium session for all images of an export."""
    import kaleido

    path = browser_path()
    if not path:
        raise NoBrowser(t("brief.page.no_browser", "zh") + " / " + t("brief.page.no_browser", "en"))
    os.environ["BROWSER_PATH"] = path
    kaleido.start_sync_server(silence_warnings=True)
    try:
        yield
    finally:
        kaleido.stop_sync_server(silence_warnings=True)


def to_png(fig: go.Figure, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    big = go.Figure(fig)
    big.update_layout(font=dict(size=22), title=dict(font=dict(size=28)), margin=dict(l=40, r=40, t=90, b=80))
    big.update_yaxes(automargin=True)
    return big.to_image(format="png", width=width, height=height, scale=1)


def build_figures(b: Briefing, lang: str) -> dict[str, go.Figure]:
    figs = {}
    figs["trend"] = charts.line(b.trend, "period_start", {"pb_index": t("chart.pb_index", lang),
                                                         "biz_index": t("chart.biz_index", lang)},
                                title=t("brief.chart.trend", lang), y_title=t("chart.index_axis", lang), height=450)
    q = b.quadrant.copy()
    q["unit_type_label"], q["region_label"] = value_texts(q["unit_type"], "unit_type", lang), value_texts(q["region"], "region", lang)
    labels = {k: t(f"quadrant.{k}", lang) for k in QUADRANTS}
    fig = charts.quadrant(q, labels, t("chart.pb_index", lang), t("chart.biz_index", lang), lang, height=560,
                          count_label=t("chart.units_in_cell", lang))
    fig.update_layout(title=f"{t('brief.chart.quadrant', lang)}（{quarter_label(b.quarter, lang)}）" if lang == "zh"
                      else f"{t('brief.chart.quadrant', lang)} ({quarter_label(b.quarter, lang)})")
    figs["quadrant"] = fig
    for mid, d in b.ranks.items():
        m = metric(mid)
        d = d.copy()
        d["label"] = d["business_unit_name"]
        colors = [palette.GOOD if r == "best" else palette.BAD for r in d["rank"]]
        figs[f"rank_{mid}"] = charts.figure(
            [dict(type="bar", x=d[mid], y=d["label"], orientation="h", marker_color=colors, cliponaxis=False,
                  customdata=d[["unit"]].to_numpy(),  # a click on the dashboard opens the unit
                  text=[f"{v:.{m.decimals}f}" for v in d[mid]], textposition="outside")],
            dict(title=m.label(lang), height=420, yaxis=dict(autorange="reversed"), showlegend=False,
                 xaxis=dict(range=[0, float(d[mid].max()) * 1.4])))
    for i, e in enumerate(b.events):
        frame = e.to_frame()
        fig = charts.event_study(frame, None, t("chart.event_time", lang, grain=t("filter.grain_month", lang)),
                                 metric(e.y).label(lang), {"pre": t("chart.pre", lang), "post": t("chart.post", lang),
                                                          "naive": t("chart.naive", lang)},
                                 title=t("brief.chart.event", lang, treat=metric(e.treatment).name(lang),
                                         y=metric(e.y).name(lang)), height=450)
        figs[f"event_{i}"] = fig
    # ticks in the briefing's language, and no markup from data in any export
    return {k: charts.localize(charts.plain_figure(f), lang) for k, f in figs.items()}


def kpi_frame(b: Briefing, lang: str) -> pd.DataFrame:
    from catalogue.formats import fmt_delta, fmt_metric

    rows = []
    for k in b.kpis:
        m = metric(k.id)
        rows.append({"id": k.id, "name": m.name(lang), "label": m.label(lang),
                     "value": fmt_metric(k.id, k.value, lang, with_unit=m.unit_zh == "%"),
                     "prev": fmt_delta(k.id, k.delta_prev, lang) if k.delta_prev is not None else "—",
                     "yoy": fmt_delta(k.id, k.delta_yoy, lang) if k.delta_yoy is not None else "—",
                     "status": k.status, "better": m.direction})
    return pd.DataFrame(rows)
