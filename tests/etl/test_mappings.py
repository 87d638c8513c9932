"""Column mappings (etl/mappings.py): a file with its own headers loads through a saved profile exactly as
the same data under the contract's headers; the next file with that header is recognised by itself."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue import datasets
from etl import mappings
from etl.load import dry_run, load_files, recognise
from etl.personal import is_personal_header
from etl.readers import Sheet
from tests.etl.files import q, write_csv, write_xlsx

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数", "时长（小时）", "活动主题"]
IDS = ["unit_name", "date", "activity_type", "participants", "expected", "hours", "topic"]
FOREIGN = ["支部全称", "开展日期", "活动形式", "到会人数", "应到会人数", "用时", "会议议题"]
ROWS = [["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "学习"],
        ["城西供电所党支部", "2024/7/9", "党课", 18, 20, 1.5, "党史"],
        ["城西供电所第二党支部", "2024年7月12日", "党小组会", 8, 9, 1, "安全"],
        ["城东供电所党支部", "2024-07-31", "党课", 30, 20, 1, "人数不合理"]]  # rejected: participants > expected


def table(db, sql="SELECT unit_id, date, activity_type, participants, expected, hours, topic FROM fct_activities"):
    return sorted(q(db, sql), key=repr)


@pytest.fixture()
def store(tmp_path):
    return mappings.Store(tmp_path / "mappings")


def test_a_foreign_file_is_unknown_until_mapped_then_loads_like_the_contract_file(tmp_path, db, store):
    foreign = write_csv(tmp_path / "平台导出.csv", FOREIGN, ROWS)
    (r,) = load_files([foreign], db, mapping_store=store)
    assert r.error and "无法识别" in r.error
    profile = store.save("党建平台", "party_activities", dict(zip(FOREIGN, IDS)), by="steward")
    (r,) = load_files([foreign], db, mapping_store=store)
    assert r.error is None and r.mapping == "党建平台@1" and r.rows_loaded == 3 and r.rows_rejected == 1
    assert any("党建平台" in n for n in r.notes)
    assert q(db, "SELECT mapping FROM etl_loads WHERE load_id = ?", [r.load_id]) == [("党建平台@1",)]
    via_mapping = table(db)

    other = tmp_path / "w2.duckdb"
    load_files([tmp_path / "org.csv"], other)
    (c,) = load_files([write_csv(tmp_path / "模板.csv", CONTRACT, ROWS)], other)
    assert (c.rows_loaded, c.rows_rejected) == (r.rows_loaded, r.rows_rejected)
    assert [x["reason"] for x in c.rejects] == [x["reason"] for x in r.rejects]
    assert table(other) == via_mapping
    assert profile.version == 1


def test_next_months_file_with_the_same_header_is_recognised_by_itself(tmp_path, db, store):
    store.save("党建平台", "party_activities", dict(zip(FOREIGN, IDS)))
    # next month's export: another title row, the columns in another order, an extra column
    order = [6, 0, 3, 1, 5, 2, 4]
    header = [FOREIGN[i] for i in order] + ["导出人"]
    rows = [[row[i] for i in order] + ["张三"] for row in ROWS[:2]]
    path = write_xlsx(tmp_path / "八月.xlsx", header, rows, title="2024年8月党建活动导出")
    kind, through, _ = recognise(path, path.name, store)
    assert kind == "party_activities" and through.name == "党建平台"
    (r,) = load_files([path], db, mapping_store=store)
    assert r.error is None and r.rows_loaded == 2 and r.mapping == "党建平台@1"
    assert not q(db, "SELECT count(*) FROM fct_activities WHERE topic IS NULL")[0][0]


@st.composite
def renamed_files(draw):
    """A column order, a subset of the optional columns, and foreign names for the contract columns."""
    keep = [0, 1, 2] + sorted(draw(st.sets(st.sampled_from([3, 4, 5, 6]))))
    order = draw(st.permutations(keep))
    names = draw(st.lists(st.text(alphabet="支部名称日期类型人数应到时长主题栏目甲乙丙XYZ_", min_size=2, max_size=6)
                          .filter(lambda n: not is_personal_header(n)),  # refused by design (another test)
                          min_size=len(order), max_size=len(order), unique_by=mappings.contract.normalize_header))
    return order, names


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=renamed_files())
def test_property_a_mapped_file_loads_exactly_as_the_same_data_under_contract_headers(tmp_path_factory, case):
    order, names = case
    ds_ids = {c.id for c in datasets()["party_activities"].columns}
    # a foreign name that happens to be a contract name or alias of another column is still what the map says
    tmp = tmp_path_factory.mktemp("prop")
    from tests.etl.files import org_file

    results = []
    for variant in ("contract", "mapped"):
        db = tmp / f"{variant}.duckdb"
        load_files([org_file(tmp)], db)
        rows = [[row[i] for i in order] for row in ROWS]
        if variant == "contract":
            path = write_csv(tmp / "c.csv", [CONTRACT[i] for i in order], rows)
            (r,) = load_files([path], db)
        else:
            store = mappings.Store(tmp / "maps")
            columns = {names[k]: IDS[i] for k, i in enumerate(order)}
            assert set(columns.values()) <= ds_ids
            store.save("p", "party_activities", columns)
            path = write_csv(tmp / "m.csv", names, rows)
            (r,) = load_files([path], db, mapping="p", mapping_store=store)
        assert r.error is None, r.error
        results.append((r.rows_loaded, r.rows_rejected, [x["reason"] for x in r.rejects], table(db)))
    assert results[0] == results[1]


def test_explicit_mapping_that_does_not_fit_says_which_headers_are_missing(tmp_path, db, store):
    store.save("党建平台", "party_activities", dict(zip(FOREIGN, IDS)))
    path = write_csv(tmp_path / "x.csv", FOREIGN[:3] + ["人数"], [r[:4] for r in ROWS])
    (r,) = load_files([path], db, mapping="党建平台", mapping_store=store)
    assert r.error and "党建平台" in r.error and "应到会人数" in r.error and "用时" in r.error


def test_invalid_mappings_are_refused_with_reasons(store):
    with pytest.raises(mappings.MappingError, match="不是党建活动台账的列"):
        store.save("a", "party_activities", {"日期": "when"})
    with pytest.raises(mappings.MappingError, match="个人信息"):
        store.save("a", "party_activities", {"身份证号": "topic", "日期": "date"})
    with pytest.raises(mappings.MappingError, match="都映射到了"):
        store.save("a", "party_activities", {"日期一": "date", "日期二": "date"})
    with pytest.raises(mappings.MappingError, match="未知的数据类型"):
        store.save("a", "nonsense", {"日期": "date"})
    with pytest.raises(mappings.MappingError, match="映射名"):
        store.save("../evil", "party_activities", {"日期": "date"})
    assert store.list() == []


def test_versions_history_export_and_import(tmp_path, store):
    first = store.save("kpi", "kpi_monthly", {"单位": "business_unit_id", "年月": "month"}, by="a")
    second = store.save("kpi", "kpi_monthly", {"单位代码": "business_unit_id", "年月": "month"}, by="b")
    assert (first.version, second.version) == (1, 2)
    kept = store.get("kpi")
    assert kept.version == 2 and kept.history[0]["columns"] == first.columns and kept.history[0]["saved_by"] == "a"
    elsewhere = mappings.Store(tmp_path / "elsewhere")
    imported = elsewhere.import_doc(json.loads(json.dumps(kept.to_dict())), by="c")
    assert imported.columns == kept.columns and imported.kind == "kpi_monthly"
    store.delete("kpi")
    assert store.list() == []
    with pytest.raises(mappings.MappingError, match="没有名为"):
        store.get("kpi")


def test_suggestions_find_the_columns_by_name_and_by_value(tmp_path, db):
    sheet = Sheet("s", [FOREIGN[:1] + ["列B", "列C", "到会人数", "应到会人数", "用时", "议题"]] +
                  [[str(c) for c in r] for r in ROWS])
    units = mappings.known_units(db)
    assert "城东供电所党支部" in units
    got = {s.column: s.header for s in mappings.suggest(sheet, "party_activities", 0, units)}
    assert got["unit_name"] == "支部全称"  # by its values: names of the warehouse's branches
    assert got["date"] == "列B"  # by its values: dates
    assert got["activity_type"] == "列C"  # by its values: the enumeration
    assert got["participants"] == "到会人数" and got["expected"] == "应到会人数"
    assert mappings.guess_kind(sheet, units) == ("party_activities", 0)


def test_dry_run_shows_what_would_load_and_changes_nothing(tmp_path, db):
    before = db.read_bytes()
    profile = mappings.Profile("draft", "party_activities", dict(zip(FOREIGN, IDS)))
    dry = dry_run(write_csv(tmp_path / "f.csv", FOREIGN, ROWS), "f.csv", db, profile=profile)
    assert dry.result.rows_loaded == 3 and dry.result.rows_rejected == 1
    assert sorted(dry.preview["unit_id"]) == ["B1", "B2", "B3"]  # names resolved against the real warehouse
    assert db.read_bytes() == before


def cli(*args, env_extra=None, **kw):
    import os

    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "etl", *args], cwd=ROOT, capture_output=True, text=True, env=env, **kw)


def test_the_same_through_the_command_line(tmp_path, db):
    env = {"PBKPI_MAPPINGS": str(tmp_path / "maps"), "PBKPI_DB": str(db)}
    foreign = write_csv(tmp_path / "平台导出.csv", FOREIGN, ROWS)
    sug = cli("mappings", "suggest", str(foreign), env_extra=env)
    assert sug.returncode == 0 and "python -m etl mappings save NAME --kind party_activities" in sug.stdout
    maps = [a for a in (f"--map={h}={c}" for h, c in zip(FOREIGN, IDS))]
    saved = cli("mappings", "save", "党建平台", "--kind", "party_activities", *maps, env_extra=env)
    assert saved.returncode == 0, saved.stderr
    assert "党建平台" in cli("mappings", "list", env_extra=env).stdout
    shown = json.loads(cli("mappings", "show", "党建平台", env_extra=env).stdout)
    assert shown["columns"] == dict(zip(FOREIGN, IDS)) and shown["version"] == 1
    loaded = cli("load", str(foreign), "--mapping", "党建平台", "--json", env_extra=env)
    assert loaded.returncode == 0 and json.loads(loaded.stdout)["files"][0]["mapping"] == "党建平台@1"
    # next month's file with the same header: no --mapping needed
    nxt = write_csv(tmp_path / "九月.csv", FOREIGN, [["城东供电所党支部", "2024-09-03", "党课", 20, 22, 2, "九月"]])
    auto = cli("load", str(nxt), env_extra=env)
    assert auto.returncode == 0 and "党建平台" in auto.stdout
    export = tmp_path / "export.json"
    export.write_text(cli("mappings", "show", "党建平台", env_extra=env).stdout, encoding="utf-8")
    assert cli("mappings", "delete", "党建平台", env_extra=env).returncode == 0
    assert cli("mappings", "import", str(export), env_extra=env).returncode == 0
    bad = cli("mappings", "save", "x", "--kind", "party_activities", "--map", "没有等号", env_extra=env)
    assert bad.returncode == 2 and "--map" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli("load", str(foreign), "--mapping", "不存在", env_extra=env)
    assert missing.returncode == 2 and "没有名为「不存在」的列映射" in missing.stderr
