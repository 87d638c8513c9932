"""大屏 Meeting-room screen: the overview for a 1920×1080 display — dark, large type, no sidebar, one panel
at a time (key figures, index trend, quadrant, 预警), rotating every PBKPI_SCREEN_SECONDS and starting again
from the newest warehouse by itself after a publish. Reached by URL (/screen); the sidebar's selection in the
link (region, unit type, grain) is what it shows. (application/views/overview)"""
import datetime as dt
from html import escape

import pandas as pd
import streamlit as st

import settings
from analytics.indices import QUADRANTS
from application.views import overview
from briefing.content import alert_text
from catalogue.formats import fmt_period
from ui import cards, charts, layout, palette, session
from ui.i18n import lang, tr, value_labels

PANELS = ("cards", "trend", "quadrant", "alerts")
ALERTS_SHOWN = 10
BG, PANEL, TEXT, FAINT = "#0B1220", "#111A2E", "#E6EDF3", "#9AA7B8"

SCREEN_CSS = f"""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stHeader"],
[data-testid="stToolbar"] {{display: none !important;}}
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {{background: {BG} !important; color: {TEXT};}}
[data-testid="stMainBlockContainer"] {{max-width: none; padding: 1.2rem 2.5rem 1rem !important;}}
[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] h3, [data-testid="stMain"] p,
[data-testid="stMain"] li, [data-testid="stMain"] span {{color: {TEXT};}}
[data-testid="stMain"] h1 {{font-size: 2.6rem !important;}}
[data-testid="stMain"] [data-testid="stCaptionContainer"] p {{color: {FAINT}; font-size: 1.15rem;}}
[data-testid="stMain"] [data-testid="stAlertContainer"] p {{color: #1F2329;}}
.pb-screen-head {{display: flex; justify-content: space-between; align-items: baseline; font-size: 1.4rem; color: {FAINT};}}
.pb-screen-head b {{color: {TEXT}; font-size: 2.1rem;}}
.pb-screen-dots span {{display: inline-block; width: 12px; height: 12px; border-radius: 6px; margin-left: 8px; background: #2A3650;}}
.pb-screen-dots span.on {{background: {TEXT};}}
.pb-cards {{grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)) !important; gap: 18px !important;}}
.pb-card {{background: {PANEL} !important; border-color: #2A3650 !important; padding: 18px 20px !important;}}
.pb-card .pb-name {{color: {FAINT} !important; font-size: 1.35rem !important;}}
.pb-card .pb-unit {{color: {FAINT} !important; font-size: 1.05rem !important;}}
.pb-card .pb-value {{color: {TEXT} !important; font-size: 3.2rem !important;}}
.pb-card .pb-badge {{font-size: 1.1rem !important; padding: 2px 10px !important; border-radius: 14px !important;}}
.pb-card .pb-delta, .pb-card .pb-target {{font-size: 1.15rem !important;}}
.pb-card .pb-spark {{width: 96px; height: 44px; max-width: 40%;}}
.pb-screen-alerts {{font-size: 1.45rem; line-height: 2.1;}}
.pb-screen-alerts .lv {{display: inline-block; min-width: 3.2em; text-align: center; border-radius: 14px; margin-right: 14px;
                        font-weight: 600;}}
</style>"""


BRAND_ON_DARK = "#7FB3E6"  # the brand blue, lightened: the same meaning, readable on the dark paper


def dark(fig, height: int = 820):
    """A chart for the dark screen: the chart theme's colours on a dark paper, type for a room."""
    fig.update_layout(paper_bgcolor=BG, plot_bgcolor=BG, font=dict(color=TEXT, size=22), height=height,
                      legend=dict(font=dict(size=22, color=TEXT)), hoverlabel=dict(font_size=20))
    for axis in (fig.update_xaxes, fig.update_yaxes):
        axis(gridcolor="#243047", zerolinecolor="#2A3650", tickfont=dict(size=20, color=TEXT),
             title_font=dict(size=22, color=FAINT))
    fig.update_annotations(font_size=22, bgcolor="rgba(17,26,46,0.85)")
    fig.update_layout(colorway=[BRAND_ON_DARK, *palette.NEUTRALS[1:]])
    return fig


