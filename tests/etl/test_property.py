"""Property: whatever a row holds, the loader loads it or rejects it with a reason; it never crashes
and never touches rows of other data."""
import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.load import load_files
from tests.etl.files import org_file, write_csv

cell = st.one_of(
    st.none(), st.text(max_size=12), st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["2024-07-05", "2024年7月5日", "45478", "2024-13-01", "B1", "城东供电所党支部", "主题党日", "1,000",
                     "=HYPERLINK(\"http://x\")", "<img src=x onerror=alert(1)>", "９９％", "", " "]),
)
row = st.lists(cell, min_size=0, max_size=9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=8))
def test_malformed_activity_rows(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("prop")
    db = tmp / "w.duckdb"
    load_files([org_file(tmp)], db)
    header = ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数", "时长（小时）", "活动主题", "关联业务", "活动编号"]
    clean = [["" if v is None else v for v in r] for r in rows]
    (r,) = load_files([write_csv(tmp / "a.csv", header, clean)], db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        n_units = con.execute("SELECT count(*) FROM dim_units").fetchall()[0][0]
        n_acts = con.execute("SELECT count(*) FROM fct_activities").fetchall()[0][0]
    finally:
        con.close()
    assert n_units == 4  # other data untouched
    if any("\x00" in (v or "") for row_ in rows for v in row_):
        assert "空字符" in r.error and n_acts == 0  # a NUL byte makes it binary: the whole file is refused
        return
    assert r.error is None
    assert r.rows_loaded + r.rows_rejected + r.rows_skipped == len(rows)
    assert n_acts <= r.rows_loaded  # rows with equal keys upsert into one
    assert all(x["reason"] for x in r.rejects)


ids = st.sampled_from([f"HD{i}" for i in range(6)] + [""])
act_row = st.tuples(ids, st.sampled_from(["城东供电所党支部", "城西供电所党支部"]),
                    st.sampled_from(["2024-07-05", "2024-07-06"]), st.sampled_from(["主题党日", "党课"]),
                    st.sampled_from(["a", "b"]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(act_row, min_size=1, max_size=8), min_size=1, max_size=4))
def test_natural_keys_stay_unique_over_overlapping_loads(tmp_path_factory, files):
    """The activity and outage tables have no PRIMARY KEY (see schema.sql): the loader alone keeps their
    keys unique, whatever overlaps between and within files. An activity with an id: the last load of the id
    wins. Without an id (README "Corrections"): each file replaces the id-less activities of the
    branch-months it covers; within a file an exact copy of a row counts once."""
    tmp = tmp_path_factory.mktemp("keys")
    db = tmp / "w.duckdb"
    load_files([org_file(tmp)], db)
    header = ["活动编号", "组织名称", "活动日期", "活动类型", "活动主题", "实到人数", "应到人数"]
    with_id, idless = {}, {}
    for k, rows in enumerate(files):
        path = write_csv(tmp / f"a{k}.csv", header, [list(r) + [k + 1, 30] for r in rows])
        (r,) = load_files([path], db)
        assert r.error is None and r.rows_rejected == sum(1 for _ in r.rejects)
        this_file = {}
        for a_id, unit, day, kind, topic in rows:
            if a_id:
                with_id[a_id] = k + 1
            else:
                this_file.setdefault((unit, day[:7]), set()).add((day, kind, topic, k + 1))
        idless.update(this_file)
    expected = sorted([*with_id.values(), *(row[-1] for rows in idless.values() for row in rows)])
    con = duckdb.connect(str(db), read_only=True)
    try:
        keys, distinct = con.execute("SELECT count(*), count(DISTINCT COALESCE(activity_id, activity_key)) FROM fct_activities").fetchall()[0]
        participants = sorted(r[0] for r in con.execute("SELECT participants FROM fct_activities").fetchall())
    finally:
        con.close()
    assert keys == distinct == len(expected)
    assert participants == expected  # every key holds the value of its last load
