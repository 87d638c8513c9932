"""A page's tabs (ui/layout.tabs): only the open tab is drawn, the open tab is kept by name in the URL,
through picks and language switches (the browser side: tests/e2e/test_browser.py)."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from application.context import Context
from application.selection import Selection
from application.views import profile
from catalogue import t
from catalogue.formats import fmt_period
from tests.ui.test_pages import APP
from ui import state

# what each of the profile's tabs draws for a unit with data in every part (demo)
PROFILE_CHARTS = {"kpi": 1, "party": 1, "work": 2, "peers": 0}


def profile_at(db, monkeypatch, params: dict) -> AppTest:
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page("pages/unit_profile_page.py")
    at.run()
    return at


def param(at, key):
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("tab", list(state.TABS["pf_tab"]))
@pytest.mark.parametrize("unit", ["BU001", "BU017", "BU060"])
def test_the_open_profile_tab_alone_is_drawn_and_is_in_the_link(demo_db, monkeypatch, lang, tab, unit):
    at = profile_at(demo_db, monkeypatch, {"lang": lang, "grain": "quarter", "pf_unit": unit, "pf_tab": tab})
    assert not at.exception, [e.value for e in at.exception]
    assert [x.label for x in at.tabs] == [t(f"page.profile.tab_{n}", lang) for n in state.TABS["pf_tab"]]
    assert len(at.get("plotly_chart")) == PROFILE_CHARTS[tab]
    assert param(at, "pf_tab") == tab and param(at, "pf_unit") == unit
    vm = profile.view(Context.open(demo_db), Selection(grain="quarter"), profile.Params(unit))
    frames = at.dataframe
    if tab == "party":
        assert len(frames) == 1 and len(frames[0].value) == len(vm.branches)
    elif tab == "peers":
        assert len(frames) == 1 and len(frames[0].value) == len(vm.peers)
    elif tab == "kpi":
        assert len(frames) == (0 if vm.initiatives.empty else 1)
        assert at.selectbox(key="pf_kpi").value == profile.DEFAULTS.kpi
    else:
        assert not frames
    # another unit, the same tab
    other = "BU002" if unit != "BU002" else "BU003"
    at.selectbox(key="pf_unit").select(other).run()
    assert not at.exception
    assert param(at, "pf_tab") == tab and param(at, "pf_unit") == other
    assert len(at.get("plotly_chart")) == PROFILE_CHARTS[tab]
    # the other language: the same tab, its label in that language
    at.radio(key="lang").set_value("en" if lang == "zh" else "zh").run()
    assert not at.exception
    assert param(at, "pf_tab") == tab and len(at.get("plotly_chart")) == PROFILE_CHARTS[tab]


def test_an_unknown_tab_in_a_link_is_refused_and_the_first_opens(demo_db, monkeypatch):
    at = profile_at(demo_db, monkeypatch, {"lang": "zh", "pf_tab": "nonsense"})
    assert not at.exception
    assert param(at, "pf_tab") == "kpi" and len(at.get("plotly_chart")) == PROFILE_CHARTS["kpi"]


def test_the_kpi_pick_outlives_a_visit_to_another_tab(demo_db, monkeypatch):
    at = profile_at(demo_db, monkeypatch, {"lang": "zh", "pf_kpi": "saidi"})
    assert at.selectbox(key="pf_kpi").value == "saidi"
    at.session_state["pf_tab"] = "work"
    at.run()
    assert param(at, "pf_kpi") == "saidi"
    at.session_state["pf_tab"] = "kpi"
    at.run()
    assert at.selectbox(key="pf_kpi").value == "saidi"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("tab", list(state.TABS["ov_tab"]))
@pytest.mark.parametrize("quarter", [None, "2023Q2"])
def test_the_overview_draws_the_trend_and_its_open_tab(demo_db, monkeypatch, lang, tab, quarter):
    """The overview's quadrant and funnel are tabs: the trend and the open one are drawn; a quarter pick and
    the other language keep the tab (its label names the quarter)."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"lang": lang, "grain": "quarter", "ov_tab": tab, **({"ov_quarter": quarter} if quarter else {})})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 2 and param(at, "ov_tab") == tab
    shown = at.selectbox(key="ov_quarter").value
    assert fmt_period(shown, lang) in at.tabs[0].label
    quadrant_table = [d for d in at.dataframe if d.value.columns[0] == t("table.quadrant", lang)]
    assert len(quadrant_table) == (1 if tab == "quadrant" else 0)
    other = "2024Q1" if shown != "2024Q1" else "2024Q2"
    at.selectbox(key="ov_quarter").set_value(other).run()
    assert not at.exception
    assert param(at, "ov_tab") == tab and len(at.get("plotly_chart")) == 2
    assert fmt_period(other, lang) in at.tabs[0].label
    at.radio(key="lang").set_value("en" if lang == "zh" else "zh").run()
    assert not at.exception
    assert param(at, "ov_tab") == tab and len(at.get("plotly_chart")) == 2


# the analysts' pages: what each tab draws on the demo (charts, tables), at the pages' defaults
ANALYST_TABS = {
    ("pages/relationships_page.py", "rel_tab"): {"pair": (2, 1), "matrix": (1, 0)},
    ("pages/tests_page.py", "ts_tab"): {"twfe": (0, 1), "event": (1, 0), "direction": (0, 1), "diagnostics": (1, 1)},
}
SWEEP = [(page, key, tab) for (page, key), tabs in ANALYST_TABS.items() for tab in tabs]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page,key,tab", SWEEP)
def test_an_analyst_pages_open_tab_alone_is_drawn_and_kept(demo_db, monkeypatch, lang, page, key, tab):
    """Relationships (the chosen pair | the matrix) and tests (fit | event study | direction | diagnostics):
    the open tab's charts and tables alone; the page's first pick and the other language keep the tab."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"lang": lang, "grain": "month", key: tab})
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert [x.label for x in at.tabs] == [t(f"page.{'rel' if key == 'rel_tab' else 'tests'}.tab_{n}", lang)
                                          for n in state.TABS[key]]
    charts, frames = ANALYST_TABS[(page, key)][tab]
    assert (len(at.get("plotly_chart")), len(at.dataframe)) == (charts, frames)
    assert param(at, key) == tab
    first = "rel_y" if key == "rel_tab" else "ts_y"
    at.selectbox(key=first).set_value("satisfaction").run()
    assert not at.exception
    assert param(at, key) == tab and param(at, first) == "satisfaction"
    assert len(at.get("plotly_chart")) == charts
    at.radio(key="lang").set_value("en" if lang == "zh" else "zh").run()
    assert not at.exception and param(at, key) == tab and len(at.get("plotly_chart")) == charts


def test_the_event_studys_picks_outlive_a_visit_to_another_tab(demo_db, monkeypatch):
    """The event study's own picks live in its tab; another tab keeps them (and the link holds them)."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"lang": "zh", "grain": "month", "ts_tab": "event", "ts_ey": "saidi"})
    at.run()
    at.switch_page("pages/tests_page.py")
    at.run()
    assert at.selectbox(key="ts_ey").value == "saidi"
    at.session_state["ts_tab"] = "twfe"
    at.run()
    assert not at.exception and param(at, "ts_ey") == "saidi"
    at.session_state["ts_tab"] = "event"
    at.run()
    assert at.selectbox(key="ts_ey").value == "saidi"
