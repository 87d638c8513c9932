"""关联分析 Relationships: does an input go with a KPI within units, and does that survive correction?"""
import pandas as pd
import streamlit as st

from analytics.errors import AnalysisError
from analytics.summaries import summarize_correlations, summarize_quartiles
from catalogue.formats import fmt_p
from ui import analyses, charts, data, layout, state
from ui.i18n import fmt, lang, mname, tr

INPUTS, KPIS, D = analyses.INPUTS, analyses.KPIS, analyses.DEFAULTS["rel"]


if layout.header("page.rel.title", "page.rel.caption"):
    v = data.version()
    f = st.session_state["filters"]
    c1, c2, c3 = st.columns([2, 2, 1])
    x = c1.selectbox(tr("page.rel.input"), INPUTS, key=state.pick("rel_x", D["x"]), format_func=fmt("label"))
    y = c2.selectbox(tr("page.rel.kpi"), KPIS, key=state.pick("rel_y", D["y"]), format_func=fmt("label"))
    lag = c3.number_input(tr("page.rel.lag"), min_value=0, max_value=state.LAG_MAX, step=1, key=state.pick("rel_lag", D["lag"]))
    layout.rates_note()
    if not layout.statistics_ready(v, [(analyses.within_points, f, x, y, int(lag)), (analyses.corr_matrix, f, int(lag)),
                                       (analyses.quartiles, f, x, y, int(lag))]):
        st.stop()
    shown, line, bins, n_points = analyses.within_points(v, f, x, y, int(lag))
    layout.fishing_note(f.is_narrowed())
    if n_points < 10:
        st.warning(tr("page.rel.too_few"))
        st.stop()
    try:
        res = analyses.corr_matrix(v, f, int(lag))
    except AnalysisError as exc:
        st.error(str(exc))
        st.stop()
    t = res.table[(res.table.input == x) & (res.table.kpi == y) & (res.table.method == "pearson")].set_index("scope")

    a, b = st.columns(2)
    layout.plot(charts.scatter_fit(shown["xw"], shown["yw"], tr("chart.within_x", name=mname(x)), tr("chart.within_y", name=mname(y)),
                                      hover=shown["label"], title=tr("page.rel.within_scatter"), line=line), "rel_sc", a)
    if len(shown) < n_points:
        a.caption(tr("page.rel.sampled", shown=f"{len(shown):,}", total=f"{n_points:,}"))
    layout.plot(charts.binned(bins, tr("chart.within_x", name=mname(x)), tr("chart.within_y", name=mname(y)),
                                 title=tr("page.rel.binned")), "rel_bin", b)

    st.subheader(tr("page.rel.compare"))
    comp = pd.DataFrame([{tr("table.scope"): tr(f"scope.{s}"), "r": round(t.loc[s, "r"], 3),
                          tr("table.ci"): f"{t.loc[s, 'ci_low']:.3f} – {t.loc[s, 'ci_high']:.3f}",
                          "p": fmt_p(t.loc[s, "p_value"]), tr("table.q_bh"): fmt_p(t.loc[s, "q_value"]),
                          "N": int(t.loc[s, "n"]), tr("table.units"): int(t.loc[s, "n_units"])} for s in ("pooled", "within")])
    st.dataframe(comp, hide_index=True)
    # the pair on screen was chosen, not searched for among all pairs: its own p-values decide the warning
    pooled_sig, within_sig = t.loc["pooled", "p_value"] < 0.05, t.loc["within", "p_value"] < 0.05
    if pooled_sig and within_sig and (t.loc["pooled", "r"] > 0) != (t.loc["within", "r"] > 0):
        st.warning(tr("page.rel.sign_flip"))
    elif pooled_sig and not within_sig:
        st.warning(tr("page.rel.pooled_only"))
    st.caption(tr("page.rel.compare_note"))

    try:
        qr = analyses.quartiles(v, f, x, y, int(lag))
        st.info(summarize_quartiles(qr, lang()))
    except AnalysisError as exc:
        st.caption(str(exc))

    st.subheader(tr("page.rel.heatmap"))
    wt = res.table[(res.table.scope == "within") & (res.table.method == "pearson")]
    z = wt.pivot(index="input", columns="kpi", values="r").reindex(index=INPUTS, columns=KPIS)
    q = wt.pivot(index="input", columns="kpi", values="q_value").reindex(index=INPUTS, columns=KPIS)
    text = z.round(2).astype(str).where(q >= 0.05, z.round(2).astype(str) + "*").where(z.notna(), "")
    z.index, z.columns = [mname(i) for i in z.index], [mname(c) for c in z.columns]
    text.index, text.columns = z.index, z.columns
    layout.plot(charts.heatmap(z, text, height=620), "rel_heat")
    st.caption(tr("page.rel.heat_note"))
    st.markdown(summarize_correlations(res, lang()))
    layout.download_csv(res.table, "correlations", key="rel_dl")
