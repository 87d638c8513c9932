"""Loading: rejects with reasons, idempotent upserts, all-or-nothing, messy layouts, derived metrics."""
import datetime as dt
import json
import subprocess
import sys

import duckdb
import pytest

from catalogue import metric_ids
from etl.load import load_files
from tests.etl.files import ORG_HEADER, ORG_ROWS, q, write_csv, write_xlsx

ACT_HEADER = ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数", "时长（小时）", "活动主题"]


def test_every_bad_row_reason(tmp_path, db):
    rows = [
        ["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "ok"],            # 2 good
        ["不存在的支部", "2024-07-05", "主题党日", 20, 22, 2, "x"],                 # 3 unknown branch
        ["城东供电所党支部", "2024-02-30", "主题党日", 20, 22, 2, "x"],              # 4 bad date
        ["城东供电所党支部", "2024-07-06", "主题党日", -1, 22, 2, "x"],              # 5 negative
        ["城东供电所党支部", "2024-07-07", "主题党日", 30, 22, 2, "x"],              # 6 participants > expected
        ["城东供电所党支部", "2024-07-08", "开会", 20, 22, 2, "x"],                  # 7 unknown type
        ["城东供电所党支部", "", "主题党日", 20, 22, 2, "x"],                        # 8 missing date
        ["城东供电所党支部", "2024-07-09", "主题党日", 20.5, 22, 2, "x"],            # 9 fractional count
        ["城东供电所党支部", "1899-07-09", "主题党日", 20, 22, 2, "x"],              # 10 out of range
    ]
    (r,) = load_files([write_csv(tmp_path / "a.csv", ACT_HEADER, rows)], db)
    assert (r.rows_loaded, r.rows_rejected) == (1, 8)
    reasons = {x["row"]: x["reason"] for x in r.rejects}
    assert "不在组织机构表中" in reasons[3]
    assert "「2024-02-30」无法识别" in reasons[4]
    assert "不能为负数" in reasons[5]
    assert "实到人数大于应到人数" in reasons[6]
    assert "不在可选值中" in reasons[7]
    assert "缺少必填项「活动日期」" in reasons[8]
    assert "应为整数" in reasons[9]
    assert "早于 2000 年" in reasons[10]
    stored = q(db, "SELECT row_number, reason FROM etl_rejects ORDER BY row_number")
    assert [s[0] for s in stored] == list(range(3, 11))


def test_percent_and_end_before_start(tmp_path, db):
    kpi = write_csv(tmp_path / "k.csv", ["业务单元编码", "月份", "电费回收率（%）", "用户数"],
                    [["BU1", "2024-07", "101%", "1,000"], ["BU1", "2024-08", "99.5%", "1,000"]])
    out = write_csv(tmp_path / "o.csv", ["事件编号", "业务单元编码", "停电开始时间", "恢复送电时间", "停电用户数", "停电性质"],
                    [["E1", "BU1", "2024-07-01 10:00", "2024-07-01 08:00", 10, "故障"]])
    r_k, r_o = load_files([kpi, out], db)
    assert r_k.rows_rejected == 1 and "超出 0–100" in r_k.rejects[0]["reason"]
    assert r_o.rows_rejected == 1 and "早于" in r_o.rejects[0]["reason"]


def test_excel_title_total_note_and_sheets(tmp_path, db):
    rows = [["B1", "2024年7月", 20, 2], ["B2", "202407", 15, 1], ["B1", "2024-08", 21, 2]]
    p = write_xlsx(tmp_path / "m.xlsx", ["组织编码", "月份", "党员人数", "党员先锋岗数"], rows,
                   title="2024年党员队伍月报（合成）", trailer=[["合计", "", 56, 5], [], ["填表人：张三", "审核人：李四"]],
                   extra_sheets={"填表说明": (None, [["请按模板填写"]]), "下半年": (["组织编码", "月份", "党员人数"], [["B3", "2024-09", 9]])})
    (r,) = load_files([p], db)
    assert r.error is None
    assert r.rows_loaded == 4 and r.rows_rejected == 0 and r.rows_skipped >= 3
    assert r.sheets_loaded == ["Sheet1", "下半年"] and r.sheets_skipped == ["填表说明"]
    assert q(db, "SELECT count(*) FROM fct_membership")[0][0] == 4


def test_gbk_csv_with_title_row(tmp_path, db):
    p = write_csv(tmp_path / "g.csv", ACT_HEADER, [["城西供电所党支部", "2024年7月5日", "党课", 10, 12, 1.5, "党史"]],
                  encoding="gbk", title="党建活动台账（2024年）")
    (r,) = load_files([p], db)
    assert r.rows_loaded == 1 and "gbk" in " ".join(r.notes)
    assert q(db, "SELECT unit_id, date, topic FROM fct_activities") == [("B2", dt.date(2024, 7, 5), "党史")]


def test_reload_is_idempotent_and_corrections_upsert(tmp_path, db):
    rows = [["B1", "2024-07", 20], ["B2", "2024-07", 15]]
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"], rows)
    load_files([p], db)
    load_files([p], db)
    assert q(db, "SELECT count(*), sum(members) FROM fct_membership")[0] == (2, 35)
    write_csv(p, ["组织编码", "月份", "党员人数"], [["B1", "2024-07", 25], ["B2", "2024-07", 15]])
    (r,) = load_files([p], db)
    assert q(db, "SELECT count(*), sum(members) FROM fct_membership")[0] == (2, 40)
    assert q(db, "SELECT count(*) FROM etl_loads WHERE kind = 'membership'")[0][0] == 3
    # activities without an id are keyed on unit, date, type and topic
    a = write_csv(tmp_path / "a.csv", ACT_HEADER, [["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "优服务"]])
    load_files([a], db)
    load_files([a], db)
    assert q(db, "SELECT count(*) FROM fct_activities")[0][0] == 1


def test_activity_keys_stored_before_upsert_like_new_ones(tmp_path, db):
    """Warehouses built before activity_key became NULL for activities with an id (it held a copy of the
    id, NOT NULL) take new loads: the same activities are replaced, not added."""
    header = ["活动编号"] + ACT_HEADER
    rows = [["A1", "城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "优服务"],
            ["", "城东供电所党支部", "2024-07-06", "党课", 18, 22, 1, "学习"]]
    p = write_csv(tmp_path / "a.csv", header, rows)
    load_files([p], db)
    assert q(db, "SELECT activity_id, activity_key IS NULL FROM fct_activities ORDER BY date") == [("A1", True), (None, False)]
    con = duckdb.connect(str(db))  # the old layout
    con.execute("UPDATE fct_activities SET activity_key = COALESCE(activity_id, activity_key)")
    con.execute("ALTER TABLE fct_activities ALTER COLUMN activity_key SET NOT NULL")
    con.close()
    rows[0][4] = rows[1][4] = 21
    (r,) = load_files([write_csv(tmp_path / "a.csv", header, rows)], db)
    assert r.error is None and r.rows_loaded == 2
    assert q(db, "SELECT count(*), sum(participants) FROM fct_activities") == [(2, 42)]


def test_branch_names_resolve_with_spaces_and_case_and_unknown_names_are_rejected(tmp_path, db):
    rows = [["城东 供电所 党支部", "2024-07-05", "主题党日", 20, 22, 2, "a"],
            ["城西供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "b"],
            ["城东供电所党支部", "2024-07-06", "党课", 20, 22, 2, "c"],
            ["城南供电所党支部", "2024-07-06", "党课", 20, 22, 2, "d"]]
    for encoding in ("utf-8", "gb18030"):  # the bulk path, and the same file transcoded
        (r,) = load_files([write_csv(tmp_path / f"n_{encoding}.csv", ACT_HEADER, rows, encoding=encoding)], db)
        assert r.rows_loaded == 3 and r.rows_rejected == 1
        assert "组织「城南供电所党支部」不在组织机构表中" in r.rejects[0]["reason"] and r.rejects[0]["row"] == 5
    assert q(db, "SELECT topic, unit_id FROM fct_activities ORDER BY topic") == [("a", "B1"), ("b", "B2"), ("c", "B1")]


def test_duplicate_key_within_file_keeps_last(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"],
                  [["B1", "2024-07", 20], ["B1", "2024年7月", 22], ["B2", "2024-13", 9]])
    (r,) = load_files([p], db)
    assert r.rows_loaded == 1 and r.rows_rejected == 2 and "第 3 行重复" in r.rejects[0]["reason"]
    assert q(db, "SELECT members FROM fct_membership")[0][0] == 22
    # the rejected rows are reported as they were filled in: the duplicate (its text read again from the
    # file) and the row that failed a check
    assert q(db, "SELECT row_number, raw FROM etl_rejects WHERE load_id = ? ORDER BY row_number", [r.load_id]) == [
        (2, "B1 | 2024-07 | 20"), (4, "B2 | 2024-13 | 9")]


def test_duplicate_in_gbk_file_reported_with_its_text(tmp_path, db):
    p = write_csv(tmp_path / "a.csv", ACT_HEADER, [["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "优服务"],
                                                   ["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "优服务"]],
                  encoding="gb18030")  # an exact copy: without an id, a row is identified by all it says
    (r,) = load_files([p], db)
    assert r.rows_loaded == 1 and r.rows_rejected == 1
    assert q(db, "SELECT raw FROM etl_rejects WHERE load_id = ?", [r.load_id]) == [
        ("城东供电所党支部 | 2024-07-05 | 主题党日 | 20 | 22 | 2 | 优服务",)]


def test_unrecognised_and_unreadable_files_load_nothing(tmp_path, db):
    before = q(db, "SELECT count(*) FROM etl_loads")[0][0]
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    r1, r2 = load_files([junk, broken], db)
    assert "无法识别" in r1.error and "xlsx" in r2.error
    assert q(db, "SELECT count(*) FROM etl_loads")[0][0] == before


def test_failure_mid_load_rolls_back_whole_file(tmp_path, db, monkeypatch):
    from etl import load as load_mod

    good = write_csv(tmp_path / "a.csv", ["组织编码", "月份", "党员人数"], [["B1", "2024-06", 20]])
    bad = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"], [["B1", "2024-07", 20], ["B2", "2024-07", 15]])
    original = load_mod._load_part

    def part(con, load_id, label, sheet, m, frame, res, *rest):
        original(con, load_id, label, sheet, m, frame, res, *rest)
        if label == "m.csv":
            raise duckdb.Error("simulated crash after the upsert")

    monkeypatch.setattr(load_mod, "_load_part", part)
    r_good, r_bad = load_files([good, bad], db)
    assert r_good.error is None and r_good.rows_loaded == 1
    assert "回滚" in r_bad.error and r_bad.rows_loaded == 0
    assert q(db, "SELECT month FROM fct_membership") == [(dt.date(2024, 6, 1),)]  # nothing of m.csv
    assert q(db, "SELECT count(*) FROM etl_loads WHERE file_name = 'm.csv'")[0][0] == 0
    assert q(db, "SELECT sum(members) FROM panel_month")[0][0] == 20  # panels reflect exactly what landed


def test_reliability_indices_hand_computed(tmp_path, db):
    """BU1 has 1,000 customers in July 2024 (744 hours). Outages: 2 h x 100 customers, 30 min x 50,
    and a 3-minute momentary one (excluded, IEEE 1366 > 5 min). SAIDI = (200 + 25) / 1000 = 0.225 h,
    SAIFI = 150 / 1000 = 0.15, CAIDI = 1.5 h, RS-1 = (1 - 0.225 / 744) x 100."""
    kpi = write_csv(tmp_path / "k.csv", ["业务单元编码", "月份", "用户数", "投诉件数"],
                    [["BU1", "2024-07", 1000, 3], ["BU1", "2024-08", 1000, 0]])
    out = write_csv(tmp_path / "o.csv", ["事件编号", "业务单元名称", "停电开始时间", "恢复送电时间", "停电用户数", "停电性质", "重大事件日"],
                    [["E1", "城东供电所", "2024-07-01 10:00", "2024-07-01 12:00", 100, "故障", "否"],
                     ["E2", "城东供电所", "2024/7/9 08:00", "2024/7/9 08:30", 50, "计划", "否"],
                     ["E3", "BU1", "2024-07-10 08:00", "2024-07-10 08:03", 500, "故障", "否"]])
    load_files([kpi, out], db)
    row = q(db, "SELECT saidi, saifi, caidi, rs1, complaints_per_10k FROM panel_month WHERE business_unit_id='BU1' AND period='2024-07'")[0]
    assert row[0] == pytest.approx(0.225)
    assert row[1] == pytest.approx(0.15)
    assert row[2] == pytest.approx(1.5)
    assert row[3] == pytest.approx(100 * (1 - 0.225 / 744))
    assert row[4] == pytest.approx(30.0)
    aug = q(db, "SELECT saidi, rs1 FROM panel_month WHERE business_unit_id='BU1' AND period='2024-08'")[0]
    assert aug == (0.0, 100.0)  # no outages but customers: SAIDI 0, RS-1 100
    qtr = q(db, "SELECT saidi, complaints_per_10k FROM panel_quarter WHERE business_unit_id='BU1' AND period='2024Q3'")[0]
    assert qtr[0] == pytest.approx(0.225)  # customers averaged over the months present
    assert qtr[1] == pytest.approx(30.0)   # quarter: 3 complaints in all / (1,000 customers / 10k)


def test_major_events_can_be_excluded(tmp_path, db):
    kpi = write_csv(tmp_path / "k.csv", ["业务单元编码", "月份", "用户数"], [["BU1", "2024-07", 1000]])
    out = write_csv(tmp_path / "o.csv", ["事件编号", "业务单元编码", "停电开始时间", "恢复送电时间", "停电用户数", "停电性质", "重大事件日"],
                    [["E1", "BU1", "2024-07-01 10:00", "2024-07-01 12:00", 100, "故障", "是"],
                     ["E2", "BU1", "2024-07-02 10:00", "2024-07-02 11:00", 100, "故障", "否"]])
    load_files([kpi, out], db)
    assert q(db, "SELECT saidi FROM panel_month WHERE period='2024-07' AND business_unit_id='BU1'")[0][0] == pytest.approx(0.3)
    from etl.__main__ import main
    assert main(["refresh", "--db", str(db), "--major-events", "exclude"]) == 0
    assert q(db, "SELECT saidi FROM panel_month WHERE period='2024-07' AND business_unit_id='BU1'")[0][0] == pytest.approx(0.1)


def test_panel_inputs_aggregate_branches_to_business_unit(tmp_path, db):
    mem = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数", "人均学习时长（小时）", "党员先锋岗数"],
                    [["B2", "2024-07", 10, 2, 3], ["B3", "2024-07", 30, 6, 1]])
    acts = write_csv(tmp_path / "a.csv", ["组织编码", "活动日期", "活动类型", "实到人数", "应到人数"],
                     [["B2", "2024-07-01", "主题党日", 9, 10], ["B3", "2024-07-02", "主题党日", 21, 30],
                      ["B3", "2024-07-03", "支部委员会", 5, 5], ["B3", "2024-07-04", "专题学习", 5, 5]])
    load_files([mem, acts], db)
    row = q(db, "SELECT theme_days, meetings, study_sessions, activities_total, attendance_rate, study_hours, "
                "pioneer_posts, members, meeting_compliance FROM panel_month WHERE business_unit_id='BU2'")[0]
    assert row[:4] == (2, 1, 1, 4)
    assert row[4] == pytest.approx(100 * 40 / 50)           # participants / expected
    assert row[5] == pytest.approx((10 * 2 + 30 * 6) / 40)  # member-weighted
    assert row[6:8] == (4, 40)
    assert row[8] == pytest.approx(100 * 1 / (2 * (2 + 2 / 3)))


def test_custom_metric_columns_are_kept(tmp_path, db):
    p = write_csv(tmp_path / "k.csv", ["业务单元编码", "月份", "用户数", "产油量", "备注"],
                  [["BU1", "2024-07", 1000, "1,234.5", "无"], ["BU2", "2024-07", 500, "99", "无"]])
    (r,) = load_files([p], db)
    assert q(db, "SELECT metric, value FROM fct_kpi_custom ORDER BY value") == [("产油量", 99.0), ("产油量", 1234.5)]
    assert any("备注" in n for n in r.notes)


def test_personal_data_columns_dropped(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数", "书记姓名", "身份证号"], [["B1", "2024-07", 20, "张三", "110101199001011234"]])
    (r,) = load_files([p], db)
    assert r.rows_loaded == 1 and any("个人信息" in n for n in r.notes)
    raw = q(db, "SELECT raw FROM etl_rejects")
    assert raw == []
    cols = [c[0] for c in q(db, "SELECT column_name FROM information_schema.columns WHERE table_name='fct_membership'")]
    assert not any("姓名" in c or "身份证" in c for c in cols)


def test_panel_columns_match_catalogue(db):
    cols = [c[0] for c in q(db, "SELECT column_name FROM information_schema.columns WHERE table_name='panel_month'")]
    assert set(metric_ids()) <= set(cols)
    qcols = [c[0] for c in q(db, "SELECT column_name FROM information_schema.columns WHERE table_name='panel_quarter'")]
    assert set(metric_ids()) <= set(qcols)


def test_cli_json_and_exit_codes(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"], [["B1", "2024-07", 20], ["BX", "2024-07", 1]])
    out = subprocess.run([sys.executable, "-m", "etl", "load", str(p), "--db", str(db), "--json"],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    f = doc["files"][0]
    assert (f["file"], f["kind"], f["rows_loaded"], f["rows_rejected"]) == ("m.csv", "membership", 1, 1)
    assert f["rejects"][0]["row"] == 3 and f["rejects"][0]["sheet"] == "m"
    junk = tmp_path / "junk.csv"
    junk.write_text("x,y\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "etl", "load", str(junk), "--db", str(db)], capture_output=True, text=True)
    assert bad.returncode == 1 and "无法识别" in bad.stderr
    st = subprocess.run([sys.executable, "-m", "etl", "status", "--db", str(db), "--json"], capture_output=True, text=True, check=True)
    tables = {t["table"]: t["rows"] for t in json.loads(st.stdout)["tables"]}
    assert tables["dim_units"] == len(ORG_ROWS) and tables["fct_membership"] == 1


def test_forced_kind(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["unit_id", "month", "members"], [["B1", "2024-07", 20]])
    (r,) = load_files([p], db, kind="membership")
    assert r.rows_loaded == 1
    (r2,) = load_files([p], db, kind="outages")
    assert r2.error and "无法识别" in r2.error


def test_org_units_parent_and_business_unit_checks(tmp_path):
    db = tmp_path / "w.duckdb"
    rows = ORG_ROWS + [["B9", "孤立支部", "P404", "党支部", "BU9", "x", "供电所", "城区", ""],
                       ["B8", "无业务单元支部", "P1", "党支部", "", "", "供电所", "城区", ""]]
    (r,) = load_files([write_csv(tmp_path / "o.csv", ORG_HEADER, rows)], db)
    reasons = " ".join(x["reason"] for x in r.rejects)
    assert r.rows_rejected == 2 and "P404" in reasons and "业务单元编码" in reasons


def test_a_command_that_loads_nothing_leaves_the_warehouse_file_untouched(tmp_path, db):
    """Unreadable or unrecognised files only: no new version is published (the dashboards' caches, keyed on
    the file's size and mtime, stay valid)."""
    before = db.stat()
    junk = tmp_path / "junk.csv"
    junk.write_text("这不是,任何模板\n1,2\n", encoding="utf-8")
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    results = load_files([junk, empty], db)
    assert all(r.error for r in results)
    after = db.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
