"""Header matching and dataset recognition."""
from hypothesis import given
from hypothesis import strategies as st

from catalogue import datasets
from etl.contract import is_summary_or_note, match_sheet, normalize_header
from etl.readers import Sheet


def test_header_variants_match():
    for h in ["时长（小时）", "时长(h)", " 时长 ", "*时长", "hours", "HOURS", "时长（小时）："]:
        assert normalize_header(h) == normalize_header("时长") or normalize_header(h) == "hours"


@given(st.sampled_from([c for d in datasets().values() for c in d.columns]),
       st.sampled_from(["", " ", "  ", "\u3000"]), st.sampled_from(["", "（单位）", "(unit)", "(%)"]))
def test_header_normalisation_is_stable(col, pad, unit):
    assert normalize_header(f"{pad}{col.zh}{unit}{pad}") == normalize_header(col.zh)


def test_each_dataset_recognised_from_chinese_and_english_headers():
    for ds in datasets().values():
        zh = [c.zh for c in ds.columns]
        en = [c.id for c in ds.columns]
        for header in (zh, en):
            m = match_sheet(Sheet("s", [["标题：某公司"], header, ["x"] * len(header)]))
            assert m is not None and m.dataset.id == ds.id, (ds.id, header)
            assert m.header_row == 1


def test_forced_kind_and_unknown():
    rows = [["foo", "bar"], ["1", "2"]]
    assert match_sheet(Sheet("s", rows)) is None
    header = ["组织编码", "月份", "党员人数"]
    assert match_sheet(Sheet("s", [header]), kind="membership").dataset.id == "membership"
    assert match_sheet(Sheet("s", [header]), kind="outages") is None


def test_personal_columns_are_reported():
    m = match_sheet(Sheet("s", [["组织编码", "月份", "党员人数", "书记姓名", "联系电话"]]))
    assert m.dataset.id == "membership"
    assert m.personal == ["书记姓名", "联系电话"]


def test_summary_and_note_rows():
    assert is_summary_or_note(["合计", None, "12"])
    assert is_summary_or_note([None, "小 计", "3"])
    assert is_summary_or_note(["填表人：张三", None])
    assert is_summary_or_note([None, None])
    assert not is_summary_or_note(["B1", "2024-07", "20"])
