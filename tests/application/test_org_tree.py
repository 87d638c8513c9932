"""The org tree as a filter (#17): an organisation chosen in the sidebar narrows every page to the business
units beneath it — the same mechanism as a user's data permission, so results are keyed apart and never
cross — and the breadcrumbs name the path from the top. Checked against an independent walk of dim_units."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from application.context import Context
from application.selection import Selection
from application.views import overview
from application.warehouse import Warehouse
from tests.ui.test_pages import APP


def beneath(units: pd.DataFrame, node: str) -> set[str]:
    """Business units at or beneath `node`, by walking parent links in pandas."""
    children = units.groupby("parent_id")["unit_id"].apply(list).to_dict()
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo += children.get(n, [])
    return set(units.loc[units["unit_id"].isin(seen), "business_unit_id"].dropna())


@pytest.fixture(scope="module")
def units(demo_db) -> pd.DataFrame:
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        return con.sql("SELECT unit_id, unit_name, parent_id, business_unit_id FROM dim_units").df()
    finally:
        con.close()


def test_every_organisation_holds_exactly_the_units_beneath_it(demo_db, units):
    snap = Warehouse(demo_db).snapshot()
    nodes = snap.org_nodes()
    assert len(nodes) == int(units["business_unit_id"].isna().sum())  # every organisation above the branches
    assert nodes["depth"].iloc[0] == 0 and (nodes["depth"] >= 0).all()
    for row in nodes.itertuples():
        want = beneath(units, row.unit_id)
        assert set(snap.beneath(row.unit_id).unit_names()) == want
        assert row.units == len(want)
        if row.parent_id in set(nodes["unit_id"]):  # tree order: a parent comes before its children
            assert list(nodes["unit_id"]).index(row.parent_id) < list(nodes["unit_id"]).index(row.unit_id)


def test_a_scoped_user_sees_only_organisations_with_units_in_scope(demo_db, units):
    whole = Warehouse(demo_db).snapshot()
    scoped = Warehouse(demo_db).snapshot(frozenset({"P江北"}))
    assert set(scoped.org_nodes()["unit_id"]) == {"P000", "P江北"}  # the path down to the scope, nothing beside it
    assert scoped.org_nodes().set_index("unit_id").loc["P000", "units"] == len(beneath(units, "P江北"))
    assert set(scoped.beneath("P石桥").unit_names()) == set()  # outside the scope: nothing, never the whole
    assert set(whole.beneath("P江北").unit_names()) == set(scoped.unit_names())
    # the same units, but results kept apart: the narrowed one names its organisation (a briefing says 江北)
    assert whole.beneath("P江北").scope_tag != scoped.scope_tag


def test_the_overview_rolls_up_beneath_the_organisation(demo_db, units):
    ctx = Context.open(demo_db, disk=False)
    sel = Selection("quarter", "2024Q1", "2025Q4", org="P南山")
    narrow = ctx.narrowed("P南山")
    vm = overview.view(narrow, sel, overview.Params("2025Q4"))
    assert set(vm.now["unit"]) == beneath(units, "P南山")
    whole = overview.view(ctx, Selection("quarter", "2024Q1", "2025Q4"), overview.Params("2025Q4"))
    assert len(whole.now) > len(vm.now)


def test_breadcrumbs_walk_from_the_top(demo_db, units):
    snap = Warehouse(demo_db).snapshot()
    path = snap.org_path("BU001")
    assert [p[0] for p in path][-1] == "BU001" and path[0][0] == "P000"
    parents = dict(zip(units["unit_id"], units["parent_id"]))
    for (upper, _), (lower, _) in zip(path[:-2], path[1:-1]):
        assert parents[lower] == upper
    assert snap.org_path("no such unit") == []


def test_the_org_filter_round_trips_through_the_url_and_narrows_the_sidebar(demo_db, monkeypatch, units):
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["org"] = "P江北"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["selection"].org == "P江北"
    import re

    shown = at.selectbox(key="f_unit").options  # labels: 全部单位, then 名称（BU…）
    offered = {m.group(1) for o in shown if (m := re.search(r"（(BU\d+)）$", o))}
    assert offered == beneath(units, "P江北") and len(shown) == len(offered) + 1
    assert at.query_params["org"] in ("P江北", ["P江北"])  # the URL it writes back holds it
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["org"] = "P不存在"
    at.run()
    assert at.session_state["selection"].org is None  # an unknown organisation is dropped (and said), never guessed


def test_a_briefing_beneath_an_organisation_names_it(demo_db):
    from briefing.content import build
    from briefing.export import scope_label

    b = build(Warehouse(demo_db).snapshot().beneath("P江北"), "2025Q4")
    assert b.org == "江北县供电公司党委" and scope_label(b, "zh").startswith("江北县供电公司党委")
    assert build(Warehouse(demo_db).snapshot(frozenset({"P江北"})), "2025Q4").org == ""
