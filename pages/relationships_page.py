"""关联分析 Relationships: does an input go with a KPI within units, and does that survive correction?
(application/views/relationships)"""
import pandas as pd
import streamlit as st

from analytics.summaries import summarize_correlations, summarize_quartiles
from application.views import relationships as rel
from catalogue import metric
from catalogue.formats import fmt_p, for_reader
from ui import charts, layout, session, state
from ui.i18n import fmt, lang, mname, tr

D, O = rel.DEFAULTS, rel.options()


def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    c1, c2, c3 = st.columns([2, 2, 1])
    x = c1.selectbox(tr("page.rel.input"), O["x"], key=state.pick("rel_x", D.x), format_func=fmt("label"))
    y = c2.selectbox(tr("page.rel.kpi"), O["y"], key=state.pick("rel_y", D.y), format_func=fmt("label"))
    lag = c3.number_input(tr("page.rel.lag"), min_value=0, max_value=state.LAG_MAX, step=1, key=state.pick("rel_lag", D.lag))
    layout.rates_note()
    vm = rel.view(ctx, sel, rel.Params(x, y, int(lag)))
    layout.rerun_when_ready(vm.pending)
    if vm.points.pending:
        layout.shown(vm.points)
        layout.stop()
    layout.fishing_note(vm.narrowed)
    if vm.too_few:
        st.warning(tr("page.rel.too_few"))
        layout.stop()
    if not layout.shown(vm.points) or not layout.shown(vm.correlations):
        layout.stop()
    # the pair's analysis and the whole matrix in tabs: a pick or a filter redraws the charts of one
    layout.tabs("rel_tab", lambda name: tr(f"page.rel.tab_{name}"),
                {"pair": lambda: pair_section(vm, x, y), "matrix": lambda: matrix_section(vm)})


def pair_section(vm, x: str, y: str) -> None:
    """The chosen input and KPI: within-unit and binned scatter, pooled vs within, the quartile comparison."""
    shown, line, bins, n_points = vm.points.value
    a, b = st.columns(2)
    x_title, y_title = tr("chart.within_x", name=mname(x)), tr("chart.within_y", name=mname(y))
    sampled = len(shown) < n_points  # too many to draw one by one: a density of the sample
    layout.plot(charts.scatter_fit(shown["xw"], shown["yw"], x_title, y_title, hover=shown["label"],
                                   title=tr("page.rel.within_scatter"), line=line,
                                   count_label=tr("chart.points_in_cell") if sampled else None), "rel_sc", a)
    if sampled:
        a.caption(tr("page.rel.sampled", shown=f"{len(shown):,}", total=f"{n_points:,}"))
    layout.plot(charts.binned(bins, x_title, y_title, title=tr("page.rel.binned")), "rel_bin", b)

    st.subheader(tr("page.rel.compare"))
    t = vm.comparison
    st.dataframe(pd.DataFrame([{tr("table.scope"): tr(f"scope.{s}"), "r": round(t.loc[s, "r"], 3),
                                tr("table.ci"): f"{t.loc[s, 'ci_low']:.3f} – {t.loc[s, 'ci_high']:.3f}",
                                "p": fmt_p(t.loc[s, "p_value"]), tr("table.q_bh"): fmt_p(t.loc[s, "q_value"]),
                                "N": int(t.loc[s, "n"]), tr("table.units"): int(t.loc[s, "n_units"])} for s in t.index]),
                 hide_index=True)
    if vm.warning:
        st.warning(tr(f"page.rel.{vm.warning}"))
    st.caption(tr("page.rel.compare_note"))

    if vm.quartiles.ok:
        st.info(summarize_quartiles(vm.quartiles.value, lang()))
    elif vm.quartiles.error is not None:
        st.caption(for_reader(vm.quartiles.message, lang()))
    else:
        layout.shown(vm.quartiles)


def matrix_section(vm) -> None:
    """Every input against every KPI, within units; a cell opens its pair in the other tab."""
    z, q = vm.heat_r, vm.heat_q
    better = {c: metric(c).sign for c in z.columns}  # a KPI without a better direction stays uncoloured
    picked = layout.plot(charts.heatmap(z, q, better, [mname(i) for i in z.index], [mname(c) for c in z.columns],
                                        {"better": tr("chart.heat_better"), "worse": tr("chart.heat_worse")}, height=620),
                         "rel_heat", select=True)
    pair = layout.clicked(picked, "rel_heat")
    if pair and pair[0] in O["x"] and pair[1] in O["y"]:
        state.request_picks(rel_x=pair[0], rel_y=pair[1], rel_tab="pair")  # a cell opens its pair's analysis
        st.rerun()
    st.caption(tr("page.rel.heat_note") + " " + tr("page.rel.heat_click"))
    st.markdown(summarize_correlations(vm.correlations.value, lang()))
    layout.download_csv(vm.correlations.value.table, "correlations", key="rel_dl")


if layout.header("page.rel.title", "page.rel.caption"):
    layout.page_fragment(body)
