"""季度简报 Quarterly briefing: a screenshot-ready layout and PPTX / HTML / PNG exports.
(application/views/briefing)"""
import pandas as pd
import streamlit as st

from application.views import briefing
from briefing import export
from briefing.content import alert_text, event_text, finding_text, narrative, quarter_label

ALERTS_SHOWN = 12  # the worst ones; the overview lists them all
from briefing.figures import browser_path, build_figures
from application import notes as notes_mod
from catalogue import t, targets
from catalogue.formats import fmt_period
from ui import cards, layout, session, signin
from ui.i18n import fmt, lang, tr, value_labels


def initiative_table(ini: pd.DataFrame, language: str) -> pd.DataFrame:
    """The quarter's initiatives as the reader's table. Reads no session state (the language is passed): the
    CSV of all of them is built by the download button on a thread of its own."""
    return pd.DataFrame({
        t("table.kind", language): value_labels(ini["kind"], "initiative", language),
        t("table.title", language): ini["title"], t("table.branch", language): ini["unit_name"],
        t("table.start", language): pd.to_datetime(ini["start"]).dt.strftime("%Y-%m-%d"),
        t("table.end", language): pd.to_datetime(ini["end"]).dt.strftime("%Y-%m-%d").fillna(t("table.ongoing", language)),
        t("table.status", language): ini["event"].map(lambda e: t("brief.started" if e == "started" else "brief.finished", language)),
    })


def quarter_notes(b) -> list[tuple]:
    """The quarter's 批注 the viewer may read: (unit name, month, text, author)."""
    from analytics.periods import first_month, last_month

    ctx = session.context()
    names = ctx.snapshot.unit_names()
    return [(names.get(n.business_unit_id, n.business_unit_id), n.month, n.text, n.author)
            for n in notes_mod.visible(session.notes(), ctx.snapshot, None, first_month(b.quarter), last_month(b.quarter))]


FORMATS = (("pdf", "application/pdf", "pdf", True),
           ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx", True),
           ("html", "text/html", "html", False),
           ("png", "application/zip", "zip", True))


def export_bytes(b, fmt_: str, lang_: str, mark: str | None, notes: list) -> bytes:
    """The export, with the viewer's watermark on every slide, chart and page."""
    if fmt_ == "pptx":
        return export.to_pptx(b, lang_, mark, annotations=notes)
    if fmt_ == "html":
        return export.to_html(b, lang_, mark, notes).encode("utf-8")
    if fmt_ == "pdf":
        return export.to_pdf(b, lang_, mark, annotations=notes)
    return export.to_png_zip(b, lang_, mark)


def export_row(b, quarter: str, lang_: str) -> None:
    """One click per format, at the top: the file is built when its button is pressed (the button turns into
    a spinner meanwhile; a PPTX takes a quarter of a minute) and downloads by itself. What the build needs
    from this session — the watermark, the quarter's notes in the viewer's scope — is taken now, since the
    build runs outside the script."""
    if not signin.may("export"):
        return
    mark, notes = signin.export_watermark(), quarter_notes(b)
    if not browser_path():
        st.warning(tr("brief.page.no_browser"))
    for col, (fmt_, mime, ext, needs_browser) in zip(st.columns(len(FORMATS)), FORMATS):
        col.download_button(tr("brief.page.export_as", fmt=fmt_.upper()),
                            lambda fmt_=fmt_: export_bytes(b, fmt_, lang_, mark, notes),
                            file_name=f"briefing_{quarter}_{lang_}.{ext}", mime=mime, key=f"br_dl_{fmt_}",
                            disabled=needs_browser and not browser_path(), icon=":material/download:",
                            on_click=signin.exported, args=(f"briefing {quarter}", fmt_), width="stretch")


