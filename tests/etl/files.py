"""Tiny source files written in code, as branches would send them."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb

ORG_HEADER = ["组织编码", "组织名称", "上级组织编码", "组织类别", "业务单元编码", "业务单元名称", "业务类型", "区域类型", "成立日期"]
ORG_ROWS = [
    ["P1", "测试公司党委", "", "党委", "", "", "机关", "城区", "2001-01-01"],
    ["B1", "城东供电所党支部", "P1", "党支部", "BU1", "城东供电所", "供电所", "城区", "2005-03-01"],
    ["B2", "城西供电所党支部", "P1", "党支部", "BU2", "城西供电所", "供电所", "农村", "2006-05-01"],
    ["B3", "城西供电所第二党支部", "P1", "党支部", "BU2", "城西供电所", "供电所", "农村", "2010-01-01"],
]


def write_csv(path: Path, header, rows, encoding="utf-8", title: str | None = None, trailer=()) -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        if title:
            w.writerow([title])
        w.writerow(header)
        w.writerows(rows)
        for t in trailer:
            w.writerow(t)
    return path


def write_xlsx(path: Path, header, rows, title: str | None = None, trailer=(), sheet="Sheet1", extra_sheets=None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for r in rows:
        ws.append(r)
    for t in trailer:
        ws.append(list(t))
    for name, (h, rs) in (extra_sheets or {}).items():
        s2 = wb.create_sheet(name)
        if h:
            s2.append(h)
        for r in rs:
            s2.append(r)
    wb.save(path)
    return path


def org_file(tmp: Path) -> Path:
    return write_csv(tmp / "org.csv", ORG_HEADER, ORG_ROWS)


def q(db, sql, params=None) -> list[tuple]:
    """Rows of a read-only query on a warehouse file."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
