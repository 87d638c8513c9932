"""情景模拟 What-if: what the fitted model predicts if inputs change, two scenarios side by side.
(application/views/whatif)"""
import plotly.graph_objects as go
import streamlit as st

from analytics.errors import NoChange
from analytics.summaries import summarize_whatif, summarize_whatif_counts, whatif_warning
from application.views import whatif
from catalogue import metric
from catalogue.formats import fmt_effect, fmt_pct
from ui import layout, palette, session, state
from ui.i18n import fmt, lang, mlabel, mname, said, tr

UNITS_SHOWN = 200  # rows of the per-unit table (11,842 at group scale were 1.3 MB for every run)

D, O = whatif.DEFAULTS, whatif.options()
NAMES = {"sa": "page.whatif.scenario_a", "sb": "page.whatif.scenario_b"}


def scenario_picks(col, key: str, xs: list[str]) -> whatif.Scenario:
    col.markdown(f"**{tr(NAMES[key])}**")
    mode = col.radio(tr("page.whatif.mode"), O["mode"], key=state.pick(f"{key}_mode", "abs"), horizontal=True,
                     format_func=fmt("key", "page.whatif.mode_"))
    if mode in whatif.SET_MODES:  # a rule, not an amount
        col.caption(tr(f"page.whatif.set_mode_note.{mode}"))
        return whatif.Scenario(mode, tuple((x, 0.0) for x in xs))
    lo, hi = whatif.AMOUNT_RANGE[mode]
    amounts = []
    for x in xs:
        label = mlabel(x) if mode == "abs" else f"{mname(x)} (%)"
        amounts.append((x, col.slider(label, lo, hi, step=whatif.AMOUNT_STEP[mode],
                                      key=state.pick(f"{key}_{x}_{mode}", whatif.DEFAULT_AMOUNT[(key, mode)]))))
    return whatif.Scenario(mode, tuple(amounts))


def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    c1, c2, c3 = st.columns([2, 3, 1])
    y = c1.selectbox(tr("page.rel.kpi"), O["y"], key=state.pick("wi_y", D.y), format_func=fmt("label"))
    xs = c2.multiselect(tr("page.tests.inputs"), O["xs"], key=state.pick("wi_x", list(D.xs)), format_func=fmt("metric"))
    lag = c3.number_input(tr("page.rel.lag"), 0, state.LAG_MAX, key=state.pick("wi_lag", D.lag))
    if not xs:
        st.info(tr("page.whatif.pick_input"))
        layout.stop()
    scope_box = st.container()
    cols = dict(zip(whatif.SCENARIOS, st.columns(2)))
    picks = {key: scenario_picks(cols[key], key, xs) for key in whatif.SCENARIOS}
    vm = whatif.view(ctx, sel, whatif.Params(y, tuple(xs), int(lag), picks["sa"], picks["sb"]))
    layout.rerun_when_ready(vm.pending)
    if not layout.shown(vm.model, scope_box):
        layout.stop()
    scope_box.caption(tr("page.whatif.scope", n=vm.n_units, period=vm.period or "—"))
    results = {}
    for key, r in vm.scenarios.items():
        col = cols[key]
        if r is None:
            col.info(tr("page.whatif.no_change"))
        elif isinstance(r, NoChange):
            col.info(said(r))
        elif isinstance(r, Exception):
            col.error(said(r))
        else:
            results[key] = r
            col.metric(tr("page.whatif.mean_delta", y=mname(y)), fmt_effect(r.mean_delta),
                       help=f"95% CI {fmt_effect(r.mean_ci[0])} – {fmt_effect(r.mean_ci[1])}")
            col.caption(f"95% CI {fmt_effect(r.mean_ci[0])} – {fmt_effect(r.mean_ci[1])} · "
                        + tr("page.whatif.total", total=fmt_effect(r.total_delta)))
            if r.counts:  # the leader's question: how many fewer complaints a quarter, and how sure
                what = metric(y).count_name(lang())
                col.metric(tr("page.whatif.count_delta", what=what), f"{r.counts['delta']:+,.0f}".replace("-", "−"),
                           help=f"95% CI {fmt_effect(r.counts['ci'][0])} – {fmt_effect(r.counts['ci'][1])}")
                col.markdown(summarize_whatif_counts(r, lang()))
            if r.total_pct is not None:
                col.caption(tr("page.whatif.pct_of_baseline", pct=fmt_pct(r.total_pct)))
            col.markdown(summarize_whatif(r, lang()))
            for w in r.warnings:
                col.warning(whatif_warning(w, lang()))
    if results:
        names = list(results)
        fig = go.Figure(go.Bar(
            y=[tr(NAMES[k]) for k in names], x=[r.mean_delta for r in results.values()], orientation="h",
            marker_color=palette.NEUTRALS[:len(names)],
            error_x=dict(type="data", symmetric=False, array=[r.mean_ci[1] - r.mean_delta for r in results.values()],
                         arrayminus=[r.mean_delta - r.mean_ci[0] for r in results.values()], color=palette.GREY)))
        fig.add_vline(x=0, line_color="#999")
        fig.update_layout(height=220, xaxis_title=tr("chart.predicted_change", y=mlabel(y)), margin=dict(l=100))
        layout.plot(fig, "wi_bar")
        pick = st.radio(tr("page.whatif.per_unit"), names, horizontal=True, key="wi_pick", format_func=lambda k: tr(NAMES[k]))
        pu = results[pick].per_unit
        # a group has thousands of units: the table lists those the scenario moves most, the CSV all of them
        shown = pu.loc[pu["delta"].abs().sort_values(ascending=False, kind="stable").index[:UNITS_SHOWN]] \
            if len(pu) > UNITS_SHOWN else pu
        st.dataframe(shown[["name", "baseline", "new", "delta", "ci_low", "ci_high"]].rename(columns={
            "name": tr("table.unit"), "baseline": tr("table.baseline"), "new": tr("table.scenario_value"),
            "delta": tr("table.delta"), "ci_low": tr("table.ci_low"), "ci_high": tr("table.ci_high")}).round(4),
            hide_index=True, height=320)
        if len(pu) > UNITS_SHOWN:
            st.caption(tr("page.whatif.units_shown", shown=UNITS_SHOWN, total=f"{len(pu):,}"))
        layout.download_csv(pu, "whatif", key="dl_wi")
    st.warning(tr("page.whatif.caveat"))


if layout.header("page.whatif.title", "page.whatif.caption"):
    layout.page_fragment(body)