st.markdown("<style>.stMainBlockContainer p {font-size: 1.1rem;}</style>", unsafe_allow_html=True)
def body() -> None:
    """The page below its title: its picks and all they change (a fragment: layout.page_fragment)."""
    ctx, sel = session.context(), session.selection()
    st.session_state["br_quarter"] = briefing.resolve(ctx, briefing.Params(st.session_state.get("br_quarter"))).quarter
    quarter = st.selectbox(tr("brief.page.quarter"), briefing.options(ctx)["quarter"], key="br_quarter", format_func=fmt("period"))
    vm = briefing.view(ctx, sel, briefing.Params(quarter))
    layout.shown_or_stop(vm.result)
    b = vm.result.value
    L = lang()
    st.header(tr("brief.title", quarter=quarter_label(quarter, L)))
    st.caption(tr("brief.subtitle", scope=layout.md_escape(export.scope_label(b, L)), n=b.n_units,
                  date=pd.Timestamp.today().date()))
    export_row(b, quarter, L)
    # the sections and their numbers are the exports' (一 … 七, the summary under 一), so the page, the PDF,
    # the HTML and the slides are discussed with the same words in the meeting
    st.subheader(tr("brief.sec.kpis"))
    in_force = targets()
    st.html(cards.cards_html([cards.card_for(k.id, k.value, k.delta_prev, k.delta_yoy, k.status,
                                             in_force.get(k.id, {}).get("value"), in_force.get(k.id, {}).get("amber"))
                              for k in b.kpis]))
    st.markdown(f"**{tr('brief.sec.narrative')}**　" + layout.md_escape(narrative(b, L)))
    figs = build_figures(b, L)
    a, c = st.columns(2)
    a.subheader(tr("brief.sec.trend"))
    layout.plot(figs["trend"], "br_trend", a)
    c.subheader(tr("brief.sec.quadrant"))
    layout.drill_to_profile(layout.plot(figs["quadrant"], "br_quad", c, select=True), "br_quad")
    st.subheader(tr("brief.sec.ranks"))
    cols = st.columns(len(b.ranks))
    for col, key in zip(cols, [k for k in figs if k.startswith("rank_")]):
        layout.drill_to_profile(layout.plot(figs[key], f"br_{key}", col, select=True), f"br_{key}")
    st.caption(tr("brief.page.click_note"))
    st.subheader(tr("brief.sec.findings"))
    for fnd in b.findings:
        (st.success if fnd.supported else st.caption)(finding_text(fnd, L))
    for i, e in enumerate(b.events):
        layout.plot(figs[f"event_{i}"], f"br_event_{i}")
        st.info(event_text(e, L))
    st.subheader(tr("brief.sec.initiatives"))
    if len(b.initiatives):
        st.dataframe(initiative_table(b.initiatives.head(briefing.INITIATIVES_SHOWN), L), hide_index=True, height=240)
        if len(b.initiatives) > briefing.INITIATIVES_SHOWN:
            st.caption(tr("brief.initiatives_shown", shown=briefing.INITIATIVES_SHOWN, total=len(b.initiatives)))
        every = b.initiatives
        layout.download_csv(lambda: initiative_table(every, L), f"initiatives_{quarter}", key="dl_br_ini")
    else:
        st.caption(tr("brief.no_initiatives"))
    for k, vals in b.data_notes or [("brief.no_notes", {})]:  # 六 is initiatives and data quality
        st.caption(tr(k, **{name: layout.md_escape(v) if isinstance(v, str) else v for name, v in vals.items()}))
    st.subheader(tr("brief.sec.alerts"))
    alerts = getattr(b, "alerts", None)
    if alerts is None or alerts.empty:
        st.caption(tr("page.overview.alerts_none"))
    else:
        st.markdown(tr("page.overview.alerts_counts", red=int((alerts["level"] == "red").sum()),
                       amber=int((alerts["level"] == "amber").sum()), branches=alerts["unit_id"].nunique(),
                       units=alerts["business_unit_id"].nunique()))
        for _, r in alerts.head(ALERTS_SHOWN).iterrows():
            st.markdown(f"- {':red-badge' if r['level'] == 'red' else ':orange-badge'}[{tr('alert.' + r['level'])}] "
                        f"{layout.md_escape(alert_text(r, L))}")
        if len(alerts) > ALERTS_SHOWN:
            st.caption(tr("brief.alerts_more", n=len(alerts) - ALERTS_SHOWN))
    notes = quarter_notes(b)
    if notes:
        st.markdown(f"**{tr('brief.notes_title')}**")
    for unit_name, month, text, author in notes:
        st.caption(f"✎ {layout.md_escape(unit_name)} · {fmt_period(month, L)}：{layout.md_escape(text)}（{layout.md_escape(author)}）")


if layout.header("brief.page.title", "brief.page.caption"):
    layout.page_fragment(body)
