"""Broken and hostile files: each refused or rejected with a clear message, nothing partly loaded."""
import zipfile

import duckdb
import pytest

from briefing.safe_export import safe_frame, to_safe_csv
from etl.load import load_files
from tests.etl.files import ORG_HEADER, ORG_ROWS, org_file, write_csv


@pytest.fixture()
def db(tmp_path):
    db = tmp_path / "w.duckdb"
    load_files([org_file(tmp_path)], db)
    return db


def counts(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT (SELECT count(*) FROM dim_units), (SELECT count(*) FROM fct_membership), "
                           "(SELECT count(*) FROM etl_loads)").fetchall()[0]
    finally:
        con.close()


def test_zip_bomb_xlsx_refused(tmp_path, db):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            chunk = b"0" * (1 << 20)
            for _ in range(600):  # 600 MB of zeros, a few hundred KB on disk
                fh.write(chunk)
    assert bomb.stat().st_size < 5 << 20
    before = counts(db)
    (r,) = load_files([bomb], db)
    assert "解压后超过" in r.error
    assert counts(db) == before


def test_big_workbook_with_a_normal_ratio_is_not_a_bomb(tmp_path, db, monkeypatch):
    """Past the size threshold only a zip-bomb ratio (or 20x the upload limit) refuses a workbook: a group's
    KPI report legitimately inflates to hundreds of MB. Threshold shrunk to a few KB to test it."""
    from etl import readers
    from tests.etl.files import write_xlsx

    monkeypatch.setattr(readers, "MAX_UNZIPPED_BYTES", 4096)
    rows = [[f"B{1 + i % 3}", f"2024-{1 + i % 12:02d}", 20 + i % 7, i % 3] for i in range(36)]
    p = write_xlsx(tmp_path / "m.xlsx", ["组织编码", "月份", "党员人数", "党员先锋岗数"], rows)
    with zipfile.ZipFile(p) as zf:
        assert sum(i.file_size for i in zf.infolist()) > 4096  # over the threshold, at a workbook's ratio
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded + r.rows_rejected == 36


def test_huge_cell_refused(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数", "备注"],
                  [["B1", "2024-07", 20, "x"], ["B2", "2024-07", 15, "y" * (10 << 20)]])
    before = counts(db)
    (r,) = load_files([p], db)
    assert "超过 32,767 个字符" in r.error and "第 3 行" in r.error
    assert counts(db) == before


def test_rows_beyond_limit_refused(tmp_path, db, monkeypatch):
    monkeypatch.setenv("PBKPI_MAX_ROWS", "50")
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"], [["B1", f"2020-{m % 12 + 1:02d}", 1] for m in range(60)])
    (r,) = load_files([p], db)
    assert "超过上限 50 行" in r.error and counts(db)[1] == 0


def test_formula_and_script_cells_stored_as_text_and_neutralised(tmp_path, db):
    rows = ORG_ROWS + [["B7", "=HYPERLINK(\"http://evil\",\"点我\")", "P1", "党支部", "BU7", "@SUM(1+1)", "供电所", "城区", ""],
                       ["B8", "<img src=x onerror=alert(1)>", "P1", "党支部", "BU8", "+cmd|' /C calc'!A0", "供电所", "城区", ""]]
    load_files([write_csv(tmp_path / "o.csv", ORG_HEADER, rows)], db)
    con = duckdb.connect(str(db), read_only=True)
    names = dict(con.execute("SELECT unit_id, unit_name FROM dim_units").fetchall())
    con.close()
    assert names["B7"].startswith("=HYPERLINK") and names["B8"] == "<img src=x onerror=alert(1)>"  # kept verbatim as text
    import pandas as pd

    out = safe_frame(pd.DataFrame({"name": list(names.values()), "n": [-1.5] * len(names)}))
    assert not any(str(v).startswith(("=", "+", "@")) for v in out["name"])
    assert "'=HYPERLINK" in to_safe_csv(pd.DataFrame({"a": ["=HYPERLINK(1)"], "b": ["-3"]})).decode("utf-8-sig")
    assert "-3" in to_safe_csv(pd.DataFrame({"b": ["-3"]})).decode("utf-8-sig").splitlines()[1]  # numbers untouched


def test_file_with_only_header_loads_nothing_cleanly(tmp_path, db):
    p = write_csv(tmp_path / "m.csv", ["组织编码", "月份", "党员人数"], [])
    (r,) = load_files([p], db)
    assert r.error is None and r.rows_loaded == 0 and r.rows_rejected == 0
