"""Property: after any sequence of loads, the panels a load refreshes incrementally (only the months it
touched, etl/warehouse.py, with the activity and outage month aggregates kept up to date the same way)
equal the panels rebuilt whole from the same fact tables."""
from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue import datasets
from etl import warehouse
from etl.load import load_files
from tests.etl.files import write_csv


def header(ds_id: str) -> list[str]:
    return [c.name("zh") for c in datasets()[ds_id].columns]


def panels(db) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY business_unit_id, period_start").df() for t in ("panel_month", "panel_quarter")}
    finally:
        con.close()


def rebuilt_whole(db, tmp) -> dict[str, pd.DataFrame]:
    copy = tmp / "whole.duckdb"
    shutil.copyfile(db, copy)
    con = warehouse.connect(copy)
    try:
        assert warehouse.refresh_panels(con, from_facts=True) == "whole"  # month aggregates too
    finally:
        con.close()
    return panels(copy)


def assert_same_as_whole(db, tmp) -> None:
    got, want = panels(db), rebuilt_whole(db, tmp)
    for t in want:
        pd.testing.assert_frame_equal(got[t], want[t], check_exact=False, rtol=1e-9, obj=t)


def copy_of(demo_db, tmp):
    db = tmp / "w.duckdb"
    shutil.copyfile(demo_db, db)
    return db


def load(db, path):
    """Load one file; returns its result and what the panel refresh did ("whole", "none" or a window)."""
    timings = {}
    (res,) = load_files([path], db, timings=timings)
    assert res.error is None, res.error
    return res, timings["panels_refreshed"]


def month(offset: int) -> str:
    """The demo's data runs 2021-01 .. 2025-12; offsets outside 0..59 move the data's month range."""
    y, m = divmod(2021 * 12 + offset, 12)
    return f"{y}-{m + 1:02d}"


@pytest.fixture(scope="module")
def refs(demo_db):
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        branches = [r[0] for r in con.execute(
            "SELECT unit_id FROM dim_units WHERE org_level = '党支部' AND business_unit_id IS NOT NULL ORDER BY unit_id LIMIT 3").fetchall()]
        bus = [r[0] for r in con.execute("SELECT business_unit_id FROM dim_business_units ORDER BY 1 LIMIT 2").fetchall()]
        org = con.execute("SELECT * FROM dim_units WHERE unit_id = ?", [branches[0]]).df().iloc[0]
    finally:
        con.close()
    return {"branches": branches, "bus": bus, "org": org}


def edit_file(tmp, k: int, edit: tuple, refs: dict):
    """One small source file from an edit drawn by hypothesis."""
    kind, off, who, value, ident, span = edit
    unit, bu = refs["branches"][who % 3], refs["bus"][who % 2]
    day = f"{month(off)}-{1 + value % 28:02d}"
    if kind == "party_activities":  # a reused id moves the activity to another month
        row = [f"T{ident}", unit, "", day, "主题党日", value % 40, 40, 2, "t", ""]
    elif kind == "membership":
        row = [unit, "", month(off), 20 + value % 30, 1, 0, value % 5, 1, 0, 3.5, value % 4, 0]
    elif kind == "kpi_monthly":
        row = [bu, "", month(off), 1000 + value, value % 9, 100.0 + value, 99.1, 90.0, 5.5, value % 3, 99.9]
    elif kind == "outages":
        row = [f"E{ident}", bu, "", f"{day} 08:00", f"{day} {9 + value % 10}:30", 10 + value, "故障", "x",
               "是" if value % 5 == 0 else "否"]
    elif kind == "initiatives":
        end = "" if span is None else f"{month(off + span)}-28"
        row = [f"I{ident}", unit, "", "党建示范点" if value % 2 else "书记项目", "项目", "", day, end, ""]
    elif kind == "assessments":
        row = [unit, "", f"{2021 + (off // 12) % 6}Q{1 + value % 4}", 60 + value % 40, "", "", "", "", "", ""]
    else:  # a new branch in an existing business unit: every month of that unit changes
        o = refs["org"]
        row = [f"NEW{ident}", f"新支部{ident}", o["parent_id"], "党支部", o["business_unit_id"], o["business_unit_name"],
               o["unit_type"], o["region"], "2023-06-01"]
        return write_csv(tmp / f"e{k}.csv", header("org_units"), [row])
    return write_csv(tmp / f"e{k}.csv", header(kind), [row])


