"""A data steward scoped to part of the organisation tree loads only rows inside it: the others are rejected
with a reason naming the unit and the scope (the dashboard reads the same scope: units beneath the nodes)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.load import load_files
from tests.etl.files import ORG_HEADER, ORG_ROWS, org_file, q, write_csv

MEMBERS = ["组织编码", "月份", "党员人数"]
KPI = ["业务单元编码", "月份", "用户数"]
NODES = ["P1", "B1", "B2", "B3", "BU1", "BU2"]


def granted(nodes: set[str]) -> tuple[set[str], set[str]]:
    """(units, business units) a scope grants, computed from the org rows in Python: the units beneath the
    nodes (a node may be a unit or a business unit id), and every business unit of those units."""
    parent = {r[0]: r[2] for r in ORG_ROWS}
    bu = {r[0]: r[4] for r in ORG_ROWS if r[4]}
    start = {u for u in parent if u in nodes or bu.get(u) in nodes}

    def beneath(u):
        while u:
            if u in start:
                return True
            u = parent.get(u)
        return False

    units = {u for u in parent if beneath(u)}
    bus = {bu[u] for u in units if u in bu}
    return units | {u for u in bu if bu[u] in bus}, bus


def test_rows_outside_the_scope_are_rejected_with_the_unit_and_the_scope(tmp_path, db):
    members = write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20], ["B2", "2024-07", 18], ["B3", "2024-07", 9]])
    kpi = write_csv(tmp_path / "k.csv", KPI, [["BU1", "2024-07", 1200], ["BU2", "2024-07", 900]])
    rm, rk = load_files([members, kpi], db, scope=frozenset({"B1"}))
    assert (rm.rows_loaded, rm.rows_rejected, rk.rows_loaded, rk.rows_rejected) == (1, 2, 1, 1)
    assert all("不在您的数据权限范围（B1）内" in r["reason"] for r in rm.rejects + rk.rejects)
    assert {r["row"] for r in rm.rejects} == {3, 4}
    assert q(db, "SELECT unit_id FROM fct_membership") == [("B1",)]
    assert q(db, "SELECT business_unit_id FROM fct_kpi_monthly") == [("BU1",)]


def test_the_whole_company_loads_everything(tmp_path, db):
    members = write_csv(tmp_path / "m.csv", MEMBERS, [["B1", "2024-07", 20], ["B2", "2024-07", 18]])
    (r,) = load_files([members], db, scope=frozenset({"P1"}))
    assert (r.rows_loaded, r.rows_rejected) == (2, 0)


def test_organisation_rows_a_scoped_steward_may_and_may_not_change(tmp_path, db):
    rows = [["B1", "城东供电所党支部(更名)", "P1", "党支部", "BU1", "城东供电所", "供电所", "城区", "2005-03-01"],  # a correction: ok
            ["B1-1", "城东第一党小组支部", "B1", "党支部", "BU1", "城东供电所", "供电所", "城区", "2020-01-01"],  # beneath: ok
            ["B9", "新建支部", "P1", "党支部", "BU9", "新所", "供电所", "城区", "2024-01-01"],  # elsewhere in the tree
            ["B1-2", "借用他所", "B1", "党支部", "BU2", "城西供电所", "供电所", "农村", "2020-01-01"],  # another's business unit
            ["B2", "城西供电所党支部", "B1", "党支部", "BU2", "城西供电所", "供电所", "农村", "2006-05-01"]]  # outside
    (r,) = load_files([write_csv(tmp_path / "org2.csv", ORG_HEADER, rows)], db, scope=frozenset({"B1"}))
    assert r.rows_loaded == 2 and sorted(x["row"] for x in r.rejects) == [4, 5, 6]
    moved = [["B1", "城东供电所党支部", "B2", "党支部", "BU1", "城东供电所", "供电所", "城区", "2005-03-01"]]
    (r,) = load_files([write_csv(tmp_path / "org3.csv", ORG_HEADER, moved)], db, scope=frozenset({"B1"}))
    assert r.rows_rejected == 1  # the scope's own node is not moved out of its place in the tree
    assert q(db, "SELECT parent_id FROM dim_units WHERE unit_id = 'B1'") == [("P1",)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=st.sets(st.sampled_from(NODES), min_size=1, max_size=3),
       units=st.lists(st.sampled_from(["B1", "B2", "B3", "P1"]), min_size=1, max_size=8),
       bus=st.lists(st.sampled_from(["BU1", "BU2"]), min_size=0, max_size=4))
def test_property_exactly_the_rows_the_scope_grants_are_loaded(tmp_path_factory, nodes, units, bus):
    tmp = tmp_path_factory.mktemp("scope")
    db = tmp / "w.duckdb"
    load_files([org_file(tmp)], db)
    allowed_units, allowed_bus = granted(nodes)
    m_rows = [[u, f"2024-{i % 12 + 1:02d}", 10 + i] for i, u in enumerate(units)]
    k_rows = [[b, f"2024-{i % 12 + 1:02d}", 100 + i] for i, b in enumerate(bus)]
    files = [write_csv(tmp / "m.csv", MEMBERS, m_rows)] + ([write_csv(tmp / "k.csv", KPI, k_rows)] if k_rows else [])
    results = load_files(files, db, scope=frozenset(nodes))
    rm = results[0]
    expect_m = {(u, m) for u, m, _ in m_rows if u in allowed_units}
    # last row of a key wins within a file; rows outside the scope never load
    assert set(q(db, "SELECT unit_id, strftime(month, '%Y-%m') FROM fct_membership")) == expect_m
    outside = [r for r in rm.rejects if "数据权限" in r["reason"]]
    assert {m_rows[r["row"] - 2][0] for r in outside} <= set(units) - allowed_units
    assert all(m_rows[r["row"] - 2][0] not in allowed_units for r in outside)
    if k_rows:
        assert set(q(db, "SELECT business_unit_id FROM fct_kpi_monthly")) == {(b,) for b in bus if b in allowed_bus}
