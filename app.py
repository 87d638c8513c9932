"""PB-KPI Lens (党建–经营关联分析看板): entry point — navigation, language switch, global filters."""
import logging
import uuid

import streamlit as st

from ui import session, state
from ui.i18n import tr

st.set_page_config(page_title="PB-KPI Lens 党建–经营关联分析看板", page_icon=":material/insights:", layout="wide")

PAGES = [
    ("pages/overview_page.py", "page.overview.nav", ":material/dashboard:", "overview"),
    ("pages/unit_profile_page.py", "page.profile.nav", ":material/apartment:", "profile"),
    ("pages/relationships_page.py", "page.rel.nav", ":material/scatter_plot:", "relationships"),
    ("pages/tests_page.py", "page.tests.nav", ":material/science:", "tests"),
    ("pages/whatif_page.py", "page.whatif.nav", ":material/tune:", "whatif"),
    ("pages/briefing_page.py", "brief.page.nav", ":material/slideshow:", "briefing"),
    ("pages/data_page.py", "page.data.nav", ":material/folder_open:", "data"),
]


ctx = session.new_context()  # this run's warehouse version, result store and job runner


def unreadable_warehouse() -> None:
    st.error(tr("app.unreadable", path=str(ctx.snapshot.path)), icon=":material/error:")


if not ctx.snapshot.warehouse.readable():
    # a damaged warehouse: every page (deep links too) says calmly what to do, instead of a traceback each
    if st.query_params.get("lang") in ("zh", "en"):
        st.session_state.setdefault("lang", st.query_params.get("lang"))
    state.language_switch()
    st.navigation([st.Page(unreadable_warehouse, title=tr(key), icon=icon, url_path=url, default=(i == 0))
                   for i, (_, key, icon, url) in enumerate(PAGES)]).run()
    st.stop()
state.read_url_once(ctx)
state.language_switch()

nav = st.navigation([st.Page(path, title=tr(key), icon=icon, url_path=url, default=(i == 0))
                     for i, (path, key, icon, url) in enumerate(PAGES)])
st.session_state["selection"] = state.sidebar_selection(ctx)
st.sidebar.caption(tr("app.sidebar_note"))
try:
    nav.run()
except Exception:  # a page must never show a traceback: log it with a reference the user can quote
    ref = uuid.uuid4().hex[:8]
    logging.getLogger("pbkpi.app").exception("page %s failed, ref=%s", nav.url_path, ref)
    st.error(tr("app.unexpected", ref=ref), icon=":material/error:")
finally:  # also when the page stopped early: the URL always holds the whole view (sidebar and page picks)
    state.write_url(st.session_state["selection"])
