"""Column mappings: a company's own file headers → the contract's columns, saved as named profiles.

A file exported by the party-building platform, the 95598 system or the outage system carries its own
headers ("支部代码", "开展日期" …). Instead of editing the file or the contract, a user maps each contract
column to one of the file's columns once (Data page, or `python -m etl mappings save`); the mapping is
saved as a profile and next month's file with the same header is recognised by it automatically.

Profiles live outside the warehouse (PBKPI_MAPPINGS, default data/mappings/), one JSON file each, so a
publish never loses them and they can be copied between installations (`mappings show NAME > f.json`,
`mappings import f.json`). Every save makes a new version; earlier versions are kept in the file's history
and a load records which version it used (etl_loads.mapping = name@version).

How a profile is applied: in the first rows of a sheet, the row holding every mapped file header (after the
usual header normalisation) is the header row; those cells are renamed to the contract column ids, and the
sheet is matched against the profile's dataset as any other file. Columns the profile does not name keep
their own meaning (a contract header or alias still matches; an unknown one is ignored, or becomes a custom
KPI in the KPI dataset)."""
from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import settings
from catalogue import Dataset, datasets
from etl import contract, engine
from etl.errors import EtlError
from etl.personal import is_personal_header
from etl.readers import Sheet

log = logging.getLogger(__name__)
NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff.\-]{0,63}$")
SAMPLE_ROWS = 200


class MappingError(EtlError):
    """A profile that cannot be saved or applied; the message says what to change."""


@dataclass
class Profile:
    name: str
    kind: str  # the contract dataset id
    columns: dict[str, str]  # file header as written -> contract column id
    version: int = 1
    saved_at: str = ""
    saved_by: str | None = None
    history: list[dict] = field(default_factory=list)  # earlier versions: {version, saved_at, saved_by, columns}

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    def normalised(self) -> dict[str, str]:
        return {contract.normalize_header(h): c for h, c in self.columns.items()}

    def to_dict(self) -> dict:
        return asdict(self)


def validate(kind: str, columns: dict[str, str]) -> None:
    """Refuse a mapping that names an unknown dataset or column, maps two headers to one column, or maps a
    personal-data header (with the words to fix it)."""
    if kind not in datasets():
        raise MappingError(f"未知的数据类型「{kind}」；可选：{', '.join(datasets())}。(unknown kind)")
    ds = datasets()[kind]
    ids = {c.id for c in ds.columns}
    problems = []
    seen: dict[str, str] = {}
    for header, col in columns.items():
        if not contract.normalize_header(header):
            problems.append("文件列名不能为空")
        if col not in ids:
            problems.append(f"「{header}」映射到的「{col}」不是{ds.zh}的列（可选：{'、'.join(sorted(ids))}）")
        if is_personal_header(header):
            problems.append(f"「{header}」是个人信息列，不能导入")
        if col in seen:
            problems.append(f"「{seen[col]}」和「{header}」都映射到了「{col}」，每个模板列只能对应文件中的一列")
        seen[col] = header
    if problems:
        raise MappingError("；".join(problems) + "。(invalid mapping)")


def uncovered(kind: str, columns: dict[str, str], sheet_headers: list[str | None] | None = None) -> list[str]:
    """The required contract columns (or either-groups) still without a source: from the mapping itself and
    from headers of the sheet that already match the contract."""
    ds = datasets()[kind]
    found = set(columns.values())
    if sheet_headers is not None:
        idx = contract.alias_index()[kind]
        mapped = {contract.normalize_header(h) for h in columns}
        found |= {idx[n] for h in sheet_headers if (n := contract.normalize_header(h)) in idx and n not in mapped}
    missing = [c.zh for c in ds.columns if c.required and c.id not in found]
    groups: dict[str, list] = {}
    for c in ds.columns:
        if c.either:
            groups.setdefault(c.either, []).append(c)
    missing += ["或".join(c.zh for c in cols) for cols in groups.values() if not any(c.id in found for c in cols)]
    return missing


