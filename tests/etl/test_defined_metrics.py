"""Metrics defined as data (#20): a KPI column loaded before any definition existed becomes analysable once an
administrator defines it — in the panels, the statistics and the company figures — without reloading the
file; the numbers equal an independent computation from the file's rows; a bad definition is refused with
sentences a person can act on; a removed one is gone."""
from __future__ import annotations

import random

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalogue
from analytics.rollup import rollup
from application import statistics as stats
from application.warehouse import Warehouse, read_panel
from catalogue.defined import check_definition, definition_from_form, expand
from etl import definitions
from etl.load import load_files
from tests.etl.files import ORG_HEADER, ORG_ROWS, write_csv

MONTHS = [f"2025-{m:02d}" for m in range(1, 7)]
UNITS = ["BU1", "BU2"]


def kpi_rows(seed: int = 1) -> pd.DataFrame:
    rng = random.Random(seed)
    return pd.DataFrame([{"bu": bu, "month": m, "customers": 10000 + 1000 * i, "extra": round(rng.uniform(0, 900), 1),
                          "num": rng.randint(0, 40), "den": rng.randint(50, 120)}
                         for i, bu in enumerate(UNITS) for m in MONTHS])


@pytest.fixture()
def loaded(tmp_path):
    """A warehouse loaded by the real loader with three KPI columns no metric reads yet."""
    truth = kpi_rows()
    org = write_csv(tmp_path / "org.csv", ORG_HEADER, ORG_ROWS)
    acts = write_csv(tmp_path / "act.csv", ["组织编码", "活动日期", "活动类型", "实到人数", "应到人数"], [
        [b, f"{m}-05", "主题党日", 18, 20] for b in ("B1", "B2", "B3") for m in MONTHS])
    kpi = write_csv(tmp_path / "kpi.csv", ["业务单元编码", "月份", "用户数", "措施增油（t）", "开井数", "油井总数"],
                    truth[["bu", "month", "customers", "extra", "num", "den"]].values.tolist())
    db = tmp_path / "w.duckdb"
    results = load_files([org, acts, kpi], db)
    assert all(r.error is None for r in results), [r.error for r in results]
    return db, truth


def total(mid="stim_oil", header="措施增油", **kw) -> dict:
    return {"metric": {"id": mid, "kind": "total", "column": mid, "zh": "措施增油", "en": "Incremental oil", "unit_zh": "t",
                       "unit_en": "t", "role": "kpi", "direction": "higher", "decimals": 1, **kw},
            "columns": [{"id": mid, "zh": header, "en": header}]}


def ratio(mid="open_share", per=100.0, weight=None) -> dict:
    m = {"id": mid, "kind": "ratio", "numerator": f"{mid}_num", "denominator": f"{mid}_den", "per": per, "zh": "开井率",
         "en": "Open wells", "unit_zh": "%", "unit_en": "%", "role": "kpi", "direction": "higher", "decimals": 1}
    if weight:
        m["weight"] = weight
    return {"metric": m, "columns": [{"id": f"{mid}_num", "zh": "开井数", "en": "open"}, {"id": f"{mid}_den", "zh": "油井总数", "en": "wells"}]}


def panel(db, grain="month") -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT * FROM panel_{grain} ORDER BY business_unit_id, period").df()
    finally:
        con.close()


