"""The bulk CSV path (DuckDB's reader + SQL normalisation) must give exactly what the Python reader gives:
same text cells, row numbers, skipped rows and `_raw`; where it cannot, it must step aside."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
import sys
import unicodedata
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from etl import bulk_csv, contract, readers, warehouse
from etl.load import load_files
from tests.etl.files import org_file, write_csv

ACT_HEADER = ["组织名称", "活动日期", "活动类型", "实到人数", "应到人数", "时长（小时）", "活动主题"]

# characters that exercise every branch of the normalisation: full-width forms, Unicode spaces, NFKC
# compatibility characters (①, ㎡, ℃, compatibility ideographs), combining marks, CSV syntax
TRICKY = "０９Ａｚ，：％（）\u3000\u00a0\u2003\u202f①㎡℃豈e\u0301\u1100\u1161,\"\n \t合计小计填表人注:备注"
cell = st.one_of(
    st.just(""),
    st.sampled_from(["主题党日", "2024-07-05", "２０２４年７月５日", "20", "1,000", " 12 ", "合计", "小计", "Total",
                     "填表人：张三", "注：说明", "备注"]),
    st.text(alphabet=st.sampled_from(list(TRICKY) + list("abc123-_/")), max_size=8),
)


def python_frame(path: Path, label: str) -> tuple[pd.DataFrame, int, contract.Match]:
    (sheet,) = readers.read_file(path, label)
    m = contract.match_sheet(sheet)
    frame, skipped = contract.extract_frame(sheet, m)
    return frame, skipped, m


def bulk_frame(path: Path, label: str, in_transaction: bool) -> tuple[pd.DataFrame, int] | None:
    src = bulk_csv.probe(path, label)
    if src is None:
        return None
    m = contract.match_sheet(readers.Sheet(Path(label).stem, src.head, src.encoding))
    con = duckdb.connect()
    warehouse.init_schema(con)
    if in_transaction:
        con.execute("BEGIN TRANSACTION")
    try:
        skipped = bulk_csv.materialize(con, src, m)
    except bulk_csv.Unavailable:
        return None
    finally:
        src.discard()
    # `_raw` is given for rejected rows only: reject every row to see all of it
    con.execute("CREATE TEMP TABLE staged AS SELECT _row, 'x' AS reject_reason FROM raw_in")
    frame = con.execute(f"SELECT r.* REPLACE (j._raw AS _raw) FROM raw_in AS r "
                        f"JOIN ({bulk_csv.rejected_sql(src, m)}) AS j USING (_row) ORDER BY _row").df()
    return frame, skipped


def assert_same(path: Path, in_transaction: bool = True) -> bool:
    """True when the bulk path was taken (and agreed); False when it stepped aside."""
    expected, skipped, _ = python_frame(path, path.name)
    got = bulk_frame(path, path.name, in_transaction)
    if got is None:
        return False
    frame, bulk_skipped = got
    assert bulk_skipped == skipped
    assert list(frame.columns) == list(expected.columns)
    exp = expected.astype(object).where(expected.notna(), None).to_dict("records")
    act = frame.astype(object).where(frame.notna(), None).to_dict("records")
    assert act == exp
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=1, max_size=9), min_size=1, max_size=12),
       title=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       crlf=st.booleans(), in_transaction=st.booleans())
def test_bulk_path_equals_python_path(tmp_path, rows, title, encoding, crlf, in_transaction):
    path = tmp_path / "活动.csv"
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, lineterminator="\r\n" if crlf else "\n")
        if title:
            w.writerow(["2024年党建活动台账（合成）"])
        w.writerow(ACT_HEADER)
        # a data row whose cells are all empty is a blank line, which takes the Python path on purpose
        w.writerows(r if any(r) else r + ["x"] for r in rows)
    assert_same(path, in_transaction)


def test_typical_files_take_the_bulk_path(tmp_path):
    rows = [["城东供电所党支部", f"2024年7月{d}日", "主题党日", 20, 22, "1.5", "学习，讨论"] for d in range(1, 29)]
    for enc in ("utf-8", "utf-8-sig", "gb18030"):
        p = write_csv(tmp_path / f"a_{enc}.csv", ACT_HEADER, rows, encoding=enc, title="标题（合成数据）",
                      trailer=[["合计", "", "", 560], ["填表人：张三"]])
        assert assert_same(p), enc


def test_wider_row_after_the_head_steps_aside_and_loads_exactly(tmp_path):
    rows = [["城东供电所党支部", str(dt.date(2024, 6, 1) + dt.timedelta(d)), "主题党日", 20, 22, 2, "x"] for d in range(40)]
    rows += [["城东供电所党支部", "2024-08-01", "主题党日", 20, 22, 2, "x", "多出的一列"]]
    p = write_csv(tmp_path / "wide.csv", ACT_HEADER, rows, trailer=[["合计"]])
    assert bulk_frame(p, p.name, True) is None
    db = tmp_path / "w.duckdb"
    load_files([org_file(tmp_path)], db)
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded == 41 and r.rows_skipped == 1


def test_blank_lines_and_utf16_take_the_python_path(tmp_path):
    p = tmp_path / "blank.csv"
    p.write_text(",".join(ACT_HEADER) + "\n\n城东供电所党支部,2024-07-05,主题党日,20,22,2,x\n", encoding="utf-8")
    assert bulk_csv.probe(p, p.name) is None
    u = tmp_path / "u16.csv"
    u.write_text(",".join(ACT_HEADER) + "\n", encoding="utf-16")
    assert bulk_csv.probe(u, u.name) is None


def test_gbk_copy_is_removed_after_loading(tmp_path, monkeypatch):
    made = []
    real = bulk_csv.probe

    def spy(path, label, plain=None, scratch=None):
        src = real(path, label, plain, scratch=scratch)
        made.append(src)
        return src

    monkeypatch.setattr(bulk_csv, "probe", spy)
    db = tmp_path / "w.duckdb"
    load_files([org_file(tmp_path)], db)
    p = write_csv(tmp_path / "g.csv", ACT_HEADER, [["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "x"]],
                  encoding="gb18030")
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded == 1 and "编码 encoding: gbk" in r.notes
    gbk = [s for s in made if s is not None and s.encoding == "gbk"]
    assert gbk and gbk[0].temporary and not gbk[0].path.exists()


def test_long_cell_reported_with_its_row(tmp_path):
    rows = [["城东供电所党支部", "2024-07-05", "主题党日", 20, 22, 2, "x"]] * 3
    rows.append(["城东供电所党支部", "2024-07-06", "主题党日", 20, 22, 2, "长" * (readers.MAX_CELL_CHARS + 1)])
    p = write_csv(tmp_path / "long.csv", ACT_HEADER, rows)
    db = tmp_path / "w.duckdb"
    load_files([org_file(tmp_path)], db)
    (r,) = load_files([p], db)
    assert r.error and "第 5 行" in r.error and r.rows_loaded == 0


def test_bulk_and_python_paths_load_the_same_warehouse(tmp_path, monkeypatch):
    """The demo's messy source files, loaded both ways: identical tables and rejects."""
    from etl.demo import simulate, write_sources

    sim = simulate(seed=3, n_units=20, years=2, end_year=2025)
    paths = write_sources(sim, tmp_path / "src", seed=3)
    assert any(bulk_csv.probe(p, p.name) for p in paths if p.suffix == ".csv")
    fast = tmp_path / "fast.duckdb"
    load_files(paths, fast)
    monkeypatch.setattr(bulk_csv, "probe", lambda path, label, plain=None, scratch=None: None)
    slow = tmp_path / "slow.duckdb"
    load_files(paths, slow)
    tables = ["dim_units", "fct_activities", "fct_membership", "fct_outages", "fct_kpi_monthly", "fct_assessments",
              "fct_initiatives"]
    for name in tables + ["etl_rejects"]:
        cols = "* EXCLUDE (load_id)" if name != "etl_rejects" else "* EXCLUDE (load_id)"
        a = duckdb.connect(str(fast), read_only=True).execute(f"SELECT {cols} FROM {name} ORDER BY ALL").df()
        b = duckdb.connect(str(slow), read_only=True).execute(f"SELECT {cols} FROM {name} ORDER BY ALL").df()
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    shutil.rmtree(tmp_path / "src")


