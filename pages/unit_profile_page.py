"""支部画像 Unit profile: one business unit's branches, people, activity, initiatives, KPIs and peers.
(application/views/profile)"""
import pandas as pd
import streamlit as st

from application.views import profile
from catalogue.formats import fmt_metric
from application import notes as notes_mod
from ui import charts, layout, palette, session, signin, state
from ui.i18n import fmt, lang, mlabel, mname, said, tr, value_label, value_labels

def notes_section(unit: str, unit_notes) -> None:
    """批注 on this unit: the list, and a form for those who may annotate (their scope holds the unit)."""
    st.markdown(f"**{tr('page.profile.notes')}**")
    for n in unit_notes:
        st.caption(f"{n.month} · {layout.md_escape(n.text)} — {layout.md_escape(n.author)}")
    if not unit_notes:
        st.caption(tr("page.profile.notes_none"))
    if not signin.may("annotate"):
        return
    with st.expander(tr("page.profile.note_add")), st.form("pf_note", clear_on_submit=True):
        months = sorted({p for p in session.context().snapshot.periods("month")}, reverse=True)
        month = st.selectbox(tr("page.profile.note_month"), months, format_func=fmt("period"))
        text = st.text_input(tr("page.profile.note_text"), max_chars=notes_mod.MAX_CHARS)
        if st.form_submit_button(tr("page.profile.note_save"), type="primary"):
            try:
                note = session.notes().add(unit, month, text, signin.current().account)
            except notes_mod.NoteError as exc:
                st.error(said(exc))
            else:
                signin.audit("note_added", unit=unit, month=month, note=note.id)
                st.rerun()


def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    picked = profile.resolve(ctx, sel, profile.Params(st.session_state.get("pf_unit"), st.session_state.get("pf_kpi", profile.DEFAULTS.kpi)))
    st.session_state["pf_unit"], st.session_state["pf_kpi"] = picked.unit, picked.kpi
    O, names = profile.options(ctx), ctx.snapshot.unit_names()
    unit = state.unit_picker(st, "pf_unit", {u: names[u] for u in O["unit"]}, tr("page.profile.pick"), beside=True)
    layout.breadcrumbs(ctx.snapshot.org_path(unit), "pf", last_is_current=True)
    vm = profile.view(ctx, sel, profile.Params(unit, st.session_state["pf_kpi"]))
    unit_notes = notes_mod.visible(session.notes(), ctx.snapshot, unit)
    st.markdown(tr("page.profile.facts", type=value_label("unit_type", vm.unit_type),
                   region=value_label("region", vm.region), n=vm.n_branches))

    # one tab's charts at a time: a unit pick redraws at most two (layout.tabs)
    def kpis() -> None:
        kpi_section(vm, O["kpi"], unit_notes)
        notes_section(unit, unit_notes)  # after the trend's initiatives: the notes explain the same chart

    layout.tabs("pf_tab", lambda name: tr(f"page.profile.tab_{name}"),
                {"kpi": kpis, "party": lambda: party_section(vm), "work": lambda: work_section(vm),
                 "peers": lambda: peers_section(vm)})


def kpi_section(vm, kpis: list[str], unit_notes) -> None:
    """A KPI's trend with the unit's initiatives and notes marked on it, and the initiatives' list."""
    kpi = st.selectbox(tr("page.profile.kpi_pick"), kpis, key="pf_kpi", format_func=fmt("label"))
    if charts.has_values(vm.rows, [kpi]):
        fig = charts.line(vm.rows, "period_start", {kpi: mname(kpi)}, y_title=mlabel(kpi), height=340)
        events = ([(start, value_label("initiative", kind), palette.BRAND) for start, kind in vm.markers]
                  + [(pd.Timestamp(f"{n.month}-01"), n.text[:16], palette.GREY) for n in unit_notes])
        charts.add_marks(fig, *charts.event_marks(events))  # initiatives and notes in one call (charts.add_marks)
        layout.plot(fig, "pf_kpi_chart")
    else:
        st.caption(tr("app.no_data"))
    ini = vm.initiatives
    if not ini.empty:
        st.markdown(f"**{tr('page.profile.initiatives')}**")
        shown = ini.assign(kind=value_labels(ini["kind"], "initiative"),
                           start=pd.to_datetime(ini["start"]).dt.strftime("%Y-%m-%d"),
                           end=pd.to_datetime(ini["end"]).dt.strftime("%Y-%m-%d").fillna(tr("table.ongoing")))
        st.dataframe(shown[["kind", "title", "level", "start", "end", "unit_name"]].rename(columns={
            "kind": tr("table.kind"), "title": tr("table.title"), "level": tr("table.level"), "start": tr("table.start"),
            "end": tr("table.end"), "unit_name": tr("table.branch")}), hide_index=True)


def party_section(vm) -> None:
    """The unit's branches, and its members and pioneer posts over time."""
    c1, c2 = st.columns([1, 1])
    with c1:
        st.subheader(tr("page.profile.branches"))
        br = vm.branches.assign(org_level=value_labels(vm.branches["org_level"], "org_level"),
                                founded=pd.to_datetime(vm.branches["founded"]).dt.strftime("%Y-%m-%d"))
        st.dataframe(br.rename(columns={"unit_id": tr("table.code"), "unit_name": tr("table.name"),
                                        "org_level": tr("table.level"), "founded": tr("table.founded"),
                                        "members": tr("table.members")}), hide_index=True)
    with c2:
        st.subheader(tr("page.profile.members"))
        if charts.has_values(vm.rows, ["members", "pioneer_posts"]):
            layout.plot(charts.line(vm.rows, "period_start", {"members": mname("members"), "pioneer_posts": mname("pioneer_posts")},
                                    height=300), "pf_members")
        else:
            st.caption(tr("app.no_data"))


def work_section(vm) -> None:
    """Organisational life by month (三会一课, 主题党日 …) and the branches' assessment scores."""
    st.subheader(tr("page.profile.activities"))
    if vm.activities.empty:
        st.caption(tr("app.no_data"))
    else:
        fig = charts.figure([dict(type="bar", x=d["month"], y=d["n"], name=value_label("activity_type", kind),
                                  marker_color=palette.activity_colour(kind))
                             for kind, d in vm.activities.groupby("activity_type")],
                            dict(barmode="stack", height=340, yaxis_title=tr("chart.count")))
        layout.plot(fig, "pf_acts")

    st.subheader(tr("page.profile.assessments"))
    if vm.assessments.empty:
        st.caption(tr("app.no_data"))
    else:
        fig = charts.figure([dict(type="scatter", x=d["period_start"], y=d["total"], name=b, mode="lines+markers")
                             for b, d in vm.assessments.groupby("unit_name")], dict(height=320, yaxis_title=tr("chart.score")))
        layout.plot(fig, "pf_ass")


def peers_section(vm) -> None:
    """Where the unit stands among units of its type, metric by metric."""
    st.caption(tr("page.profile.peers_note", n=vm.n_peers, period=fmt("period")(vm.peer_period)))
    if vm.peers.empty:
        st.caption(tr("app.no_data"))
    else:
        st.dataframe(pd.DataFrame([{tr("table.metric"): mname(r.metric), tr("table.value"): fmt_metric(r.metric, r.value, lang()),
                                    tr("table.percentile"): round(r.percentile)} for r in vm.peers.itertuples()]),
                     hide_index=True, column_config={
                         tr("table.percentile"): st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d")})


if layout.header("page.profile.title", "page.profile.caption"):
    layout.page_fragment(body)
