"""总览 Overview: how the quarter went, and where party work and business are 两张皮 (application/views/overview)."""
import pandas as pd
import streamlit as st

from analytics.indices import QUADRANTS
from application.views import overview
from briefing.content import alert_text
from ui import cards, charts, layout, palette, session
from catalogue.formats import fmt_period
from catalogue import metric, t
from ui.i18n import fmt, lang, mlabel, mname, tr, value_labels

def card_text(card) -> cards.CardText:
    return cards.card_for(card.metric, card.value, card.delta, card.delta_yoy, card.status, card.target, card.amber,
                          card.spark, card.not_reporting)


LEVEL_BG = {level: palette.STATUS[level][1] for level in ("red", "amber")}


ALERTS_SHOWN = 200


def alert_table(alerts: pd.DataFrame, language: str) -> pd.DataFrame:
    """The alerts as the reader's table. Reads no session state (the language is passed): the CSV is built
    by the download button on a thread of its own."""
    words = {"red": t("alert.red", language), "amber": t("alert.amber", language)}
    return pd.DataFrame({t("table.level", language): alerts["level"].map(words),
                         t("table.unit", language): alerts["business_unit_name"],
                         t("table.alert", language): [alert_text(r, language) for _, r in alerts.iterrows()]})


def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    if sel.org:  # where in the org tree this overview rolls up; each level above is one click away
        layout.breadcrumbs(ctx.snapshot.org_path(sel.org), "ov", last_is_current=True)
    quarters = overview.options(ctx, sel)["quarter"]
    # the first quarter shown (and one outside the sidebar's period): the one holding the sidebar's end
    st.session_state["ov_quarter"] = overview.resolve(ctx, sel, overview.Params(st.session_state.get("ov_quarter"))).quarter
    head, pick = st.columns([3, 1], vertical_alignment="bottom")
    head.subheader(tr("page.overview.cards"))
    quarter = pick.selectbox(tr("page.overview.quarter"), quarters, key="ov_quarter", label_visibility="collapsed",
                             format_func=fmt("period"))
    vm = overview.view(ctx, sel, overview.Params(quarter))
    layout.shown_or_stop(vm.result)
    if vm.unit_scope:
        st.caption(tr("page.overview.unit_scope"))

    st.html(cards.cards_html([card_text(c) for c in vm.cards]))
    st.caption(tr("page.overview.rag_note"))

    st.subheader(tr("page.overview.index_trend"))
    fig = charts.line(vm.trend, "period_start", {"pb_index": tr("chart.pb_index"), "biz_index": tr("chart.biz_index")},
                      y_title=tr("chart.index_axis"))
    charts.annotate_events(fig, [(q, tr("chart.major_event")) for q in vm.event_quarters])
    layout.plot(fig, "ov_trend")
    st.caption(tr("page.overview.index_note"))

    st.subheader(tr("page.overview.alerts", quarter=fmt_period(vm.quarter, lang())))
    if vm.alerts is None:
        st.caption(tr("page.overview.alerts_pending"))
    elif vm.alerts.empty:
        st.success(tr("page.overview.alerts_none"))
    else:
        reds, ambers = int((vm.alerts["level"] == "red").sum()), int((vm.alerts["level"] == "amber").sum())
        st.markdown(tr("page.overview.alerts_counts", red=reds, amber=ambers,
                       branches=vm.alerts["unit_id"].nunique(), units=vm.alerts["business_unit_id"].nunique()))
        # the alerts come worst first (analytics/alerts.py); a group has thousands: the table shows the first
        # ALERTS_SHOWN (a styled table of all of them was 12 MB to send and seconds to build on every run), the
        # CSV holds them all, built on click
        ordered = vm.alerts
        table = alert_table(ordered.head(ALERTS_SHOWN), lang())
        bg = {tr(f"alert.{level}"): colour for level, colour in LEVEL_BG.items()}
        st.dataframe(table.style.map(lambda v: f"background-color: {bg[v]}" if v in bg else "", subset=[tr("table.level")]),
                     hide_index=True, height=min(38 + 35 * len(table), 320))
        if len(ordered) > ALERTS_SHOWN:
            st.caption(tr("page.overview.alerts_shown", shown=ALERTS_SHOWN, total=len(ordered)))
        language = lang()
        layout.download_csv(lambda: alert_table(ordered, language), f"alerts_{vm.quarter}", key="dl_ov_alerts")
        st.caption(tr("page.overview.alerts_note"))

    # the quadrant and the funnel in tabs: a quarter pick redraws one of them (layout.tabs)
    layout.tabs("ov_tab", lambda name: tr("page.overview.quadrant", quarter=fmt_period(vm.quarter, lang()))
                if name == "quadrant" else tr("page.overview.funnel"),
                {"quadrant": lambda: quadrant_section(vm), "funnel": lambda: funnel_section(vm)})


def quadrant_section(vm) -> None:
    """Where each unit stands on both indices this quarter, who moved, and a click to a unit's profile."""
    now = vm.now.assign(unit_type_label=value_labels(vm.now["unit_type"], "unit_type"),
                        region_label=value_labels(vm.now["region"], "region"))
    labels = {q: tr(f"quadrant.{q}") for q in QUADRANTS}
    left, right = st.columns([3, 2])
    picked = layout.plot(charts.quadrant(now, labels, tr("chart.pb_index"), tr("chart.biz_index"), lang(),
                                         count_label=tr("chart.units_in_cell")), "ov_quad", left, select=True)
    if charts.many(len(now)):
        left.caption(tr("chart.density_note", total=f"{len(now):,}", shown=charts.MARKED))
    layout.drill_to_profile(picked, "ov_quad")
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
    st.caption(tr("page.overview.quadrant_note") + " " + tr("page.overview.click_note"))


def funnel_section(vm) -> None:
    """Complaint rates against unit size with control limits: which units stand out beyond chance."""
    if vm.funnel_overall is not None:
        fn = overview.funnel_spec()
        picked = layout.plot(charts.funnel(vm.funnel, fn["rate"], fn["exposure"], vm.funnel_overall, mlabel(fn["exposure"]),
                                           mname(fn["rate"]), "business_unit_name", per=fn["per"], ids="business_unit_id",
                                           lower_is_better=metric(fn["rate"]).sign < 0,
                                           count_label=tr("chart.units_in_cell")),
                             "ov_funnel", select=True)
        if charts.many(len(vm.funnel)):
            st.caption(tr("chart.density_note", total=f"{len(vm.funnel):,}", shown=charts.MARKED))
        layout.drill_to_profile(picked, "ov_funnel", index=0)
        st.caption(tr("page.overview.funnel_note"))
    else:
        st.caption(tr("app.no_data"))


if layout.header("page.overview.title", "page.overview.caption"):
    layout.page_fragment(body)
