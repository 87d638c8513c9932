"""总览 Overview: how the quarter went, and where party work and business are 两张皮 (application/views/overview)."""
import pandas as pd
import streamlit as st

from analytics.indices import QUADRANTS
from application.views import overview
from catalogue import metric
from catalogue.formats import fmt_metric, fmt_number
from ui import charts, layout, session
from ui.i18n import lang, mname, tr, value_label

DOTS = {"green": ":green[●]", "amber": ":orange[●]", "red": ":red[●]", "": ""}


def card_label(mid: str) -> str:
    m, L = metric(mid), lang()
    unit = m.unit(L)
    if not unit:
        return m.name(L)
    return f"{m.name(L)}（{unit}）" if L == "zh" else f"{m.name(L)} ({unit})"


if layout.header("page.overview.title", "page.overview.caption"):
    ctx, sel = session.context(), session.selection()
    quarters = overview.options(ctx, sel)["quarter"]
    # the first quarter shown (and one outside the sidebar's period): the one holding the sidebar's end
    st.session_state["ov_quarter"] = overview.resolve(ctx, sel, overview.Params(st.session_state.get("ov_quarter"))).quarter
    quarter = st.selectbox(tr("page.overview.quarter"), quarters, key="ov_quarter")
    vm = overview.view(ctx, sel, overview.Params(quarter))
    if vm.result is None:
        st.info(tr("app.no_data"))
        layout.stop()
    if not layout.shown(vm.result):
        layout.rerun_when_ready([vm.result.job] if vm.result and vm.result.pending else [])
        layout.stop()
    if vm.unit_scope:
        st.caption(tr("page.overview.unit_scope"))

    st.subheader(tr("page.overview.cards"))
    for row_start in range(0, len(vm.cards), 3):
        for c, card in zip(st.columns(3), vm.cards[row_start:row_start + 3]):
            m = metric(card.metric)
            c.metric(f"{DOTS[card.status]} {card_label(card.metric)}".strip(), fmt_metric(card.metric, card.value, lang(), with_unit=False),
                     delta=None if card.delta is None else f"{fmt_number(card.delta, m.decimals + 1)} {tr('page.overview.vs_prev')}",
                     delta_color={"higher": "normal", "lower": "inverse"}.get(m.direction, "off"), border=True,
                     help=tr("page.overview.card_help", agg=m.aggregation))
            if card.delta_yoy is not None:
                c.caption(tr("page.overview.yoy", value=fmt_number(card.delta_yoy, m.decimals + 1)))
            if card.not_reporting:
                c.caption(tr("page.overview.not_reported", n=card.not_reporting))
    st.caption(tr("page.overview.rag_note"))

    st.subheader(tr("page.overview.index_trend"))
    fig = charts.line(vm.trend, "period_start", {"pb_index": tr("chart.pb_index"), "biz_index": tr("chart.biz_index")},
                      y_title=tr("chart.index_axis"))
    charts.annotate_events(fig, [(q, tr("chart.major_event")) for q in vm.event_quarters])
    layout.plot(fig, "ov_trend")
    st.caption(tr("page.overview.index_note"))

    st.subheader(tr("page.overview.quadrant", quarter=vm.quarter))
    now = vm.now.assign(unit_type_label=vm.now["unit_type"].map(lambda x: value_label("unit_type", x)),
                        region_label=vm.now["region"].map(lambda x: value_label("region", x)))
    labels = {q: tr(f"quadrant.{q}") for q in QUADRANTS}
    left, right = st.columns([3, 2])
    layout.plot(charts.quadrant(now, labels, tr("chart.pb_index"), tr("chart.biz_index"), lang()), "ov_quad", left)
    with right:
        st.markdown(tr("page.overview.quadrant_counts"))
        st.dataframe(pd.DataFrame({tr("table.quadrant"): [labels[q] for q in QUADRANTS],
                                   tr("table.units"): [vm.quadrant_counts[q] for q in QUADRANTS]}), hide_index=True)
        st.markdown(tr("page.overview.movers", n=len(vm.movers)))
        if len(vm.movers):
            st.dataframe(pd.DataFrame({
                tr("table.unit"): vm.movers["business_unit_name"],
                tr("table.before"): vm.movers["before"].map(labels), tr("table.after"): vm.movers["after"].map(labels),
            }).head(12), hide_index=True)
    st.caption(tr("page.overview.quadrant_note"))

    st.subheader(tr("page.overview.funnel"))
    if vm.funnel_overall is not None:
        layout.plot(charts.funnel(vm.funnel, "complaints_per_10k", "customers", vm.funnel_overall, tr("chart.customers"),
                                  mname("complaints_per_10k"), "business_unit_name"), "ov_funnel")
        st.caption(tr("page.overview.funnel_note"))
    else:
        st.caption(tr("app.no_data"))
