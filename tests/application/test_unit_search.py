"""Finding a business unit when there are too many to list (application.selection.find_units, and the
sidebar's and the unit profile's search above their lists: ui/state.unit_picker)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from streamlit.testing.v1 import AppTest

from application.selection import UNIT_MATCHES, find_units
from catalogue import t
from tests.ui.test_pages import APP

NAMES = st.dictionaries(st.from_regex(r"BU[0-9]{3}", fullmatch=True),
                        st.text(alphabet="江北城关供电所营销中心ABCab 12", min_size=1, max_size=8), max_size=60)


@given(names=NAMES, query=st.text(alphabet="江北城关ABab 12BU0", max_size=6), limit=st.integers(1, 70))
@hsettings(max_examples=300, deadline=None)
def test_find_units_is_a_filter_in_code_order_with_an_exact_code_first(names, query, limit):
    found, total = find_units(names, query, limit)
    words = query.lower().split()
    # independent: every unit whose "code name" holds each word, in code order
    expected = [u for u in names if all(w in (u + " " + names[u]).lower() for w in words)]
    assert total == len(expected)
    assert len(found) == min(limit, total) and len(set(found)) == len(found)
    assert set(found) <= set(expected)
    exact = [u for u in expected if u.lower() == " ".join(words)]
    rest = [u for u in expected if u not in exact]
    assert found == (exact + rest)[:limit]


def run_app(db, monkeypatch, params: dict, list_max: int = 20) -> AppTest:
    monkeypatch.setenv("PBKPI_DB", str(db))
    monkeypatch.setenv("PBKPI_UNIT_LIST_MAX", str(list_max))
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def offered(at, key: str) -> list[str]:
    """The unit codes a unit list offers (its labels end with （code））."""
    return [o.rsplit("（", 1)[1].rstrip("）") for o in at.selectbox(key=key).options if "（" in o]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("query", ["", "bu0", "bu06", "2供电所", "BU061", "no such unit", "  江北   2 "])
def test_the_sidebar_search_offers_the_matches_and_keeps_the_chosen_unit(demo_db, monkeypatch, lang, query):
    at = run_app(demo_db, monkeypatch, {"lang": lang, "unit": "BU067"})
    assert not at.exception
    at.text_input(key="f_unit_q").input(query).run()
    assert not at.exception, [e.value for e in at.exception]
    everyone = _unit_names(demo_db)
    found, total = find_units(everyone, query)
    opts = offered(at, "f_unit")
    # the unit chosen by the link is always there (first, when the search does not find it), then the matches
    assert opts == (["BU067"] if "BU067" not in found else []) + found
    assert at.selectbox(key="f_unit").value == "BU067"
    labels = at.selectbox(key="f_unit").options
    assert labels[0] == ("全部单位" if lang == "zh" else "All units")
    assert labels[1:] == [f"{everyone[u]}（{u}）" for u in opts]  # each with its name
    captions = " ".join(c.value for c in at.caption)
    if not query.strip():  # how many more there are to find
        assert t("filter.unit_listed_first", lang, shown=UNIT_MATCHES, rest=f"{len(everyone) - UNIT_MATCHES:,}") in captions
    elif total > UNIT_MATCHES:
        assert t("filter.unit_found_more", lang, shown=UNIT_MATCHES, total=f"{total:,}") in captions
    if query.strip() and not total:
        assert ("没有匹配" if lang == "zh" else "No business unit matches") in captions


def _unit_names(db) -> dict[str, str]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT business_unit_id, business_unit_name FROM dim_business_units ORDER BY 1").fetchall()
    finally:
        con.close()
    return dict(rows)


def test_a_unit_found_and_chosen_is_the_selection_and_the_profiles_unit(demo_db, monkeypatch):
    at = run_app(demo_db, monkeypatch, {"lang": "zh"})
    assert offered(at, "f_unit") == list(_unit_names(demo_db))[:UNIT_MATCHES]
    at.text_input(key="f_unit_q").input("BU066").run()
    at.selectbox(key="f_unit").select("BU066").run()
    assert not at.exception
    assert at.query_params["unit"] in ("BU066", ["BU066"])
    at.switch_page("pages/unit_profile_page.py")
    at.run()
    assert not at.exception
    # the profile's own list is searched too, beside it, and shows the sidebar's unit though it is not among
    # the first matches
    assert at.selectbox(key="pf_unit").value == "BU066"
    assert "pf_unit_q" in [t.key for t in at.text_input]
    assert offered(at, "pf_unit")[0] == "BU066"
    at.text_input(key="pf_unit_q").input("BU003").run()
    at.selectbox(key="pf_unit").select("BU003").run()
    assert not at.exception
    assert at.selectbox(key="pf_unit").value == "BU003"
    assert at.query_params["pf_unit"] in ("BU003", ["BU003"])


def test_below_the_limit_a_unit_list_is_one_list_without_a_search(demo_db, monkeypatch):
    at = run_app(demo_db, monkeypatch, {"lang": "zh"}, list_max=300)
    assert offered(at, "f_unit") == list(_unit_names(demo_db))
    assert "f_unit_q" not in [t.key for t in at.text_input]