def _structure_reference(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data or b"\x1f" in data:
        return False
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if data.count(b"\r") != data.count(b"\r\n"):
        return False
    return not (body.startswith((b"\n", b"\r\n")) or b"\n\n" in body or b"\n\r\n" in body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b"a"))
       | st.text(alphabet="ab,\r\n\x00\x1f", max_size=40).map(str.encode),
       bom=st.booleans(), chunk=st.integers(1, 9))
def test_chunked_structure_scan_equals_whole_file_scan(tmp_path, monkeypatch, data, bom, chunk):
    monkeypatch.setattr(bulk_csv, "SCAN_CHUNK", chunk)
    data = (b"\xef\xbb\xbf" if bom else b"") + data
    p = tmp_path / "s.csv"
    p.write_bytes(data)
    plain, digest = bulk_csv.scan(p)
    assert plain == _structure_reference(data)
    assert digest == hashlib.sha256(data).hexdigest()


def test_safe_characters_are_left_alone_by_the_python_reader():
    """A row made of these characters skips every closer look, so the reader must never change them."""
    safe = bulk_csv.safe_chars()
    assert 0x4E2D in safe and ord("、") in safe and ord("a") in safe  # 中, CJK punctuation, ASCII
    assert ord("，") not in safe and 0x3000 not in safe and ord("①") not in safe and 0xF900 not in safe
    for cp in safe:
        ch = chr(cp)
        assert unicodedata.normalize("NFKC", ch) == ch, hex(cp)
        assert cp == 0x20 or not ch.isspace(), hex(cp)
        assert readers.normalize_cell("中" + ch + "a") == "中" + ch + "a", hex(cp)