# months near the data's bounds and quarter edges, ids reused often (a correction moving a row)
edit = st.tuples(
    st.sampled_from(["party_activities"] * 3 + ["outages"] * 2 + ["initiatives"] * 2 +
                    ["membership", "kpi_monthly", "assessments", "org_units"]),
    st.one_of(st.sampled_from([-4, -1, 0, 2, 3, 56, 59, 60, 63]), st.integers(-4, 63)),
    st.integers(0, 5), st.integers(0, 200), st.integers(0, 1),
    st.one_of(st.none(), st.integers(0, 30)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(edit, min_size=1, max_size=5))
def test_incremental_refresh_equals_whole_rebuild(demo_db, refs, tmp_path_factory, edits):
    tmp = tmp_path_factory.mktemp("inc")
    db = copy_of(demo_db, tmp)
    for k, e in enumerate(edits):
        load(db, edit_file(tmp, k, e, refs))
        assert_same_as_whole(db, tmp)


def test_a_month_of_kpis_refreshes_its_quarter_only(demo_db, refs, tmp_path):
    db = copy_of(demo_db, tmp_path)
    rows = [[bu, "", "2025-11", 1200, 3, 150.0, 99.0, 91.0, 5.0, 0, 99.95] for bu in refs["bus"]]
    res, refreshed = load(db, write_csv(tmp_path / "kpi.csv", header("kpi_monthly"), rows))
    assert res.rows_loaded == 2
    assert refreshed == "2025-10-01..2025-12-01"
    assert_same_as_whole(db, tmp_path)


def test_new_month_extends_the_panels_by_one_quarter(demo_db, refs, tmp_path):
    """The next month's activities: every unit gets rows for it (zero activities where none were held)."""
    db = copy_of(demo_db, tmp_path)
    rows = [[f"N{i}", b, "", "2026-01-15", "主题党日", 20, 25, 2, "t", ""] for i, b in enumerate(refs["branches"])]
    res, refreshed = load(db, write_csv(tmp_path / "act.csv", header("party_activities"), rows))
    assert res.rows_loaded == 3
    assert refreshed == "2026-01-01..2026-03-01"
    assert_same_as_whole(db, tmp_path)
    jan = panels(db)["panel_month"].query("period == '2026-01'")
    assert len(jan) == panels(demo_db)["panel_month"]["business_unit_id"].nunique()


def test_organisation_changes_refresh_everything(demo_db, refs, tmp_path):
    db = copy_of(demo_db, tmp_path)
    _, refreshed = load(db, edit_file(tmp_path, 0, ("org_units", 0, 0, 0, 0, None), refs))
    assert refreshed == "whole"
    assert_same_as_whole(db, tmp_path)


def test_a_corrected_activity_leaves_its_old_month(demo_db, refs, tmp_path):
    """An activity id sent again with another date: the month it left is refreshed as well."""
    db = copy_of(demo_db, tmp_path)
    for k, day in enumerate(["2024-02-10", "2024-08-10"]):
        row = ["MOVED", refs["branches"][0], "", day, "主题党日", 20, 25, 2, "t", ""]
        res, refreshed = load(db, write_csv(tmp_path / f"a{k}.csv", header("party_activities"), [row]))
        assert res.rows_loaded == 1
    assert refreshed == "2024-01-01..2024-09-01"
    assert_same_as_whole(db, tmp_path)


def test_an_earlier_month_adds_the_months_up_to_the_old_start(demo_db, refs, tmp_path):
    db = copy_of(demo_db, tmp_path)
    row = ["EARLY", refs["branches"][0], "", "2020-08-20", "主题党日", 20, 25, 2, "t", ""]
    _, refreshed = load(db, write_csv(tmp_path / "a.csv", header("party_activities"), [row]))
    assert refreshed == "2020-07-01..2020-12-01"
    assert_same_as_whole(db, tmp_path)
    assert "2020-11" in set(panels(db)["panel_month"]["period"])


def test_an_organisation_change_reuses_the_month_aggregates(demo_db, refs, tmp_path):
    """A new branch changes every month of its business unit, but not the activity and outage sums per
    month: the whole panel rebuild reads the kept aggregates, which still equal a rebuild from the facts."""
    db = copy_of(demo_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    before = {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").df() for t, _, _ in warehouse.AGGREGATES}
    con.close()
    load(db, edit_file(tmp_path, 0, ("org_units", 0, 0, 0, 0, None), refs))
    con = duckdb.connect(str(db), read_only=True)
    for t, df in before.items():
        pd.testing.assert_frame_equal(con.execute(f"SELECT * FROM {t} ORDER BY ALL").df(), df)
    con.close()
    assert_same_as_whole(db, tmp_path)