def alerts_html(alerts: pd.DataFrame, L: str) -> str:
    rows = []
    for _, r in alerts.head(ALERTS_SHOWN).iterrows():
        fg, bg = palette.STATUS[r["level"]]
        word = tr(f"alert.{r['level']}")
        rows.append(f'<div><span class="lv" style="color:{fg};background:{bg}">{escape(word)}</span>'
                    f'{escape(alert_text(r, L))}</div>')
    return '<div class="pb-screen-alerts">' + "".join(rows) + "</div>"


def panel(kind: str, vm, L: str) -> None:
    if kind == "cards":
        st.html(cards.cards_html([cards.card_for(c.metric, c.value, c.delta, c.delta_yoy, c.status, c.target, c.amber,
                                                 c.spark, c.not_reporting) for c in vm.cards]))
    elif kind == "trend":
        fig = charts.line(vm.trend, "period_start", {"pb_index": tr("chart.pb_index"), "biz_index": tr("chart.biz_index")},
                          y_title=tr("chart.index_axis"))
        charts.annotate_events(fig, [(q, tr("chart.major_event")) for q in vm.event_quarters])
        fig.update_traces(line_width=4, marker_size=10)
        layout.plot(dark(fig), "scr_trend")
    elif kind == "quadrant":
        now = vm.now.assign(unit_type_label=value_labels(vm.now["unit_type"], "unit_type"),
                            region_label=value_labels(vm.now["region"], "region"))
        fig = charts.quadrant(now, {q: tr(f"quadrant.{q}") for q in QUADRANTS}, tr("chart.pb_index"), tr("chart.biz_index"), L,
                              count_label=tr("chart.units_in_cell"))
        fig.update_traces(marker_size=18, textfont_size=20, textfont_color=TEXT, selector=dict(type="scatter"))
        layout.plot(dark(fig), "scr_quad")
    elif vm.alerts is None:
        st.markdown(f"### {tr('page.overview.alerts_pending')}")
    elif vm.alerts.empty:
        st.markdown(f"### {tr('page.overview.alerts_none')}")
    else:
        st.html(alerts_html(vm.alerts, L))
        if len(vm.alerts) > ALERTS_SHOWN:
            st.caption(tr("brief.alerts_more", n=len(vm.alerts) - ALERTS_SHOWN))


def panel_title(kind: str, quarter: str, L: str) -> str:
    q = fmt_period(quarter, L)
    return {"cards": tr("page.screen.cards", quarter=q), "trend": tr("page.overview.index_trend"),
            "quadrant": tr("page.overview.quadrant", quarter=q), "alerts": tr("page.overview.alerts", quarter=q)}[kind]


@st.fragment(run_every=settings.screen_seconds())
def rotating(vm, L: str) -> None:
    """One panel per run of this fragment; a new warehouse version starts the whole page again."""
    ctx = session.context()
    warehouse = session.services(str(settings.warehouse()))[0]
    if warehouse.version() != ctx.snapshot.version:
        st.rerun()  # a publish: the page (and this screen) start again from the new warehouse
    i = st.session_state.get("scr_panel", -1) + 1
    st.session_state["scr_panel"] = i
    kind = PANELS[i % len(PANELS)]
    dots = "".join(f'<span class="{"on" if k == kind else ""}"></span>' for k in PANELS)
    st.html(f'<div class="pb-screen-head" data-testid="pbkpi-screen-panel" data-panel="{kind}">'
            f'<span><b>{escape(panel_title(kind, vm.quarter, L))}</b></span>'
            f'<span>{dt.datetime.now():%H:%M}<span class="pb-screen-dots">{dots}</span></span></div>')
    panel(kind, vm, L)


st.html(SCREEN_CSS)
if layout.header("page.screen.title"):
    ctx, sel = session.context(), session.selection()
    vm = overview.view(ctx, sel, overview.Params(None))
    layout.shown_or_stop(vm.result)
    rotating(vm, lang())