LOOK_ALPHABET = list("中文党建、。《》“”—-_/:.,0123456789abAZ ") + list("合计小总TtOoAaLlSsUuMmBb") + list(TRICKY)


@settings(max_examples=400, deadline=None)
@given(cells=st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(LOOK_ALPHABET), max_size=7)),
                      min_size=1, max_size=6))
def test_rows_the_look_test_lets_through_are_final(cells):
    """Soundness of the one-regex-per-row filter: a row it does not flag is exactly what the Python reader
    would make of it (no cell changes) and is not a blank, summary or note row."""
    con = duckdb.connect()
    width = len(cells)
    con.execute(f"CREATE TABLE raw_src ({', '.join(f'c{i} VARCHAR' for i in range(width))})")
    con.execute(f"INSERT INTO raw_src VALUES ({', '.join('?' * width)})", cells)
    flagged = con.execute(f"SELECT {bulk_csv.look_sql(width)} FROM raw_src").fetchall()[0][0]
    if not flagged:
        assert [readers.normalize_cell(c) if c is not None else None for c in cells] == cells
        assert not contract.is_summary_or_note(cells)


def test_look_test_flags_what_needs_a_closer_look():
    con = duckdb.connect()
    con.execute("CREATE TABLE raw_src (c0 VARCHAR, c1 VARCHAR, c2 VARCHAR, c3 VARCHAR)")
    rows = {
        ("A1", "2024-07-05", "主题党日", "学习、讨论"): False,
        ("A1", "2024-07-05", "主题党日", "学习，讨论"): True,  # full-width comma: NFKC changes it
        ("A1", "2024-07-05 ", "主题党日", "x"): True,  # padding
        ("A1", "2024-07-05", "", "x"): True,  # empty cell
        ("合 计", "10", "20", "30"): True,  # summary word
        ("A1", "Total", "20", "30"): True,
        ("填表人：张三", None, None, None): True,  # at most two filled cells
        (None, None, None, None): True,
        ("A1", "2024-07-05", "主题党日", "①"): True,
    }
    for row, expected in rows.items():
        con.execute("DELETE FROM raw_src")
        con.execute("INSERT INTO raw_src VALUES (?, ?, ?, ?)", list(row))
        assert con.execute(f"SELECT {bulk_csv.look_sql(4)} FROM raw_src").fetchall()[0][0] is expected, row


def test_no_whitespace_above_the_bound_the_patterns_scan():
    assert max(cp for cp in range(sys.maxunicode + 1) if chr(cp).isspace()) == bulk_csv.WS_MAX
