"""总览 Overview: how the quarter went, and where party work and business are 两张皮."""
import pandas as pd
import streamlit as st

from analytics.indices import QUADRANTS
from analytics.panel import shift_quarter
from catalogue import metric, target_status
from catalogue.formats import fmt_metric, fmt_number
from ui import analyses, charts, data, layout, state
from ui.i18n import lang, mname, tr, value_label

CARDS = ["rs1", "saidi", "complaints_per_10k", "satisfaction", "bill_recovery", "line_loss",
         "meeting_compliance", "theme_days", "pb_score"]


DOTS = {"green": ":green[●]", "amber": ":orange[●]", "red": ":red[●]", "": ""}


def rag(mid: str, value) -> str:
    return DOTS[target_status(mid, value)]


if layout.header("page.overview.title", "page.overview.caption"):
    v = data.version()
    f = st.session_state["filters"]
    qf = analyses.overview_filters(f)
    quarters = sorted(state.filtered_panel(v, qf)["period"].unique())
    if st.session_state.get("ov_quarter") not in quarters:  # outside the sidebar's period: the one holding its end
        st.session_state["ov_quarter"] = quarters[analyses.overview_quarter(quarters, f)]
    quarter = st.selectbox(tr("page.overview.quarter"), quarters, key="ov_quarter")
    if not layout.statistics_ready(v, [(analyses.overview, qf, quarter)]):
        st.stop()
    ov = analyses.overview(v, qf, quarter)
    totals = ov["totals"]
    if f.unit:
        st.caption(tr("page.overview.unit_scope"))

    st.subheader(tr("page.overview.cards"))
    for row_start in range(0, len(CARDS), 3):
        cols = st.columns(3)
        for c, mid in zip(cols, CARDS[row_start:row_start + 3]):
            m = metric(mid)
            cur = totals[mid].get(quarter)
            prev = totals[mid].get(shift_quarter(quarter, 1))
            yoy = totals[mid].get(shift_quarter(quarter, 4))
            delta = None if prev is None or pd.isna(prev) or cur is None else cur - prev
            unit = m.unit(lang())
            label = f"{m.name(lang())}（{unit}）" if unit and lang() == "zh" else (f"{m.name(lang())} ({unit})" if unit else m.name(lang()))
            c.metric(f"{rag(mid, cur)} {label}".strip(), fmt_metric(mid, cur, lang(), with_unit=False),
                     delta=None if delta is None else f"{fmt_number(delta, m.decimals + 1)} {tr('page.overview.vs_prev')}",
                     delta_color={"higher": "normal", "lower": "inverse"}.get(m.direction, "off"), border=True,
                     help=tr("page.overview.card_help", agg=m.aggregation))
            if yoy is not None and not pd.isna(yoy) and cur is not None:
                c.caption(tr("page.overview.yoy", value=fmt_number(cur - yoy, m.decimals + 1)))
            missing = int(ov["not_reporting"][mid].get(quarter, 0)) if mid in ov["not_reporting"] else 0
            if missing:
                c.caption(tr("page.overview.not_reported", n=missing))
    st.caption(tr("page.overview.rag_note"))

    st.subheader(tr("page.overview.index_trend"))
    fig = charts.line(ov["trend"], "period_start", {"pb_index": tr("chart.pb_index"), "biz_index": tr("chart.biz_index")},
                      y_title=tr("chart.index_axis"))
    events = data.major_event_months(v)
    if not events.empty:
        qs = events.assign(q=pd.to_datetime(events["month"]).dt.to_period("Q").dt.start_time).groupby("q").size()
        charts.annotate_events(fig, [(q, tr("chart.major_event")) for q in qs.index])
    layout.plot(fig, "ov_trend")
    st.caption(tr("page.overview.index_note"))

    st.subheader(tr("page.overview.quadrant", quarter=quarter))
    now = ov["now"].copy()  # kept results are shared: add display columns to a copy
    now["unit_type_label"] = now["unit_type"].map(lambda x: value_label("unit_type", x))
    now["region_label"] = now["region"].map(lambda x: value_label("region", x))
    labels = {q: tr(f"quadrant.{q}") for q in QUADRANTS}
    left, right = st.columns([3, 2])
    layout.plot(charts.quadrant(now, labels, tr("chart.pb_index"), tr("chart.biz_index"), lang()), "ov_quad", left)
    with right:
        st.markdown(tr("page.overview.quadrant_counts"))
        counts = now["quadrant"].value_counts()
        st.dataframe(pd.DataFrame({tr("table.quadrant"): [labels[q] for q in QUADRANTS],
                                   tr("table.units"): [int(counts.get(q, 0)) for q in QUADRANTS]}), hide_index=True)
        movers = ov["movers"]
        st.markdown(tr("page.overview.movers", n=len(movers)))
        if len(movers):
            st.dataframe(pd.DataFrame({
                tr("table.unit"): movers["business_unit_name"],
                tr("table.before"): movers["before"].map(labels), tr("table.after"): movers["after"].map(labels),
            }).head(12), hide_index=True)
    st.caption(tr("page.overview.quadrant_note"))

    st.subheader(tr("page.overview.funnel"))
    fq = ov["funnel"]
    if len(fq):
        overall = 10_000 * fq["complaints"].sum() / fq["customers"].sum()
        layout.plot(charts.funnel(fq, "complaints_per_10k", "customers", overall, tr("chart.customers"),
                                      mname("complaints_per_10k"), "business_unit_name"), "ov_funnel")
        st.caption(tr("page.overview.funnel_note"))
