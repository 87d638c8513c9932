"""统计检验 Statistical tests: TWFE, event study, direction check, diagnostics, conclusion, methods.
(application/views/tests)"""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.errors import InsufficientData
from analytics.summaries import summarize_event_study, summarize_fit, summarize_insufficient_direction, summarize_reverse
from application.views import tests
from catalogue.formats import fmt_effect, fmt_p
from ui import charts, layout, palette, session, state
from ui.i18n import fmt, lang, mlabel, mname, tr

D = tests.DEFAULTS


def term_label(name: str) -> str:
    base, _, k = name.partition("_lag")
    return mname(base) + (tr("table.lag_suffix", k=k) if k else "")


def coef_table(est_list) -> pd.DataFrame:
    return pd.DataFrame([{tr("table.term"): term_label(e.name), tr("table.estimate"): fmt_effect(e.estimate),
                          tr("table.se"): f"{e.std_error:.4g}", tr("table.ci"): f"{fmt_effect(e.ci_low)} – {fmt_effect(e.ci_high)}",
                          "p": fmt_p(e.p_value),
                          tr("table.std_effect"): fmt_effect(e.std_effect) if e.std_effect is not None else "—"} for e in est_list])


def event_section(es, grain: str, ey: str) -> None:
    frame = es.to_frame()
    naive = pd.DataFrame([{"event_time": int(e.name[2:]), "estimate": e.estimate} for e in es.naive_twfe])
    layout.plot(charts.event_study(frame, naive, tr("chart.event_time", grain=tr(f"filter.grain_{grain}")), mlabel(ey),
                                   {"pre": tr("chart.pre"), "post": tr("chart.post"), "naive": tr("chart.naive")}), "ts_es")
    m1, m2, m3 = st.columns(3)
    m1.metric(tr("page.tests.att"), fmt_effect(es.att.estimate), help=f"95% CI {fmt_effect(es.att.ci_low)} – {fmt_effect(es.att.ci_high)}")
    m2.metric(tr("page.tests.pretrend"), fmt_p(es.pretrend_p), help=tr("page.tests.pretrend_help"))
    m3.metric(tr("page.tests.treated"), f"{es.n_treated_units} / {es.n_units}")
    {"effect": st.success, "no_clear_effect": st.info}.get(es.verdict, st.warning)(summarize_event_study(es, lang()))
    layout.download_csv(frame, "event_study", key="dl_es")


def direction_section(rv, x: str, y: str) -> None:
    st.dataframe(pd.DataFrame([
        {tr("table.direction"): tr("page.tests.forward", x=mname(x), y=mname(y)), tr("table.estimate"): fmt_effect(rv.forward.estimate),
         "p": fmt_p(rv.forward.p_value), "N": rv.n_obs_forward},
        {tr("table.direction"): tr("page.tests.backward", x=mname(x), y=mname(y)), tr("table.estimate"): fmt_effect(rv.backward.estimate),
         "p": fmt_p(rv.backward.p_value), "N": rv.n_obs_backward}]), hide_index=True)
    st.info(summarize_reverse(rv, lang()))
    layout.download_csv(rv.to_frame(), "reverse", key="dl_rev")


def diagnostics_section(dg) -> None:
    d1, d2 = st.columns(2)
    with d1:
        st.markdown(tr("page.tests.missing"))
        st.dataframe(pd.DataFrame({tr("table.metric"): [term_label(c) for c in dg.missing_share],
                                   tr("table.missing"): [f"{100 * s:.1f}%" for s in dg.missing_share.values()]}), hide_index=True)
        st.markdown(tr("page.tests.n_per_unit", min=int(dg.n_per_unit["n"].min()), median=int(dg.n_per_unit["n"].median())))
        if dg.vif:
            st.dataframe(pd.DataFrame({tr("table.term"): [term_label(c) for c in dg.vif], "VIF": list(dg.vif.values())}).round(2),
                         hide_index=True)
    with d2:
        rf = dg.resid_fitted.sample(min(len(dg.resid_fitted), 3000), random_state=0)
        fig = go.Figure(go.Scatter(x=rf["fitted"], y=rf["residual"], mode="markers", marker=dict(size=4, opacity=0.4)))
        fig.add_hline(y=0, line_color=palette.GREY)
        fig.update_layout(height=320, xaxis_title=tr("chart.fitted"), yaxis_title=tr("chart.residual"))
        layout.plot(fig, "ts_rf")


