"""What every page starts with: title, the synthetic-data banner, and the empty-warehouse guidance."""
from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from application.context import Outcome
from ui import session
from ui.i18n import tr

log = logging.getLogger("pbkpi.app")

# more of every page above the fold on a laptop: less empty space above the title, a smaller title
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] {padding-top: 2.6rem;}
@media (min-width: 1000px) {[data-testid="stMainBlockContainer"] {padding-left: 2rem; padding-right: 2rem;}}
[data-testid="stMainBlockContainer"] h1 {font-size: 2.05rem; padding-bottom: 0.15rem;}
</style>"""


# Plotly's chart toolbar (and the fullscreen button Streamlit adds to it) titles its buttons in English; the
# titles are CSS ::after contents of `data-title`, so each is redrawn here in the user's language
MODEBAR = {"Download plot as a PNG": "png", "Download plot as a png": "png", "Zoom": "zoom", "Pan": "pan",
           "Zoom in": "zoom_in", "Zoom out": "zoom_out", "Autoscale": "autoscale", "Reset axes": "reset",
           "Box Select": "box", "Lasso Select": "lasso", "Fullscreen": "fullscreen", "Close fullscreen": "close_fullscreen",
           "Reset view": "reset", "Show closest data on hover": "hover_closest", "Compare data on hover": "hover_compare"}


def modebar_css() -> str:
    """The chart toolbar's tooltips and the multiselect's bulk actions ("Select all") in the user's language."""
    css = "".join(f'.js-plotly-plot .plotly .modebar-btn[data-title="{title}"]::after {{content: "{css_text(tr(f"modebar.{key}"))}";}}\n'
                  for title, key in MODEBAR.items())
    for data_key, text_key in (("__select_all__", "filter.select_all"), ("__select_matches__", "filter.select_matches")):
        item = f'[data-testid="stMultiSelectDropdown"] [data-key="{data_key}"] [data-item-hl]'
        css += f'{item} {{font-size: 0;}} {item}::after {{content: "{css_text(tr(text_key))}"; font-size: 0.875rem;}}\n'
    return css


def header(title_key: str, caption_key: str | None = None, needs_rows: bool = True) -> bool:
    """Render the page title and banners; False when the warehouse has no data, or (`needs_rows`) when the
    sidebar's selection holds no row: a calm notice says what to widen, and the page should stop."""
    ctx = session.context()
    st.html(PAGE_CSS.replace("</style>", modebar_css() + "</style>"))
    st.title(tr(title_key))
    if caption_key:
        st.caption(tr(caption_key))
    if ctx.snapshot.is_demo():
        st.warning(tr("app.demo_banner"), icon=":material/science:")
    if not ctx.snapshot.has_data():
        st.info(tr("app.empty"), icon=":material/info:")
        st.page_link("pages/data_page.py", label=tr("app.go_data"), icon=":material/folder_open:")
        return False
    if needs_rows and ctx.snapshot.count(session.selection(), with_unit=True) == 0:
        st.info(tr("app.empty_slice", what=tr("app.empty_slice_what")), icon=":material/filter_alt_off:")
        return False
    return True


def css_text(s: str) -> str:
    """A string as the body of a CSS `content: "…"` value."""
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def uploader_texts() -> None:
    """Streamlit's file uploader has its own English texts ("Upload", "50MB per file • CSV, XLSX"): in the
    user's language instead, drawn by CSS over the hidden originals (Streamlit offers no option for them)."""
    button = css_text(tr("app.uploader_button"))
    limit = css_text(tr("app.uploader_limit", mb=st.get_option("server.maxUploadSize")))
    st.html(f"""<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{font-size: 0;}}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{content: "{button}"; font-size: 0.875rem;}}
[data-testid="stFileUploaderDropzoneInstructions"] span {{font-size: 0;}}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{content: "{limit}"; font-size: 0.8rem;}}
</style>""")


def run_started(t0: float) -> None:
    st.session_state["_run_started"] = t0
    st.session_state.pop("_run_pending", None)  # a run that ended by a rerun left its count behind


def run_done() -> None:
    """The run's last element, invisible: a browser (and its tests) can tell that this run has finished, how
    long the server took to run it (data-ms: from app.py's start to here) and whether statistics it shows as
    being computed are still to come (data-pending: how many; the page reruns itself when they are ready).
    app.py draws it at the end of every run; `stop` draws it before stopping early (nothing can be drawn
    after st.stop)."""
    t0 = st.session_state.get("_run_started")
    ms = f' data-ms="{(time.perf_counter() - t0) * 1000:.0f}"' if t0 is not None else ""
    pending = st.session_state.pop("_run_pending", 0)  # statistics still computing: the page reruns when ready
    scope = "page" if session.fragment_rerun() else "app"  # a rerun of the page's fragment alone
    st.sidebar.html(f'<span data-testid="pbkpi-run-done" data-scope="{scope}" data-run="{uuid.uuid4().hex[:12]}"{ms} '
                    f'data-pending="{pending}"></span>')


