"""What every page starts with: title, the synthetic-data banner, and the empty-warehouse guidance."""
from __future__ import annotations

import re

import streamlit as st

from ui import data
from ui.i18n import tr


def header(title_key: str, caption_key: str | None = None, needs_rows: bool = True) -> bool:
    """Render the page title and banners; False when the warehouse has no data, or (`needs_rows`) when the
    sidebar's selection holds no row: a calm notice says what to widen, and the page should stop."""
    v = data.version()
    st.title(tr(title_key))
    if caption_key:
        st.caption(tr(caption_key))
    if data.is_demo(v):
        st.warning(tr("app.demo_banner"), icon=":material/science:")
    if not data.has_data(v):
        st.info(tr("app.empty"), icon=":material/info:")
        st.page_link("pages/data_page.py", label=tr("app.go_data"), icon=":material/folder_open:")
        return False
    f = st.session_state.get("filters")
    if needs_rows and f is not None:
        from ui import state

        if state.filtered_count(v, f, with_unit=True) == 0:
            st.info(tr("app.empty_slice", what=tr("app.empty_slice_what")), icon=":material/filter_alt_off:")
            return False
    return True


def statistics_ready(v: str, calls: list[tuple]) -> bool:
    """True when the statistics in `calls` ((kept function, *args), see ui.analyses.ensure) can be drawn
    now; otherwise they are computing in the background: show a notice, check every second, and rerun
    the page when they are ready."""
    from ui import analyses

    try:
        analyses.ensure(v, calls)
        return True
    except analyses.Pending as pending:
        st.info(tr("app.computing", rows=f"{pending.args[0]:,}"), icon=":material/hourglass_top:")
        _rerun_when_ready(v, calls)
        return False


@st.fragment(run_every=1.0)
def _rerun_when_ready(v: str, calls: list[tuple]) -> None:
    from ui import analyses

    try:
        analyses.ensure(v, calls)  # also hands a request the worker dropped back to it
    except analyses.Pending:
        return
    st.rerun()


MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:")


AUTOLINK = re.compile(r"(?i)(https?|ftp|www)(?=[:.])|(?=@)")


def md_escape(text: str) -> str:
    """Text from files or URLs shown through Markdown-rendering elements: escape every Markdown and HTML
    character so that a unit named `[x](javascript:…)` or `<img …>` shows as exactly that text, and break
    what Markdown would turn into a link by itself (a bare http://…, www.… or e-mail address) with an
    invisible zero-width space."""
    text = AUTOLINK.sub(lambda m: (m.group(1) or "") + "\u200b", str(text))
    return "".join("\\" + ch if ch in MD_SPECIAL else ch for ch in text)


def plot(fig, key: str, container=None) -> None:
    """Draw a Plotly figure, every data string escaped first (ui/charts.plain_figure): the one way pages
    draw charts."""
    from ui.charts import plain_figure

    (container or st).plotly_chart(plain_figure(fig), key=key)


def rates_note() -> None:
    """Say which size-scaled totals the KPI lists leave out, and which rates stand in for them."""
    from catalogue import metrics
    from ui.i18n import lang, mname

    totals = [m for m in metrics().values() if m.role == "kpi" and m.scales_with]
    rates = [r for r in ("complaints_per_10k", "sales_per_customer") if r in metrics()]
    sep = "、" if lang() == "zh" else ", "
    st.caption(tr("page.rel.rates_note", totals=sep.join(mname(m.id) for m in totals), rates=sep.join(mname(r) for r in rates)))


def fishing_note(narrowed: bool) -> None:
    if narrowed:
        st.caption(tr("app.fishing_note"))


def download_csv(df, name: str, key: str) -> None:
    from briefing.safe_export import to_safe_csv

    st.download_button(tr("app.download_csv"), to_safe_csv(df), file_name=f"{name}.csv", mime="text/csv", key=key)