def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    layout.fishing_note(sel.is_narrowed())
    O = tests.options()
    # the model's picks above the tabs (the fit, the direction check and the diagnostics share them), the
    # event study's in its own tab; one view call; then the open tab's results (layout.open_tab)
    c1, c2, c3, c4 = st.columns([2, 3, 1, 2])
    y = c1.selectbox(tr("page.rel.kpi"), O["y"], key=state.pick("ts_y", D.y), format_func=fmt("label"))
    xs = c2.multiselect(tr("page.tests.inputs"), O["xs"], key=state.pick("ts_x", list(D.xs)), format_func=fmt("metric"))
    lag = c3.number_input(tr("page.rel.lag"), 0, state.LAG_MAX, key=state.pick("ts_lag", D.lag))
    control_opts = tests.options(xs=tuple(xs))["controls"]
    st.session_state["ts_ctrl"] = [c for c in st.session_state.get("ts_ctrl", []) if c in control_opts]
    controls = c4.multiselect(tr("page.tests.controls"), control_opts, key="ts_ctrl", format_func=fmt("metric"),
                              placeholder=tr("filter.none"))
    layout.rates_note()
    tab, box = layout.open_tab("ts_tab", lambda name: tr(f"page.tests.tab_{name}"))
    if tab == "event":
        box.subheader(tr("page.tests.event"))
        e1, e2 = box.columns(2)
        treat = e1.selectbox(tr("page.tests.treatment"), O["treatment"], key=state.pick("ts_treat", D.treatment),
                             format_func=fmt("metric"))
        ey = e2.selectbox(tr("page.tests.event_y"), O["event_y"], key=state.pick("ts_ey", D.event_y), format_func=fmt("label"))
    else:  # kept while another tab is open (and in the link)
        treat, ey = st.session_state[state.pick("ts_treat", D.treatment)], st.session_state[state.pick("ts_ey", D.event_y)]

    vm = tests.view(ctx, sel, tests.Params(y, tuple(xs), int(lag), tuple(controls), treat, ey))
    layout.rerun_when_ready(vm.pending)
    fit = vm.fit.value[0] if vm.fit is not None and vm.fit.ok else None
    with box:
        if tab == "twfe":
            st.subheader(tr("page.tests.twfe"))
            if layout.shown(vm.fit):
                st.dataframe(coef_table(fit.coefficients), hide_index=True)
                st.caption(tr("page.tests.fit_meta", n_obs=f"{fit.n_obs:,}", n_units=fit.n_units, n_periods=fit.n_periods))
                # green only for an association (a 95% interval that excludes zero), as the event study's box
                associated = "association" in fit.verdicts.values()
                (st.success if associated else st.info)(summarize_fit(fit, lang()))
                layout.download_csv(fit.to_frame(), "twfe", key="dl_twfe")
        elif tab == "event":
            if layout.shown(vm.event):
                event_section(vm.event.value, sel.grain, vm.params.event_y)
        elif tab == "direction":
            st.subheader(tr("page.tests.reverse"))
            d = vm.direction
            if fit is None:
                layout.shown(vm.fit)  # why there is no direction check: the fit's own message
            elif d is not None:
                if isinstance(d.error, InsufficientData):
                    st.info(summarize_insufficient_direction(lang()))
                elif layout.shown(d):
                    direction_section(d.value, vm.params.xs[0], vm.params.y)
        else:  # (its tab's label is its title)
            if fit is not None:
                diagnostics_section(vm.fit.value[1])
            else:
                layout.shown(vm.fit)

    with st.expander(tr("page.tests.methods"), expanded=False):
        st.markdown(tr("method.text"))
        st.markdown(tr("method.kpis"))
        if fit is not None:  # the correction's formula is for analysts: here, not under the table
            st.caption(tr("page.tests.ssc"))


if layout.header("page.tests.title", "page.tests.caption"):
    layout.page_fragment(body)