def page_fragment(body: Callable[[], None]) -> None:
    """Draw a statistics page's body (its own picks and everything they change) as a Streamlit fragment: a
    change of one of its picks reruns the body alone, not app.py's sign-in, sidebar and navigation, and the
    browser receives and redraws the body only. A sidebar change still reruns everything.

    A rerun of the fragment does itself what app.py does around a page: it checks that the session is
    still signed in (else the whole app reruns, and app.py's sign-in ends or renews it), turns an error into
    the calm message with a reference, writes the URL (the picks are part of the view) and draws an end marker."""
    _page_fragment(body)


@st.fragment
def _page_fragment(body: Callable[[], None]) -> None:
    import contextlib

    import logsetup
    from ui import signin

    alone = session.fragment_rerun()
    if not alone:
        # a fragment's rerun may write into the sidebar (its end marker) only where its full run wrote
        st.sidebar.empty()
    else:
        if not signin.still_signed_in():
            st.rerun()
        run_started(time.perf_counter())
    # app.py's log context (request, user) is around a full run only
    around = (logsetup.context(request=uuid.uuid4().hex[:8], user=signin.current().account, rerun="page")
              if alone else contextlib.nullcontext())
    try:
        with around:
            body()
    except StopException:  # the body stopped early (layout.stop drew the end marker): the URL still follows
        if alone:
            _write_url()
        raise
    except Exception:  # as app.py does for a whole page
        unexpected("page body failed")
    if alone:
        _write_url()
        run_done()


def unexpected(what: str) -> None:
    """Log the exception being handled with a reference and show the user the calm message quoting it:
    never a traceback."""
    ref = uuid.uuid4().hex[:8]
    log.exception("%s, ref=%s", what, ref)
    st.error(tr("app.unexpected", ref=ref), icon=":material/error:")


def _write_url() -> None:
    from ui import state

    state.write_url(session.selection())


def stop() -> None:
    """st.stop for pages: the end-of-run marker first."""
    run_done()
    st.stop()


def shown(outcome: Outcome | None, container=None) -> bool:
    """True when a statistic can be drawn; otherwise say calmly why not: it is being computed in the
    background (a notice; the page reruns itself when ready, see `rerun_when_ready`), or the data cannot
    support it (the domain error's message)."""
    where = container or st
    if outcome is None:
        return False
    if outcome.pending:
        where.info(tr("app.computing", rows=f"{outcome.pending_rows:,}"), icon=":material/hourglass_top:")
        return False
    if outcome.error is not None:
        from catalogue.formats import for_reader
        from ui.i18n import lang

        where.error(for_reader(outcome.message, lang()))
        return False
    return True


def shown_or_stop(outcome: Outcome | None) -> None:
    """A page's main statistic, or a calm stop: no period to show (None), still computing (the page reruns
    itself when it is kept), or a domain error (its message)."""
    if outcome is None:
        st.info(tr("app.no_data"))
        stop()
    if not shown(outcome):
        rerun_when_ready([outcome.job] if outcome.pending else [])
        stop()


def rerun_when_ready(jobs: list) -> None:
    """After a page drew what it has: while any of `jobs` is computing, check every second and rerun the
    page once they are all kept."""
    if jobs:
        st.session_state["_run_pending"] = len(jobs)  # on the run's end marker: the page is not complete yet
        _rerun_when_ready(jobs)


@st.fragment(run_every=1.0)
def _rerun_when_ready(jobs: list) -> None:
    if session.context().still_pending(jobs):  # also hands a request the runner dropped back to it
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


def plot(fig, key: str, container=None, select: bool = False):
    """Draw a Plotly figure, every data string escaped first (ui/charts.plain_figure): the one way pages
    draw charts. With `select`, clicking a point reruns the page and the selection event is returned."""
    from ui.charts import localize, plain_figure
    from ui.i18n import lang

    fig = localize(plain_figure(fig), lang())  # our own tick labels after the data strings are escaped
    if select:
        return (container or st).plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")
    (container or st).plotly_chart(fig, key=key)
    return None


