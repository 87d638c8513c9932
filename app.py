"""PB-KPI Lens (党建–经营关联分析看板): entry point — navigation, language switch, global filters."""
import logging
import uuid

import streamlit as st

from ui import data, state
from ui.i18n import tr

st.set_page_config(page_title="PB-KPI Lens 党建–经营关联分析看板", page_icon=":material/insights:", layout="wide")

v = data.version()
state.read_url_once(v)
state.language_switch()

PAGES = [
    ("pages/overview_page.py", "page.overview.nav", ":material/dashboard:", "overview"),
    ("pages/unit_profile_page.py", "page.profile.nav", ":material/apartment:", "profile"),
    ("pages/relationships_page.py", "page.rel.nav", ":material/scatter_plot:", "relationships"),
    ("pages/tests_page.py", "page.tests.nav", ":material/science:", "tests"),
    ("pages/whatif_page.py", "page.whatif.nav", ":material/tune:", "whatif"),
    ("pages/briefing_page.py", "brief.page.nav", ":material/slideshow:", "briefing"),
    ("pages/data_page.py", "page.data.nav", ":material/folder_open:", "data"),
]
nav = st.navigation([st.Page(path, title=tr(key), icon=icon, url_path=url, default=(i == 0))
                     for i, (path, key, icon, url) in enumerate(PAGES)])
st.session_state["filters"] = state.sidebar_filters(v)
st.sidebar.caption(tr("app.sidebar_note"))
try:
    nav.run()
except Exception:  # a page must never show a traceback: log it with a reference the user can quote
    ref = uuid.uuid4().hex[:8]
    logging.getLogger("pbkpi.app").exception("page %s failed, ref=%s", nav.url_path, ref)
    st.error(tr("app.unexpected", ref=ref), icon=":material/error:")
