"""情景模拟 What-if: what the fitted model predicts if inputs change, two scenarios side by side."""
import plotly.graph_objects as go
import streamlit as st

from analytics.errors import AnalysisError
from analytics.panel import from_warehouse_frame
from analytics.summaries import summarize_whatif
from analytics.whatif import what_if
from catalogue.formats import fmt_effect
from ui import analyses, charts, data, layout, state
from ui.i18n import fmt, lang, mlabel, mname, tr

INPUTS, KPIS, D = analyses.INPUTS, analyses.KPIS, analyses.DEFAULTS["tests"]


def scenario(col, name: str, xs: list[str], key: str) -> dict:
    col.markdown(f"**{name}**")
    mode = col.radio(tr("page.whatif.mode"), ["abs", "pct"], key=state.pick(f"{key}_mode", "abs"), horizontal=True,
                     format_func=fmt("key", "page.whatif.mode_"))
    changes = {}
    for x in xs:
        if mode == "abs":
            amt = col.slider(mlabel(x), *state.AMOUNT_RANGE["abs"], step=0.5,
                             key=state.pick(f"{key}_{x}_abs", 1.0 if key == "sa" else 2.0))
        else:
            amt = col.slider(f"{mname(x)} (%)", *state.AMOUNT_RANGE["pct"], step=5,
                             key=state.pick(f"{key}_{x}_pct", 10 if key == "sa" else 25))
        if amt:
            changes[x] = (mode, float(amt))
    return changes


if layout.header("page.whatif.title", "page.whatif.caption"):
    v = data.version()
    f = st.session_state["filters"]
    c1, c2, c3 = st.columns([2, 3, 1])
    y = c1.selectbox(tr("page.rel.kpi"), KPIS, key=state.pick("wi_y", D["y"]), format_func=fmt("label"))
    xs = c2.multiselect(tr("page.tests.inputs"), INPUTS, key=state.pick("wi_x", list(D["xs"])), format_func=fmt("metric"))
    lag = c3.number_input(tr("page.rel.lag"), 0, state.LAG_MAX, key=state.pick("wi_lag", D["lag"]))
    if not xs:
        st.info(tr("page.whatif.pick_input"))
        st.stop()
    model = (f.grain, y, tuple(xs), int(lag), f.start, f.end)  # fitted on the selected period
    if not layout.statistics_ready(v, [(analyses.whatif_model, *model)]):
        st.stop()
    try:
        fit = analyses.whatif_model(v, *model)
    except AnalysisError as exc:
        st.error(str(exc))
        st.stop()
    # the scenario starts from each unit's latest period: only those rows become a Panel
    target = from_warehouse_frame(state.latest_rows(v, f), f.grain)
    st.caption(tr("page.whatif.scope", n=target.df["unit"].nunique(), period=target.df["period"].max() if len(target.df) else "—"))
    ca, cb = st.columns(2)
    results = {}
    for col, key, name in ((ca, "sa", tr("page.whatif.scenario_a")), (cb, "sb", tr("page.whatif.scenario_b"))):
        changes = scenario(col, name, xs, key)
        if not changes:
            col.info(tr("page.whatif.no_change"))
            continue
        try:
            r = what_if(fit, target, changes)
            results[name] = r
            col.metric(tr("page.whatif.mean_delta", y=mname(y)), fmt_effect(r.mean_delta),
                       help=f"95% CI {fmt_effect(r.mean_ci[0])} – {fmt_effect(r.mean_ci[1])}")
            col.caption(f"95% CI {fmt_effect(r.mean_ci[0])} – {fmt_effect(r.mean_ci[1])} · "
                        + tr("page.whatif.total", total=fmt_effect(r.total_delta)))
            col.markdown(summarize_whatif(r, lang()))
            for w in r.warnings:
                col.warning(w)
        except AnalysisError as exc:
            col.error(str(exc))
    if results:
        names = list(results)
        fig = go.Figure(go.Bar(
            y=names, x=[r.mean_delta for r in results.values()], orientation="h",
            marker_color=[charts.RED, charts.BLUE][:len(names)],
            error_x=dict(type="data", symmetric=False, array=[r.mean_ci[1] - r.mean_delta for r in results.values()],
                         arrayminus=[r.mean_delta - r.mean_ci[0] for r in results.values()], color=charts.GREY)))
        fig.add_vline(x=0, line_color="#999")
        fig.update_layout(height=220, xaxis_title=tr("chart.predicted_change", y=mlabel(y)), margin=dict(l=100))
        layout.plot(fig, "wi_bar")
        pick = st.radio(tr("page.whatif.per_unit"), names, horizontal=True, key="wi_pick")
        pu = results[pick].per_unit.copy()
        st.dataframe(pu[["name", "baseline", "new", "delta", "ci_low", "ci_high"]].rename(columns={
            "name": tr("table.unit"), "baseline": tr("table.baseline"), "new": tr("table.scenario_value"),
            "delta": tr("table.delta"), "ci_low": tr("table.ci_low"), "ci_high": tr("table.ci_high")}).round(4),
            hide_index=True, height=320)
        layout.download_csv(pu, "whatif", key="dl_wi")
    st.warning(tr("page.whatif.caveat"))