class Store:
    """The profiles in one directory. Writes are atomic (a temporary file renamed over the old one)."""

    def __init__(self, directory: Path | None = None):
        self.dir = Path(directory) if directory is not None else settings.mappings_dir()

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise MappingError(f"映射名「{name}」无效：只能用中文、字母、数字、点、短横线和下划线，最长 64 个字符。(invalid name)")
        return self.dir / f"{name}.json"

    def version(self) -> tuple:
        """Changes whenever a profile is saved, imported or deleted (what a caller's kept lookups depend on)."""
        if not self.dir.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in self.dir.glob("*.json")))

    def list(self) -> list[Profile]:
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(self._read(p))
            except MappingError as exc:  # one damaged profile does not hide the others
                log.warning("mapping profile %s skipped: %s", p, exc)
        return out

    def get(self, name: str) -> Profile:
        p = self._path(name)
        if not p.exists():
            known = "、".join(pr.name for pr in self.list()) or "（无）"
            raise MappingError(f"没有名为「{name}」的列映射；已保存的有：{known}。(no such mapping)")
        return self._read(p)

    def _read(self, p: Path) -> Profile:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
            return Profile(**{k: doc[k] for k in ("name", "kind", "columns", "version", "saved_at", "saved_by", "history")
                              if k in doc})
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise MappingError(f"列映射文件 {p} 无法读取（{exc}）；请删除或从导出的副本恢复。(damaged mapping file)") from None

    def save(self, name: str, kind: str, columns: dict[str, str], by: str | None = None) -> Profile:
        """Save a new version of `name` (the first, or the next after the stored one)."""
        path = self._path(name)
        validate(kind, columns)  # a required column may still come from the file's own contract header
        now = dt.datetime.now().isoformat(timespec="seconds")
        profile = Profile(name, kind, dict(columns), 1, now, by)
        if path.exists():
            old = self._read(path)
            profile.version = old.version + 1
            profile.history = old.history + [{"version": old.version, "saved_at": old.saved_at, "saved_by": old.saved_by,
                                              "kind": old.kind, "columns": old.columns}]
        self._write(path, profile)
        log.info("mapping %s saved (version %d, kind %s, %d columns, by %s)", name, profile.version, kind,
                 len(columns), by)
        return profile

    def import_doc(self, doc: dict, by: str | None = None) -> Profile:
        """Save an exported profile (its columns as the next version of the same name here)."""
        try:
            return self.save(str(doc["name"]), str(doc["kind"]), {str(k): str(v) for k, v in dict(doc["columns"]).items()}, by)
        except (KeyError, TypeError, ValueError) as exc:
            raise MappingError(f"导入的列映射缺少 name、kind 或 columns（{exc}）。(not a mapping profile)") from None

    def delete(self, name: str) -> None:
        path = self._path(name)
        if not path.exists():
            raise MappingError(f"没有名为「{name}」的列映射。(no such mapping)")
        path.unlink()
        log.info("mapping %s deleted", name)

    def _write(self, path: Path, profile: Profile) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(profile.to_dict(), fh, ensure_ascii=False, indent=2)
        os.replace(tmp, path)

    def find_for(self, sheet: Sheet, kind: str | None = None) -> Profile | None:
        """The profile whose mapped headers all appear in one of the sheet's first rows (the one mapping the
        most columns; the most recently saved on a tie), or None."""
        best = None
        for profile in self.list():
            if kind and profile.kind != kind:
                continue
            if header_row(sheet, profile) is None:
                continue
            rank = (len(profile.columns), profile.saved_at)
            if best is None or rank > best[0]:
                best = (rank, profile)
        return best[1] if best else None


def header_row(sheet: Sheet, profile: Profile) -> int | None:
    """The first of the sheet's first rows holding every header the profile maps, or None."""
    wanted = set(profile.normalised())
    for r, row in enumerate(sheet.rows[: contract.HEADER_SCAN_ROWS]):
        if wanted <= {contract.normalize_header(c) for c in row if c}:
            return r
    return None