def test_a_column_loaded_before_its_definition_becomes_a_metric_without_reloading(loaded):
    db, truth = loaded
    assert "stim_oil" not in panel(db).columns
    con = duckdb.connect(str(db), read_only=True)
    undefined = definitions.undefined_headers(con)
    con.close()
    assert {u["header"] for u in undefined} == {"措施增油(t)", "开井数", "油井总数"}  # the loader keeps headers as read (NFKC)
    loads_before = duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM etl_loads").fetchall()[0][0]

    definitions.save(db, total(), "admin")
    month = panel(db)
    want = truth.set_index(["bu", "month"])["extra"]
    got = month.set_index(["business_unit_id", "period"])["stim_oil"]
    assert np.allclose(got.loc[want.index].to_numpy(), want.to_numpy())
    quarter = panel(db, "quarter").set_index(["business_unit_id", "period"])["stim_oil"]
    q_want = truth.assign(q="2025Q" + ((truth.month.str[5:].astype(int) - 1) // 3 + 1).astype(str)).groupby(["bu", "q"])["extra"].sum()
    assert np.allclose(quarter.loc[q_want.index].to_numpy(), q_want.to_numpy())
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM etl_loads").fetchall()[0][0] == loads_before  # nothing reloaded
    assert {u["header"] for u in definitions.undefined_headers(con)} == {"开井数", "油井总数"}
    con.close()

    # the statistics and the company figure read it like any metric
    p = read_panel(db, "month")
    assert "stim_oil" in stats.kpis()
    assert catalogue.metric("stim_oil").name("en") == "Incremental oil"
    company = rollup(p.df, ["period"]).set_index("period")["stim_oil"]
    assert np.allclose(company.loc[MONTHS].to_numpy(), truth.groupby("month")["extra"].sum().loc[MONTHS].to_numpy())
    snap = Warehouse(db).snapshot()
    assert "stim_oil" in snap.panel("month").columns


def test_a_ratio_equals_the_ratio_of_totals_at_every_level(loaded):
    db, truth = loaded
    definitions.save(db, {"metric": {"id": "wells_n", "kind": "stock", "column": "wells_n", "zh": "油井总数", "en": "Wells",
                                     "unit_zh": "口", "unit_en": "wells", "role": "context", "direction": "none", "decimals": 0},
                          "columns": [{"id": "wells_n", "zh": "油井总数", "en": "wells"}]}, "admin")
    definitions.save(db, ratio(weight="wells_n"), "admin")
    month = panel(db).set_index(["business_unit_id", "period"])
    t = truth.set_index(["bu", "month"])
    assert np.allclose(month.loc[t.index, "open_share"], 100 * t["num"] / t["den"])
    quarter = panel(db, "quarter").set_index(["business_unit_id", "period"])["open_share"]
    g = truth.assign(q="2025Q" + ((truth.month.str[5:].astype(int) - 1) // 3 + 1).astype(str)).groupby(["bu", "q"])
    assert np.allclose(quarter.loc[g.size().index], 100 * g["num"].sum() / g["den"].sum())
    company = rollup(read_panel(db, "month").df, ["period"]).set_index("period")["open_share"]
    by_month = truth.groupby("month")
    assert np.allclose(company.loc[MONTHS], (100 * by_month["num"].sum() / by_month["den"].sum()).loc[MONTHS])


def test_a_bad_definition_is_refused_and_nothing_changes(loaded):
    db, _ = loaded
    before = panel(db)
    bad = {"metric": {"id": "Bad Id", "kind": "sideways", "zh": "", "en": "", "role": "boss", "direction": "up",
                      "weight": "nothing", "valid_min": 5, "valid_max": 1}, "columns": []}
    with pytest.raises(definitions.DefinitionError) as exc:
        definitions.save(db, bad, "admin")
    assert len(exc.value.problems) >= 6 and all(zh and en for zh, en in exc.value.problems)
    with pytest.raises(definitions.DefinitionError, match="已被使用"):
        definitions.save(db, total(mid="complaints_per_10k"), "admin")  # a profile's metric is not an administrator's to take
    with pytest.raises(definitions.DefinitionError, match="系统字段"):
        definitions.save(db, total(mid="customers"), "admin")  # nor a column of the panels' base
    pd.testing.assert_frame_equal(panel(db), before)


def test_redefining_replaces_and_removing_forgets(loaded):
    db, _ = loaded
    definitions.save(db, total(), "admin")
    definitions.save(db, {**total(), "metric": {**total()["metric"], "zh": "措施增油量"}}, "admin")
    Warehouse(db).snapshot()
    assert catalogue.metric("stim_oil").zh == "措施增油量"
    assert duckdb.connect(str(db), read_only=True).execute("SELECT count(*) FROM catalogue_metric").fetchall()[0][0] == 1
    definitions.remove(db, "stim_oil", "admin")
    assert "stim_oil" not in panel(db).columns
    Warehouse(db).snapshot()
    assert "stim_oil" not in catalogue.metrics()
    with pytest.raises(definitions.DefinitionError):
        definitions.remove(db, "customers", "admin")  # the profile's own


HEADER = st.text(alphabet=st.characters(whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="\x00,\n\r\"（）()"),
                 min_size=1, max_size=12).map(str.strip).filter(lambda h: h and not h[0].isdigit())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=HEADER)
def test_any_header_can_be_defined_and_is_read_exactly(tmp_path_factory, header):
    """Headers are data, never SQL: quotes, brackets, symbols and any script are matched as written."""
    from etl.contract import normalize_header

    tmp = tmp_path_factory.mktemp("hdr")
    if not normalize_header(header) or normalize_header(header) in {normalize_header(h) for h in ("业务单元编码", "月份", "用户数", "单位编码")}:
        return
    truth = kpi_rows(seed=len(header))
    org = write_csv(tmp / "org.csv", ORG_HEADER, ORG_ROWS)
    kpi = write_csv(tmp / "kpi.csv", ["业务单元编码", "月份", "用户数", header],
                    truth[["bu", "month", "customers", "extra"]].values.tolist())
    db = tmp / "w.duckdb"
    results = load_files([org, kpi], db)
    assert all(r.error is None for r in results), [r.error for r in results]
    con = duckdb.connect(str(db), read_only=True)
    stored = [h for (h,) in con.execute("SELECT DISTINCT metric FROM fct_kpi_custom").fetchall()]
    con.close()
    if not stored:  # the loader refused the column (it looked personal or not numeric): nothing to define
        return
    definitions.save(db, total(header=stored[0]), "admin")
    got = panel(db).set_index(["business_unit_id", "period"])["stim_oil"]
    want = truth.set_index(["bu", "month"])["extra"]
    assert np.allclose(got.loc[want.index].to_numpy(), want.to_numpy())


@pytest.mark.parametrize("kind, fields, month, quarter, rollup_", [
    ("total", {"column": "a"}, "a", "SUM(a)", "sum"),
    ("stock", {"column": "a"}, "a", "AVG(a)", "sum"),
    ("level", {"column": "a"}, "a", "AVG(a)", "mean"),
    ("level", {"column": "a", "weight": "w"}, "a", "AVG(a)", "wmean:w"),
    ("ratio", {"numerator": "a", "denominator": "b", "per": 100, "weight": "w"}, "100 * a / NULLIF(b, 0)",
     "100 * SUM(a) / NULLIF(SUM(b), 0)", "wmean:w"),
])
def test_the_short_form_expands_to_the_catalogues_full_form(kind, fields, month, quarter, rollup_):
    m = expand({"id": "x1", "kind": kind, "zh": "甲", "en": "A", "role": "kpi", "direction": "higher", **fields})
    assert (m["month"], m["quarter"], m["rollup"]) == (month, quarter, rollup_)
    assert m["reported_by"] == ["kpi"] and "kind" not in m


def test_check_definition_accepts_a_good_one_and_names_each_problem():
    assert check_definition(total(), {"customers"}, set()) == []
    assert check_definition(ratio(), {"customers"}, set()) == []
    problems = check_definition({"metric": {**total()["metric"], "id": "1x"}, "columns": total()["columns"]}, set(), set())
    assert len(problems) == 1 and "编码" in problems[0][0]
    taken = check_definition(total(), set(), {"stim_oil"})
    assert any("stim_oil" in zh for zh, _ in taken)


def test_a_profile_column_is_checked_by_its_type_on_load(tmp_path):
    """An oilfield's 综合含水率 is a percentage: 150% is left out with a note naming the row; a negative well
    count likewise; the rest loads."""
    from etl import warehouse

    db = tmp_path / "oil.duckdb"
    con = warehouse.connect(db)
    warehouse.init_schema(con, profile="oilfield")
    con.close()
    org = write_csv(tmp_path / "org.csv", ORG_HEADER, [r[:6] + ["采油作业区", "老区"] + r[8:] if r[4] else r[:6] + ["机关", "老区"] + r[8:]
                                                       for r in ORG_ROWS])
    kpi = write_csv(tmp_path / "kpi.csv", ["业务单元编码", "月份", "综合含水率（%）", "油井总数"], [
        ["BU1", "2025-01", "92.5%", 120], ["BU1", "2025-02", "150%", 120], ["BU2", "2025-01", "88", -3]])
    results = load_files([org, kpi], db)
    assert all(r.error is None for r in results), [r.error for r in results]
    notes = " ".join(results[-1].notes)
    assert "综合含水率" in notes and "0–100" in notes and "第 3 行" in notes
    assert "油井总数" in notes and "非负整数" in notes
    got = duckdb.connect(str(db), read_only=True).execute(
        "SELECT business_unit_id, strftime(month, '%Y-%m'), metric, value FROM fct_kpi_custom ORDER BY ALL").fetchall()
    assert got == [("BU1", "2025-01", "油井总数", 120.0), ("BU1", "2025-01", "综合含水率(%)", 92.5),
                   ("BU1", "2025-02", "油井总数", 120.0), ("BU2", "2025-01", "综合含水率(%)", 88.0)]
    p = panel(db).set_index(["business_unit_id", "period"])
    assert p.loc[("BU1", "2025-01"), "water_cut"] == 92.5 and np.isnan(p.loc[("BU1", "2025-02"), "water_cut"])


def test_a_total_that_grows_with_size_is_left_to_its_rate_and_its_range_is_kept(loaded):
    db, _ = loaded
    definitions.save(db, total(scales_with="customers", valid_min=0.0, valid_max=5000.0), "admin")
    Warehouse(db).snapshot()
    m = catalogue.metric("stim_oil")
    assert m.bounds == (0.0, 5000.0) and m.scales_with == "customers"
    assert "stim_oil" not in stats.kpis() and "stim_oil" in catalogue.metric_ids("kpi")  # the CLI still accepts it
    with pytest.raises(definitions.DefinitionError, match="下限"):
        definitions.save(db, total(mid="stim_two", valid_min=9.0, valid_max=1.0), "admin")


def test_the_data_pages_form_makes_a_definition_check_definition_accepts():
    body = definition_from_form(" open_share ", "ratio", "开井数", denominator="油井总数", per=100, weight="wells_n",
                                zh="开井率", en="Open wells", unit_zh="%", unit_en="%", valid_min="0", valid_max="100")
    assert body["metric"] == {**ratio(weight="wells_n")["metric"], "valid_min": 0.0, "valid_max": 100.0}
    assert [(c["id"], c["zh"]) for c in body["columns"]] == [("open_share_num", "开井数"), ("open_share_den", "油井总数")]
    assert check_definition(body, {"wells_n"}, set()) == []
    with pytest.raises(ValueError, match="abc"):
        definition_from_form("x1", "total", "h", valid_min="abc")