def tabs(key: str, label: Callable[[str], str], draw: dict[str, Callable[[], None]]) -> None:
    """The tabs `state.TABS[key]`, each labelled `label(name)`, and in the open one its `draw[name]()`
    (`open_tab`)."""
    from ui import state

    if set(draw) != set(state.TABS[key]):
        raise ValueError(f"tabs {key}: draw {sorted(draw)} for tabs {state.TABS[key]}")
    name, box = open_tab(key, label)
    with box:
        draw[name]()


def open_tab(key: str, label: Callable[[str], str]):
    """The tabs `state.TABS[key]`, each labelled `label(name)`: the name of the open one and its container.
    Only the open tab's content is drawn and sent, so a pick redraws the charts of one tab, not those of
    every section: each chart a change redraws costs the browser about 40 ms here (README, Performance).
    The open tab is kept by its name under `key`, the same in either language (Streamlit keeps a tab by
    its label, which the language switch changes) and in the URL as a pick, so a link opens the tab its
    sender had open."""
    from ui import state

    names = state.TABS[key]
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0]
    labels = [label(n) for n in names]
    widget = f"_{key}_open"
    st.session_state[widget] = labels[names.index(st.session_state[key])]

    def opened() -> None:
        st.session_state[key] = names[labels.index(st.session_state[widget])]

    boxes = st.tabs(labels, key=widget, on_change=opened)
    name = st.session_state[key]
    return name, boxes[names.index(name)]


def clicked(event, key: str) -> list | None:
    """The custom data of a point just clicked on a chart drawn with `plot(select=True)`; None when nothing
    new was clicked (the same selection seen again, e.g. coming back to the page, is not followed twice)."""
    points = (event.selection.points if event is not None and event.selection else None) or []
    data = next((p.get("customdata") for p in points if p.get("customdata") is not None), None)
    if data is None:
        return None
    data = list(data) if isinstance(data, (list, tuple)) else [data]
    if st.session_state.get(f"_drilled_{key}") == data:
        return None
    st.session_state[f"_drilled_{key}"] = data
    return data


def drill_to_profile(event, key: str, index: int = -1) -> None:
    """A point clicked on a chart whose custom data ends with (or holds at `index`) a business unit id: open
    that unit's profile."""
    data = clicked(event, key)
    if data:
        from ui import state

        state.switch_page("pages/unit_profile_page.py", pf_unit=data[index])


def breadcrumbs(path: list[tuple[str, str]], key: str, last_is_current: bool = False) -> None:
    """The org tree as a path (公司 › 县公司 › 所): each organisation opens the overview rolled up beneath it,
    the first crumb the whole of what the user may see. `last_is_current`: the path ends with what the page
    shows (a unit, the organisation rolled up to), in bold, not a link."""
    from ui import state

    if not path:
        return
    orgs = path[:-1] if last_is_current else path
    row = st.container(horizontal=True, gap="small", vertical_alignment="center", key=f"{key}_crumbs")
    if row.button(tr("filter.org_all"), key=f"{key}_crumb_all", type="tertiary", icon=":material/account_tree:"):
        state.switch_page("pages/overview_page.py", view={"org": None})
    for node, name in path:
        if (node, name) in orgs:
            if row.button(f"› {name}", key=f"{key}_crumb_{node}", type="tertiary"):
                state.switch_page("pages/overview_page.py", view={"org": node})
        else:
            row.markdown(f"› **{md_escape(name)}**", width="content")


def rates_note() -> None:
    """Say which size-scaled totals the KPI lists leave out, and which rates stand in for them."""
    from catalogue import metrics
    from ui.i18n import lang, mname

    totals = [m for m in metrics().values() if m.role == "kpi" and m.scales_with]
    rates = [m.rate for m in totals if m.rate in metrics()]
    sep = "、" if lang() == "zh" else ", "
    st.caption(tr("page.rel.rates_note", totals=sep.join(mname(m.id) for m in totals), rates=sep.join(mname(r) for r in rates)))


def fishing_note(narrowed: bool) -> None:
    if narrowed:
        st.caption(tr("app.fishing_note"))


def download_csv(df, name: str, key: str) -> None:
    """A CSV download, for roles that may export; every download is audited. The CSV is built when the button
    is clicked, not on every run of the page (it took 5-20 ms a table); `df` may also be a function returning
    the frame, so that the frame itself is built then too. Neither may read session state: the click's
    callback runs on a thread of its own."""
    from briefing.safe_export import to_safe_csv
    from ui import signin

    if not signin.may("export"):
        return
    data = (lambda: to_safe_csv(df())) if callable(df) else (lambda: to_safe_csv(df))
    st.download_button(tr("app.download_csv"), data, file_name=f"{name}.csv", mime="text/csv", key=key,
                       on_click=signin.exported, args=(name, "csv"))