def apply(sheet: Sheet, profile: Profile) -> contract.Match | None:
    """Match the sheet through the profile: None when its header row is not there."""
    r = header_row(sheet, profile)
    if r is None:
        return None
    rename = profile.normalised()
    row = sheet.rows[r]
    renamed = [rename.get(contract.normalize_header(c), c) if c else c for c in row]
    # a file column the profile does not map but whose header happens to be a contract name of a column
    # the profile maps elsewhere would be read twice: the profile wins, that column is ignored
    targets = set(rename.values())
    idx = contract.alias_index()[profile.kind]
    for ci, cell in enumerate(row):
        n = contract.normalize_header(cell)
        if cell and n not in rename and idx.get(n) in targets:
            renamed[ci] = f"{cell}（未使用 not used）"
    view = Sheet(sheet.name, sheet.rows[:r] + [renamed] + sheet.rows[r + 1:], sheet.encoding)
    m = contract.match_sheet(view, profile.kind)
    if m is None or m.header_row != r:
        return None
    # the unmatched headers are reported as the file wrote them
    m.extra = {ci: row[ci] for ci in m.extra}
    return m


# --- suggestions ----------------------------------------------------------------------------------

@dataclass
class Suggestion:
    column: str  # contract column id
    header: str | None  # the file column suggested, or None
    score: float  # 0..1
    why: str  # "name" | "similar" | "values" | ""


DATE_RE = re.compile(r"^(\d{4}[-/.年]\d{1,2}([-/.月]\d{1,2}日?)?|\d{8}|\d{6}|\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?)$")
PERIOD_RE = re.compile(r"^\d{4}(年|[HhQq]\d|年(上|下)半年|年第?\d季度)?$")
NUMBER_RE = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?%?$")


def _value_fit(col, values: list[str], units: set[str]) -> float:
    """Share of a column's sample values that look like what the contract column holds."""
    vals = [v for v in values if v]
    if not vals:
        return 0.0
    t = col.type
    if t in ("date", "datetime", "month"):
        ok = sum(bool(DATE_RE.match(v)) or (v.isdigit() and 20000 < int(v) < 80000) for v in vals)
    elif t == "period":
        ok = sum(bool(PERIOD_RE.match(v)) for v in vals)
    elif t in ("count", "number", "percent", "score"):
        ok = sum(bool(NUMBER_RE.match(v.replace(" ", ""))) for v in vals)
    elif t == "enum":
        allowed = {contract.normalize_header(x) for x in (*col.values, *col.values_en)}
        ok = sum(contract.normalize_header(v) in allowed for v in vals)
    elif t == "flag":
        ok = sum(v.lower() in {"是", "否", "y", "n", "yes", "no", "1", "0", "true", "false"} for v in vals)
    elif t in ("unit_ref", "bu_ref"):
        ok = sum(v in units for v in vals) if units else 0
    else:
        return 0.0
    return ok / len(vals)


def _name_fit(col, header: str) -> tuple[float, str]:
    n = contract.normalize_header(header)
    names = [contract.normalize_header(x) for x in (col.id, col.zh, col.en, *col.aliases)]
    if n in names:
        return 1.0, "name"
    ratio = max(difflib.SequenceMatcher(None, n, x).ratio() for x in names if x)
    contained = any(x and (x in n or n in x) for x in names)
    return (max(ratio, 0.8 if contained else 0.0), "similar")


