"""PB-KPI Lens (党建–经营关联分析看板): entry point — sign-in, navigation, language switch, global filters."""
import logging
import time
import uuid
from pathlib import Path

import streamlit as st

import logsetup
import settings
from auth.roles import ROLES
from ui import layout, session, signin, state
from ui.i18n import tr

ICON = Path(__file__).resolve().parent / "ui" / "assets" / "icon.png"
layout.run_started(time.perf_counter())  # the run's own time goes on its end marker (bench/browser.py reads it)

# the icon is a file of ours: a :material/…: icon would be fetched from fonts.gstatic.com (intranets have no internet)
st.set_page_config(page_title="PB-KPI Lens 党建–经营关联分析看板", page_icon=str(ICON), layout="wide")
if problems := settings.check():  # a mistyped setting is said here, whole, instead of failing somewhere later
    st.error(tr("app.bad_settings") + "\n\n" + "\n\n".join(layout.md_escape(p) for p in problems), icon=":material/error:")
    st.stop()
logsetup.configure("app")
log = logging.getLogger("pbkpi.app")

PAGES = [
    ("pages/overview_page.py", "page.overview.nav", ":material/dashboard:", "overview"),
    ("pages/unit_profile_page.py", "page.profile.nav", ":material/apartment:", "profile"),
    ("pages/relationships_page.py", "page.rel.nav", ":material/scatter_plot:", "relationships"),
    ("pages/tests_page.py", "page.tests.nav", ":material/science:", "tests"),
    ("pages/whatif_page.py", "page.whatif.nav", ":material/tune:", "whatif"),
    ("pages/briefing_page.py", "brief.page.nav", ":material/slideshow:", "briefing"),
    ("pages/screen_page.py", "page.screen.nav", ":material/tv:", "screen"),
    ("pages/data_page.py", "page.data.nav", ":material/folder_open:", "data"),
    ("pages/admin_page.py", "page.admin.nav", ":material/admin_panel_settings:", "admin"),
]

if st.query_params.get("lang") in ("zh", "en"):  # the sign-in form already speaks the link's language
    st.session_state.setdefault("lang", st.query_params.get("lang"))
state.language_switch()
user = signin.require()  # nothing below runs, and nothing is read, before sign-in
signin.watermark(user)
signin.user_box(user)
pages = [p for p in PAGES if p[3] in ROLES[user.role].pages]
ctx = session.new_context(user)  # this run's warehouse version (and the user's scope), result store, job runner


def unreadable_warehouse() -> None:
    wh = ctx.snapshot.warehouse
    st.error(tr("app.lake_unreachable" if wh.is_lake else "app.unreadable", path=wh.name), icon=":material/error:")


if not ctx.snapshot.warehouse.readable():
    # a damaged warehouse: every page (deep links too) says calmly what to do, instead of a traceback each
    st.navigation([st.Page(unreadable_warehouse, title=tr(key), icon=icon, url_path=url, default=(i == 0))
                   for i, (_, key, icon, url) in enumerate(pages)]).run()
    st.stop()
if ctx.snapshot.scope is not None and not ctx.snapshot.scope:
    st.sidebar.warning(tr("auth.scope_empty", nodes="、".join(sorted(user.nodes))))
state.read_url_once(ctx)
state.apply_requested_picks()  # picks a chart click asked for in the previous run, before any widget exists

nav = st.navigation([st.Page(path, title=tr(key), icon=icon, url_path=url, default=(i == 0))
                     for i, (path, key, icon, url) in enumerate(pages)])
st.session_state["selection"] = state.sidebar_selection(ctx)
state.apply_requested_switch()  # a chart click or crumb in a page's fragment asked to open another page
st.sidebar.caption(tr("app.sidebar_note"))
signin.viewed(nav.url_path or pages[0][3], st.session_state["selection"])
try:
    with logsetup.context(request=uuid.uuid4().hex[:8], user=user.account, page=nav.url_path or pages[0][3]):
        log.debug("page run")
        try:
            nav.run()
        except Exception:  # a page must never show a traceback: log it with a reference the user can quote
            layout.unexpected(f"page {nav.url_path} failed")
finally:  # also when the page stopped early: the URL always holds the whole view (sidebar and page picks)
    state.write_url(st.session_state["selection"])
    layout.run_done()  # (after a page's layout.stop this raises the stop again: the marker is already drawn)
