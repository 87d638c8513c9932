"""Corrections and repeats of records without an id (README "Corrections"): a file is authoritative for the
(branch, month) pairs its id-less activities cover; genuine repeats stay; exact copies are reported."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.load import load_files
from tests.etl.files import q, write_csv, write_xlsx

HEADER = ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数", "时长（小时）", "活动主题"]
BRANCHES = {"B1": "城东供电所党支部", "B2": "城西供电所党支部", "B3": "城西供电所第二党支部"}
KINDS = ["党小组会", "主题党日", "党课", "支部委员会"]


def stored(db, where="TRUE") -> list[tuple]:
    return sorted(q(db, f"SELECT unit_id, CAST(date AS VARCHAR), activity_type, participants, expected, hours, topic "
                        f"FROM fct_activities WHERE {where}"))


def as_stored(rows) -> list[tuple]:
    names = {v: k for k, v in BRANCHES.items()}
    return sorted((names[r[0]], r[1], r[2], r[3], r[4], float(r[5]), r[6]) for r in rows)


def generate(rng: random.Random, months: list[str]) -> list[list]:
    """Activities as an independent generator would make them: each branch holds several 党小组 meetings a
    month, some on the same day and theme (two 党小组 of one branch meeting on the month's theme)."""
    rows = []
    for name in BRANCHES.values():
        for month in months:
            theme = rng.choice(["学习二十届四中全会精神", "安全生产月", "优质服务"])
            day = f"{month}-{rng.randint(5, 25):02d}"
            for group in range(rng.randint(2, 4)):  # one meeting per 党小组, same day, same theme
                rows.append([name, day, "党小组会", rng.randint(5, 12) + 20 * group, 12 + 20 * group, 1.5, theme])
            rows.append([name, f"{month}-{rng.randint(1, 28):02d}", "主题党日", rng.randint(15, 30), 30, 2.0, theme])
    return rows


def test_genuine_same_day_same_theme_activities_all_stay(tmp_path, db):
    rows = generate(random.Random(7), ["2024-07", "2024-08", "2024-09"])
    repeats = len(rows) - len({(r[0], r[1], r[2], r[6]) for r in rows})
    assert repeats > 10  # the case the old key (branch, date, type, topic) dropped
    (r,) = load_files([write_csv(tmp_path / "a.csv", HEADER, rows)], db)
    assert r.error is None and r.rows_rejected == 0 and r.rows_loaded == len(rows)
    assert stored(db) == as_stored(rows)
    # the panel counts every one of them
    meetings = q(db, "SELECT sum(activities_total) FROM panel_month WHERE period_start BETWEEN '2024-07-01' AND '2024-09-01'")
    assert meetings[0][0] == len(rows)


def test_an_exact_copy_is_reported_and_counted_once(tmp_path, db):
    row = ["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "优服务"]
    other = ["城东供电所党支部", "2024-07-05", "主题党日", 19, 22, 2, "优服务"]  # one attendance different: genuine
    (r,) = load_files([write_csv(tmp_path / "a.csv", HEADER, [row, other, row])], db)
    assert r.rows_loaded == 2 and r.rows_rejected == 1
    (reject,) = r.rejects
    assert reject["row"] == 2 and "第 4 行完全相同" in reject["reason"] and "活动编号" in reject["reason"]


def quarter_workbook(path, branch: str, rows_by_month: dict[str, list]) -> None:
    """A branch's quarterly workbook: one sheet per month, as branches send them."""
    months = list(rows_by_month)
    write_xlsx(path, HEADER, rows_by_month[months[0]], sheet=months[0],
               extra_sheets={m: (HEADER, rows_by_month[m]) for m in months[1:]})


def test_a_resent_corrected_quarter_replaces_what_it_corrects_and_nothing_else(tmp_path, db):
    rng = random.Random(11)
    east, west = BRANCHES["B1"], BRANCHES["B2"]
    quarter = {m: [r for r in generate(rng, [m]) if r[0] == east] for m in ("2024-07", "2024-08", "2024-09")}
    june_east = [[east, "2024-06-12", "党课", 18, 20, 2, "党史"]]
    west_rows = [r for r in generate(rng, ["2024-07", "2024-08"]) if r[0] == west]
    load_files([write_csv(tmp_path / "june.csv", HEADER, june_east), write_csv(tmp_path / "west.csv", HEADER, west_rows)], db)
    quarter_workbook(tmp_path / "q3.xlsx", east, quarter)
    (first,) = load_files([tmp_path / "q3.xlsx"], db)
    assert first.error is None and first.rows_loaded == sum(map(len, quarter.values()))

    corrected = {m: [list(r) for r in rows] for m, rows in quarter.items()}
    corrected["2024-07"][0][6] = "更正后的主题"  # a topic corrected
    corrected["2024-08"][1][3] -= 3  # an attendance corrected
    del corrected["2024-09"][-1]  # a row withdrawn
    corrected["2024-09"].append([east, "2024-09-28", "党课", 17, 20, 1.5, "补报"])  # a row added
    quarter_workbook(tmp_path / "q3_corrected.xlsx", east, corrected)
    (again,) = load_files([tmp_path / "q3_corrected.xlsx"], db)
    assert again.error is None and again.rows_rejected == 0
    assert any("按支部和月份更正" in n for n in again.notes)

    q3 = "unit_id = 'B1' AND date BETWEEN '2024-07-01' AND '2024-09-30'"
    assert stored(db, q3) == as_stored([r for rows in corrected.values() for r in rows])
    assert stored(db, "unit_id = 'B1' AND date < '2024-07-01'") == as_stored(june_east)  # another month: untouched
    assert stored(db, "unit_id = 'B2'") == as_stored(west_rows)  # another branch: untouched
    # the panels follow: 2024-09 of 城东 holds the corrected count
    sept = q(db, "SELECT activities_total FROM panel_month WHERE business_unit_id = 'BU1' AND period = '2024-09'")
    assert sept == [(len(corrected["2024-09"]),)]


def test_activities_with_ids_are_not_touched_by_the_branch_month_rule(tmp_path, db):
    header = ["活动编号", *HEADER]
    with_id = [["A-1", "城东供电所党支部", "2024-07-03", "党课", 20, 22, 2, "有编号"]]
    without = [["", "城东供电所党支部", "2024-07-09", "主题党日", 20, 22, 2, "无编号"]]
    load_files([write_csv(tmp_path / "a.csv", header, with_id + without)], db)
    resent = [["", "城东供电所党支部", "2024-07-09", "主题党日", 21, 22, 2, "无编号(更正)"]]
    load_files([write_csv(tmp_path / "b.csv", header, resent)], db)
    topics = sorted(t for (t,) in q(db, "SELECT topic FROM fct_activities"))
    assert topics == ["无编号(更正)", "有编号"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_after_any_sequence_of_sends_the_warehouse_holds_the_last_send_of_each_branch_month(tmp_path_factory, data):
    """Property: whatever files are sent in whatever order, the id-less activities of each (branch, month)
    are exactly those of the last file that covered it (exact copies within a file counted once)."""
    tmp = tmp_path_factory.mktemp("corr")
    db = tmp / "w.duckdb"
    from tests.etl.files import org_file

    load_files([org_file(tmp)], db)
    activity = st.tuples(st.sampled_from(list(BRANCHES.values())), st.sampled_from(["2024-07", "2024-08"]),
                         st.integers(1, 3), st.sampled_from(KINDS[:2]), st.integers(10, 12), st.sampled_from(["甲", "乙"]))
    files = data.draw(st.lists(st.lists(activity, min_size=1, max_size=8), min_size=1, max_size=4))
    truth: dict[tuple, set] = {}
    for k, acts in enumerate(files):
        rows = [[b, f"{m}-{d:02d}", kind, p, 20, 1.0, t] for b, m, d, kind, p, t in acts]
        (r,) = load_files([write_csv(tmp / f"f{k}.csv", HEADER, rows)], db)
        assert r.error is None
        sent: dict[tuple, set] = {}
        for row in rows:
            sent.setdefault((row[0], row[1][:7]), set()).add(tuple(row))
        truth.update(sent)
        assert r.rows_loaded + r.rows_rejected == len(rows)
        assert r.rows_rejected == len(rows) - sum(map(len, sent.values()))
    assert stored(db) == as_stored([row for rows in truth.values() for row in rows])


def test_dates_across_a_month_boundary_are_separate_branch_months(tmp_path, db):
    day = dt.date(2024, 7, 31)
    rows = [["城东供电所党支部", str(day), "党课", 20, 22, 2, "月末"],
            ["城东供电所党支部", str(day + dt.timedelta(days=1)), "党课", 20, 22, 2, "月初"]]
    load_files([write_csv(tmp_path / "a.csv", HEADER, rows)], db)
    load_files([write_csv(tmp_path / "b.csv", HEADER, [rows[1][:6] + ["月初(更正)"]])], db)  # August only
    assert sorted(t for (t,) in q(db, "SELECT topic FROM fct_activities")) == ["月初(更正)", "月末"]
