"""支部画像 Unit profile: one business unit's branches, people, activity, initiatives, KPIs and peers."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.peers import peer_percentiles
from catalogue import metric_ids
from catalogue.formats import fmt_metric
from ui import charts, data, layout
from ui.i18n import fmt, lang, mlabel, mname, tr, value_label

TREND_KPIS = ["complaints_per_10k", "saidi", "satisfaction", "rs1", "bill_recovery", "line_loss"]

if layout.header("page.profile.title", "page.profile.caption"):
    v = data.version()
    f = st.session_state["filters"]
    bus = data.business_units(v)
    ids = bus["business_unit_id"].tolist()
    names = dict(zip(bus["business_unit_id"], bus["business_unit_name"]))
    if st.session_state.get("pf_unit") not in ids:
        st.session_state["pf_unit"] = f.unit if f.unit in ids else ids[0]
    unit = st.selectbox(tr("page.profile.pick"), ids, key="pf_unit", format_func=lambda u: f"{names[u]}（{u}）")
    row = bus.set_index("business_unit_id").loc[unit]
    st.markdown(tr("page.profile.facts", type=value_label("unit_type", row["unit_type"]),
                   region=value_label("region", row["region"]), n=int(row["n_branches"])))

    panel = data.panel(v, f.grain)
    mine = panel[(panel["business_unit_id"] == unit)]
    if f.start:
        mine = mine[(mine["period"] >= f.start) & (mine["period"] <= f.end)]

    c1, c2 = st.columns([1, 1])
    with c1:
        st.subheader(tr("page.profile.branches"))
        br = data.branches(v, unit)
        br = br.assign(org_level=br["org_level"].map(lambda x: value_label("org_level", x)),
                       founded=pd.to_datetime(br["founded"]).dt.strftime("%Y-%m-%d"))
        st.dataframe(br.rename(columns={"unit_id": tr("table.code"), "unit_name": tr("table.name"),
                                        "org_level": tr("table.level"), "founded": tr("table.founded"),
                                        "members": tr("table.members")}), hide_index=True)
    with c2:
        st.subheader(tr("page.profile.members"))
        if charts.has_values(mine, ["members", "pioneer_posts"]):
            layout.plot(charts.line(mine, "period_start", {"members": mname("members"), "pioneer_posts": mname("pioneer_posts")},
                                        height=300), "pf_members")
        else:
            st.caption(tr("app.no_data"))

    st.subheader(tr("page.profile.activities"))
    acts = data.activities_by_type(v, unit)
    if acts.empty:
        st.caption(tr("app.no_data"))
    else:
        fig = go.Figure()
        for kind, d in acts.groupby("activity_type"):
            fig.add_trace(go.Bar(x=d["month"], y=d["n"], name=value_label("activity_type", kind)))
        fig.update_layout(barmode="stack", height=340, yaxis_title=tr("chart.count"))
        layout.plot(fig, "pf_acts")

    st.subheader(tr("page.profile.kpis"))
    ini = data.initiatives(v, unit)
    if st.session_state.get("pf_kpi") not in TREND_KPIS:
        st.session_state["pf_kpi"] = TREND_KPIS[0]
    kpi = st.selectbox(tr("page.profile.kpi_pick"), TREND_KPIS, key="pf_kpi", format_func=fmt("label"))
    if charts.has_values(mine, [kpi]):
        fig = charts.line(mine, "period_start", {kpi: mname(kpi)}, y_title=mlabel(kpi), height=340)
        charts.annotate_events(fig, [(r.start, value_label("initiative", r.kind)) for r in ini.itertuples()
                                     if r.kind in ("党建示范点", "书记项目")][:12], color=charts.RED)
        layout.plot(fig, "pf_kpi_chart")
    else:
        st.caption(tr("app.no_data"))
    if not ini.empty:
        shown = ini.assign(kind=ini["kind"].map(lambda k: value_label("initiative", k)),
                           start=pd.to_datetime(ini["start"]).dt.strftime("%Y-%m-%d"),
                           end=pd.to_datetime(ini["end"]).dt.strftime("%Y-%m-%d").fillna(tr("table.ongoing")))
        st.dataframe(shown[["kind", "title", "level", "start", "end", "unit_name"]].rename(columns={
            "kind": tr("table.kind"), "title": tr("table.title"), "level": tr("table.level"), "start": tr("table.start"),
            "end": tr("table.end"), "unit_name": tr("table.branch")}), hide_index=True)

    st.subheader(tr("page.profile.assessments"))
    ass = data.assessments(v, unit)
    if ass.empty:
        st.caption(tr("app.no_data"))
    else:
        fig = go.Figure()
        for b, d in ass.groupby("unit_name"):
            fig.add_trace(go.Scatter(x=d["period_start"], y=d["total"], name=b, mode="lines+markers"))
        fig.update_layout(height=320, yaxis_title=tr("chart.score"))
        layout.plot(fig, "pf_ass")

    st.subheader(tr("page.profile.peers"))
    last = panel[panel["period"] == (mine["period"].max() if len(mine) else panel["period"].max())]
    peers = last[last["unit_type"] == row["unit_type"]]
    pp = peer_percentiles(peers, unit, metric_ids("kpi") + metric_ids("input"))
    rows = [{tr("table.metric"): mname(r.metric), tr("table.value"): fmt_metric(r.metric, r.value, lang()),
             tr("table.percentile"): round(r.percentile)} for r in pp.itertuples()]
    st.caption(tr("page.profile.peers_note", n=len(peers), period=last["period"].iloc[0] if len(last) else ""))
    if not rows:
        st.caption(tr("app.no_data"))
    else:
        st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
            tr("table.percentile"): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d")})
