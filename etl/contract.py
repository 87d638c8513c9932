"""Match a sheet's header to a dataset of the contract (catalogue/contract.toml).

A header cell matches a column when, after normalisation, it equals the column's id, Chinese name or one
of its aliases. Normalisation folds full-width to half-width (NFKC), drops spaces, a trailing unit in
parentheses (`时长（小时）`, `时长(h)`), `*` required markers, and case."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from catalogue import Dataset, active_key, datasets
from etl.errors import UnknownKind
from etl.personal import is_personal_header
from etl.readers import Sheet

HEADER_SCAN_ROWS = 30
SUMMARY_WORDS = {"合计", "小计", "总计", "总合计", "total", "subtotal", "sum"}
NOTE_PREFIXES = ("填表人", "审核人", "制表人", "负责人", "备注", "说明", "注:", "注：", "填报说明", "联系电话", "note")


def normalize_header(text: str | None) -> str:
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = re.sub(r"\s+", "", s)
    s = s.strip("*＊:：")
    s = re.sub(r"\([^()]*\)$", "", s)  # trailing unit: 时长(小时) -> 时长
    return s.strip("*＊:：")


def header_names(col) -> set[str]:
    """The normalised headers that name a column: its id, Chinese and English names and aliases."""
    return {normalize_header(n) for n in (col.id, col.zh, col.en, *col.aliases)}


def alias_index() -> dict[str, dict[str, str]]:
    """dataset id -> {normalised header -> column id}, for the active industry profile's datasets."""
    return _alias_index(active_key()[0])


@lru_cache(maxsize=8)
def _alias_index(profile: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for ds in datasets().values():
        idx: dict[str, str] = {}
        for col in ds.columns:
            for name in (col.id, col.zh, col.en, *col.aliases):
                idx.setdefault(normalize_header(name), col.id)
        out[ds.id] = idx
    return out


@dataclass
class Match:
    dataset: Dataset
    header_row: int  # 0-based index into sheet.rows
    columns: dict[int, str]  # sheet column index -> contract column id
    extra: dict[int, str] = field(default_factory=dict)  # unmatched headers (custom metrics or ignored)
    personal: list[str] = field(default_factory=list)  # personal-data headers, never read (etl/personal.py)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)  # (header, first column, repeat), 1-based


def _covers(ds: Dataset, found: set[str]) -> bool:
    """True when every required column, and one column of every `either` group, is present."""
    for col in ds.columns:
        if col.required and col.id not in found:
            return False
    groups: dict[str, bool] = {}
    for col in ds.columns:
        if col.either:
            groups[col.either] = groups.get(col.either, False) or col.id in found
    return all(groups.values())


def match_sheet(sheet: Sheet, kind: str | None = None) -> Match | None:
    """Find the header row and dataset of a sheet; None when no header row fits any dataset."""
    index = alias_index()
    candidates = [kind] if kind else list(index)
    best: tuple[float, Match] | None = None
    for r, row in enumerate(sheet.rows[:HEADER_SCAN_ROWS]):
        normed = [normalize_header(c) for c in row]
        if sum(1 for n in normed if n) < 2:
            continue
        for ds_id in candidates:
            idx = index[ds_id]
            cols, dups = {}, []
            for ci, n in enumerate(normed):
                if n in idx and idx[n] not in cols.values():
                    cols[ci] = idx[n]
                elif n in idx:  # a second column for the same contract column: which one is meant?
                    first = next(c for c, cid in cols.items() if cid == idx[n])
                    dups.append((row[ci], first + 1, ci + 1))
            ds = datasets()[ds_id]
            if not _covers(ds, set(cols.values())):
                continue
            # Prefer the dataset explaining the most header cells, then the largest share of its columns.
            score = len(cols) + len(cols) / len(ds.columns)
            if best is None or score > best[0]:
                extra, personal = {}, []
                for ci, cell in enumerate(row):
                    if ci in cols or not cell:
                        continue
                    if is_personal_header(cell):
                        personal.append(cell)
                    elif not any(ci + 1 == d[2] for d in dups):
                        extra[ci] = cell
                best = (score, Match(ds, r, cols, extra, personal, dups))
    return best[1] if best else None


def is_summary_or_note(cells: list[str | None]) -> bool:
    filled = [c for c in cells if c]
    if not filled:
        return True
    # cells are already NFKC-normalised by the reader; a cheap fold is enough here (this runs per row)
    if any("".join(c.split()).lower() in SUMMARY_WORDS for c in filled[:3]):
        return True
    first = filled[0].lower()
    return len(filled) <= 2 and first.startswith(NOTE_PREFIXES)


def extract_frame(sheet: Sheet, match: Match) -> tuple[pd.DataFrame, int]:
    """The data rows under the header as text columns named by contract id, plus `_row` (1-based row
    number as Excel shows it) and `_raw` (the contract columns' cells as filled in, in the file's order,
    for the rejects report: never a column outside the contract, so never a personal one). Blank,
    合计/小计 and trailing note rows are dropped and counted."""
    records, skipped = [], 0
    width = max(match.columns) + 1
    custom_idx = sorted(match.extra) if match.dataset.custom_metrics else []
    contract_idx = sorted(match.columns)
    for offset, row in enumerate(sheet.rows[match.header_row + 1:]):
        row = list(row) + [None] * max(0, width - len(row))
        if is_summary_or_note(row):
            skipped += 1
            continue
        rec = {cid: row[ci] for ci, cid in match.columns.items()}
        for ci in custom_idx:
            rec[f"custom::{match.extra[ci]}"] = row[ci] if ci < len(row) else None
        rec["_row"] = match.header_row + offset + 2
        rec["_raw"] = " | ".join("" if row[ci] is None else row[ci] for ci in contract_idx)
        records.append(rec)
    cols = [c.id for c in match.dataset.columns]
    frame = pd.DataFrame.from_records(records)
    for c in cols + ["_raw"]:
        if c not in frame.columns:
            frame[c] = pd.Series([None] * len(frame), dtype="object")
    if "_row" not in frame.columns:
        frame["_row"] = pd.Series([], dtype="int64")
    ordered = cols + [c for c in frame.columns if c.startswith("custom::")] + ["_row", "_raw"]
    return frame[ordered].astype({c: "object" for c in ordered if c != "_row"}), skipped


def unknown_kind_message(label: str) -> str:
    names = "、".join(f"{d.zh}" for d in datasets().values())
    return (
        f"无法识别文件「{label}」的数据类型：前 {HEADER_SCAN_ROWS} 行中没有找到符合任何模板的表头。"
        f"请使用 `python -m etl template` 生成的模板（{names}），或检查表头名称是否正确。"
        f"(no header row matches a known dataset)"
    )


def require_kind(kind: str | None) -> None:
    if kind and kind not in datasets():
        raise UnknownKind(f"未知的数据类型 --kind {kind}；可选：{', '.join(datasets())}。(unknown kind)")