def suggest(sheet: Sheet, kind: str, header_row_index: int = 0, units: set[str] | None = None) -> list[Suggestion]:
    """For each contract column of `kind`, the file column it most likely is: by its header (the contract's
    names and aliases, then similar names) and by its values (dates, numbers, enumerations, codes or names
    of the warehouse's units). Each file column is suggested at most once, best pairs first."""
    ds: Dataset = datasets()[kind]
    header = sheet.rows[header_row_index] if sheet.rows else []
    body = sheet.rows[header_row_index + 1: header_row_index + 1 + SAMPLE_ROWS]
    units = units or set()
    pairs = []
    for ci, h in enumerate(header):
        if not h or is_personal_header(h):
            continue
        values = [row[ci] if ci < len(row) else None for row in body]
        for col in ds.columns:
            name, why = _name_fit(col, h)
            fit = _value_fit(col, values, units)
            score = name if why == "name" else 0.6 * name + 0.4 * fit
            if fit >= 0.9 and name < 0.5 and col.type in ("unit_ref", "bu_ref", "enum", "date", "month", "period"):
                score, why = max(score, 0.55 + 0.1 * fit), "values"
            if score >= 0.45:
                pairs.append((score, ci, col.id, why if why != "similar" or name >= 0.6 else "values"))
    chosen: dict[str, Suggestion] = {}
    used: set[int] = set()
    for score, ci, cid, why in sorted(pairs, key=lambda p: -p[0]):
        if cid in chosen or ci in used:
            continue
        chosen[cid] = Suggestion(cid, header[ci], round(score, 3), why)
        used.add(ci)
    return [chosen.get(c.id, Suggestion(c.id, None, 0.0, "")) for c in ds.columns]


def guess_kind(sheet: Sheet, units: set[str] | None = None) -> tuple[str, int]:
    """The dataset a foreign sheet most likely holds and its header row (the row and dataset whose
    suggestions cover the most required columns, then score highest)."""
    best = None
    for r, row in enumerate(sheet.rows[: min(len(sheet.rows), 10)]):
        if sum(1 for c in row if c) < 2:
            continue
        for kind, ds in datasets().items():
            sug = suggest(sheet, kind, r, units)
            required = [s for s, c in zip(sug, ds.columns) if c.required]
            covered = sum(1 for s in required if s.header)
            rank = (covered / max(len(required), 1), sum(s.score for s in sug))
            if best is None or rank > best[0]:
                best = (rank, kind, r)
    if best is None:
        return next(iter(datasets())), 0
    return best[1], best[2]


def not_found_message(label: str, profile: Profile, sheets: list[Sheet]) -> str:
    """Why a file cannot be read through `profile`: the mapped headers its closest row lacks, or the
    required columns still without a source."""
    wanted = profile.normalised()
    best_row, best_hits = None, -1
    for sh in sheets:
        for row in sh.rows[: contract.HEADER_SCAN_ROWS]:
            hits = len(set(wanted) & {contract.normalize_header(c) for c in row if c})
            if hits > best_hits:
                best_row, best_hits = row, hits
    if best_row is not None and best_hits == len(wanted):
        missing = uncovered(profile.kind, profile.columns, best_row)
        return (f"文件「{label}」按列映射「{profile.name}」读取后仍缺少必填列：{'、'.join(missing)}；"
                f"请在映射中补上这些列的来源。(mapping {profile.tag} leaves required columns without a source)")
    present = {contract.normalize_header(c) for c in (best_row or []) if c}
    absent = [h for h in profile.columns if contract.normalize_header(h) not in present]
    return (f"文件「{label}」的表头与列映射「{profile.name}」不符：缺少列 {'、'.join(absent)}。"
            f"请确认选对了映射，或为这种文件另存一个映射。(file header does not fit mapping {profile.tag})")


def known_units(db: Path | None = None) -> set[str]:
    """Codes and names of the warehouse's units and business units (to recognise a column by its values);
    empty when there is no warehouse yet."""
    import duckdb

    db = Path(db) if db is not None else settings.db_path()
    if not db.exists():
        return set()
    try:
        con = engine.connect(db, read_only=True)
        try:
            rows = con.execute("SELECT unit_id, unit_name, business_unit_id, business_unit_name FROM dim_units").fetchall()
        finally:
            con.close()
    except duckdb.Error as exc:  # suggestions go on without unit values
        log.warning("units for mapping suggestions unavailable: %s", exc)
        return set()
    return {v for row in rows for v in row if v}
