"""Load files into the warehouse: one transaction per file, rejected rows recorded with reasons,
natural-key upserts so that loading a file twice never duplicates anything."""
from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

import logsetup
from etl import bulk_csv, contract, engine, mappings, publish, readers, upserts, validate, warehouse
from etl.errors import EtlError, UnknownKind, UnreadableFile
from etl.validate import q

log = logging.getLogger(__name__)
CUSTOM_NUMERIC_SHARE = 0.8  # a custom KPI column is kept when this share of its filled cells are numbers


@dataclass
class FileResult:
    file: str
    kind: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_skipped: int = 0
    rejects: list[dict] = field(default_factory=list)
    sheets_loaded: list[str] = field(default_factory=list)
    sheets_skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    load_id: int | None = None
    mapping: str | None = None  # the column-mapping profile applied (name@version)
    seconds: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Prepared:
    label: str
    digest: str
    # (sheet, match, rows as text columns or a CSV DuckDB will read in bulk, skipped rows)
    parts: list[tuple[str, contract.Match, pa.Table | pd.DataFrame | bulk_csv.BulkCsv, int]]
    result: FileResult
    source: Path | None = None
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) when read: a file changed meanwhile is refused
    profile: mappings.Profile | None = None  # the column mapping the file's header was read through
    started: float = field(default_factory=time.perf_counter)

    def discard(self) -> None:
        for _, _, frame, _ in self.parts:
            if isinstance(frame, bulk_csv.BulkCsv):
                frame.discard()


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def match(sheet: readers.Sheet, kind: str | None, profile: mappings.Profile | None,
          store: mappings.Store | None) -> tuple[contract.Match | None, mappings.Profile | None]:
    """A sheet's header through the given profile, else the contract, else a saved profile that fits it."""
    if profile is not None and (m := mappings.apply(sheet, profile)) is not None:
        return m, profile
    if (m := contract.match_sheet(sheet, kind)) is not None:
        return m, None
    if profile is None and store is not None and (found := store.find_for(sheet, kind)) is not None:
        if (m := mappings.apply(sheet, found)) is not None:
            return m, found
    return None, None


def prepare(path: Path, label: str | None = None, kind: str | None = None, scratch: Path | None = None,
            profile: mappings.Profile | None = None, store: mappings.Store | None = None) -> _Prepared:
    """Read and match a file, without touching the warehouse. Raises EtlError when it cannot be used.
    `profile` forces a column mapping; otherwise a saved one (`store`) is used when the header is foreign."""
    started = time.perf_counter()
    label = label or Path(path).name
    contract.require_kind(kind or (profile.kind if profile else None))
    res = FileResult(file=label)
    stamp = _stamp(Path(path))
    parts = []
    bulk = None
    if readers.check_file(Path(path), label) in readers.CSV_SUFFIXES:
        plain, digest = bulk_csv.scan(Path(path))
        bulk = bulk_csv.probe(Path(path), label, plain, scratch=scratch)
    else:
        digest = file_hash(Path(path))
    if bulk is not None:
        sheets = [readers.Sheet(Path(label).stem, bulk.head, bulk.encoding)]
    else:
        sheets = readers.iter_sheets(Path(path), label)  # one at a time: each is compacted before the next
    used = None
    for sh in sheets:
        m, through = match(sh, kind, profile, store)
        if m is None:
            if any(any(c for c in r) for r in sh.rows):
                res.sheets_skipped.append(sh.name)
            continue
        if through is not None and used is None:
            used = through
            res.mapping = through.tag
            res.notes.append(f"按已保存的列映射「{through.name}」（第 {through.version} 版）识别表头。"
                             f"(header read through mapping {through.tag})")
        if m.duplicates:
            if bulk is not None:
                bulk.discard()
            header, a, b = m.duplicates[0]
            raise UnreadableFile(f"工作表「{sh.name}」的表头「{header}」出现了两次（第 {a} 列和第 {b} 列），无法确定使用哪一列；"
                                 f"请删除或改名多余的一列后再导入。(duplicated header)")
        if bulk is not None:
            frame, skipped = bulk, 0  # read and counted by DuckDB at load time
        else:
            rows, skipped = contract.extract_frame(sh, m)
            # Arrow holds the text columns in a fraction of the memory of Python strings
            frame = pa.Table.from_pandas(rows, preserve_index=False)
        parts.append((sh.name, m, frame, skipped))
        if m.personal:
            res.notes.append(f"工作表「{sh.name}」含个人信息列（{'、'.join(m.personal)}），未导入这些列。")
        ignored = [h for h in m.extra.values()] if not m.dataset.custom_metrics else []
        if ignored:
            res.notes.append(f"工作表「{sh.name}」中未识别的列已忽略：{'、'.join(ignored)}")
        if sh.encoding:
            res.notes.append(f"编码 encoding: {sh.encoding}")
    if not parts:
        if bulk is not None:
            bulk.discard()
        if profile is not None:
            raise mappings.MappingError(mappings.not_found_message(label, profile, sheets_head(path, label)))
        raise UnknownKind(contract.unknown_kind_message(label))
    if res.sheets_skipped:
        res.notes.append(f"以下工作表表头不符合模板，已跳过：{'、'.join(res.sheets_skipped)}")
    res.kind = ",".join(dict.fromkeys(m.dataset.id for _, m, _, _ in parts))
    return _Prepared(label, digest, parts, res, Path(path), stamp, used, started)


def sheets_head(path: Path, label: str) -> list[readers.Sheet]:
    return readers.head_sheets(Path(path), label, contract.HEADER_SCAN_ROWS)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None  # check_file explains a file that cannot be opened
    return info.st_size, info.st_mtime_ns


def _read_bulk(con, prep: _Prepared) -> None:
    """Let DuckDB read bulk CSV parts into `raw_in` before the load transaction starts (a parse error
    inside a transaction would abort it). Where the bulk path steps aside, read the Python way."""
    for k, (sheet, m, frame, skipped) in enumerate(prep.parts):
        if not isinstance(frame, bulk_csv.BulkCsv):
            continue
        try:
            # a transcoded copy is kept until the file is loaded (prep.discard): in-file duplicates read it again
            prep.parts[k] = (sheet, m, frame, bulk_csv.materialize(con, frame, m))
        except bulk_csv.Unavailable:
            frame.discard()
            found = ((s, match(s, m.dataset.id, prep.profile, None)[0]) for s in readers.read_file(frame.source, prep.label))
            whole, again = next(((s, mm) for s, mm in found if mm is not None), (None, None))
            if whole is None:  # the whole file reads differently from its first 64 KB: mixed encodings, say
                raise UnreadableFile(f"文件「{prep.label}」前后内容不一致（常见原因：同一文件混用了 GBK 与 UTF-8 编码），"
                                     f"请用 Excel 另存为“CSV UTF-8”后再导入。(file changes encoding part-way)")
            rows, skipped = contract.extract_frame(whole, again)
            prep.parts[k] = (sheet, m, rows, skipped)
            if whole.encoding and whole.encoding != frame.encoding:  # e.g. ASCII for 64 KB, then GBK
                notes = prep.result.notes
                notes[:] = [f"编码 encoding: {whole.encoding}" if n == f"编码 encoding: {frame.encoding}" else n for n in notes]


def _load_part(con, load_id: int, label: str, sheet: str, m: contract.Match, frame, res: FileResult,
               scope: frozenset[str] | None = None):
    ds = m.dataset
    bulk = isinstance(frame, bulk_csv.BulkCsv)
    if not bulk:
        bulk_csv.drop(con)  # a bulk file before may have left its view
        con.register("raw_view", frame)
        # every cell is text (a column of empty cells would otherwise be typed from no values at all)
        names = [c for (c, *_) in con.execute("DESCRIBE raw_view").fetchall() if c != "_row"]
        cells = ", ".join(f"CAST({validate.q(c)} AS VARCHAR) AS {validate.q(c)}" for c in names)
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_in AS SELECT _row, {cells} FROM raw_view")
        con.unregister("raw_view")
    con.execute(validate.staging_sql(ds))
    rules = validate.rules_sql(ds)
    if rules:
        con.execute(rules)
    if scope is not None and (limit := validate.scope_sql(ds, sorted(scope))):
        nodes = sorted(scope)
        con.execute(validate.SCOPE_TABLE, [nodes, nodes, nodes])  # per part: an org file just loaded counts
        con.execute(limit)
    raw_text = "raw_in"  # (_row, _raw) of every row: the Python path's table
    text_kept = True
    if bulk:  # the text of the rows rejected so far, then the text rows go: the rest needs the memory
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_rejected AS {bulk_csv.rejected_sql(frame, m)}")
        raw_text = "raw_rejected"
        if not (ds.custom_metrics and m.extra):  # custom KPI columns are read from the text rows below
            bulk_csv.drop(con)
            text_kept = False
    if con.execute(validate.duplicate_keys_sql(upserts.KEYS[ds.id])).fetchall()[0][0]:
        con.execute(validate.duplicate_sql(ds, upserts.KEYS[ds.id]))
        if bulk:  # rare: the rows now rejected as duplicates need their text; read the file again
            if not text_kept:
                bulk_csv.materialize(con, frame, m)
            con.execute(f"INSERT INTO raw_rejected SELECT * FROM ({bulk_csv.rejected_sql(frame, m)}) "
                        f"WHERE _row NOT IN (SELECT _row FROM raw_rejected)")
            if not text_kept:
                bulk_csv.drop(con)
    _cross_sheet_duplicates(con, ds, sheet)
    con.execute(f"INSERT INTO etl_rejects SELECT ?, ?, ?, s._row, s.reject_reason, pb_mask(r._raw) FROM staged AS s "
                f"LEFT JOIN {raw_text} AS r USING (_row) WHERE s.reject_reason IS NOT NULL", [load_id, label, sheet])
    rejects = con.execute(
        "SELECT _row, reject_reason FROM staged WHERE reject_reason IS NOT NULL ORDER BY _row"
    ).fetchall()
    if ds.custom_metrics:
        _load_custom(con, load_id, sheet, m, res)
    bulk_csv.drop(con)  # the text rows are done with: free their memory before the upsert
    con.execute("DROP TABLE IF EXISTS raw_rejected")
    fix = upserts.corrections_sql(ds.id, ds.table, load_id)
    empty = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {ds.table})").fetchone()[0]
    for sql in upserts.upsert_sql(ds.id, ds.table, load_id, empty):
        done = con.execute(sql)
        if sql == fix and (replaced := done.fetchall()[0][0]):
            months = con.execute("SELECT count(DISTINCT (unit_id, date_trunc('month', date))) FROM incoming "
                                 "WHERE activity_id IS NULL").fetchall()[0][0]
            res.notes.append(f"工作表「{sheet}」按支部和月份更正：此前导入的 {replaced} 条无编号活动记录"
                             f"已由本文件的 {months} 个支部·月替换（按支部·月整体替换，见使用说明“更正规则”）。")
            log.info("sheet %s replaced %d id-less activities in %d branch-months", sheet, replaced, months)
    loaded = con.execute("SELECT count(*) FROM incoming").fetchall()[0][0]
    con.execute("DROP VIEW incoming")
    con.execute("DROP TABLE staged")  # the panel refresh after the load needs the memory
    res.rows_loaded += loaded
    res.rows_rejected += len(rejects)
    res.rejects += [{"sheet": sheet, "row": r, "reason": why} for r, why in rejects]
    res.sheets_loaded.append(sheet)


def _cross_sheet_duplicates(con, ds, sheet: str) -> None:
    """A key an earlier sheet of the same workbook already loaded is rejected here, naming both places
    (the later sheet would silently overwrite it, and be counted twice). Keys of each sheet's accepted rows
    are kept for the rest of the file's load in a temporary table."""
    part = ", ".join(upserts.KEYS[ds.id])
    con.execute("CREATE TEMP TABLE IF NOT EXISTS load_keys (dataset VARCHAR, h UBIGINT, sheet VARCHAR, first_row BIGINT)")
    con.execute(f"""UPDATE staged SET reject_reason = '与工作表「' || k.sheet || '」第 ' || k.first_row || ' 行重复（相同'
                    || {validate.lit(validate._key_words(ds))} || '），请只在一个工作表中填写'
                    FROM load_keys AS k
                    WHERE staged.reject_reason IS NULL AND k.dataset = ? AND k.h = hash({part})""", [ds.id])
    con.execute(f"INSERT INTO load_keys SELECT ?, hash({part}), ?, _row FROM staged WHERE reject_reason IS NULL",
                [ds.id, sheet])


# the values a KPI column of the catalogue can take, by its contract type (an unknown column: any number)
RANGE_SQL = {"count": "{v} >= 0 AND {v} = round({v})", "number": "{v} >= 0", "percent": "{v} BETWEEN 0 AND 100",
             "score": "{v} BETWEEN 0 AND 100"}
RANGE_WORDS = {"count": "非负整数", "number": "非负数", "percent": "0–100 的百分数", "score": "0–100 的分数"}


def _known_column(header: str):
    """The industry profile's KPI column (kept by header) this header names, or None (an administrator's
    columns take any number: a profit may be negative)."""
    from catalogue import profile_columns

    h = contract.normalize_header(header)
    return next((c for c in profile_columns() if h in contract.header_names(c)), None)


def _custom_range(kind: str) -> str:
    return RANGE_SQL.get(kind, "TRUE")


def _load_custom(con, load_id: int, sheet: str, m: contract.Match, res: FileResult) -> None:
    for header in m.extra.values():
        col = f"custom::{header}"
        filled, numeric, personal = con.execute(
            f"SELECT count(pb_text({q(col)})), count(pb_num({q(col)})), "
            f"count(*) FILTER (WHERE pb_has_personal({q(col)}) OR pb_number_like_id(pb_num({q(col)}))) FROM raw_in"
        ).fetchall()[0]
        if personal:
            res.notes.append(f"工作表「{sheet}」的列「{header}」含有身份证号、手机号或邮箱样式的值，按个人信息处理，未导入。")
            continue
        if filled == 0 or numeric < CUSTOM_NUMERIC_SHARE * filled:
            res.notes.append(f"工作表「{sheet}」的列「{header}」不是数值，未作为自定义指标导入。")
            continue
        known = _known_column(header)
        ok = _custom_range(known.type) if known else "TRUE"
        bad = con.execute(
            f"""SELECT count(*), min(r._row) FROM staged AS s JOIN raw_in AS r USING (_row)
                WHERE s.reject_reason IS NULL AND pb_num(r.{q(col)}) IS NOT NULL AND NOT ({ok.format(v=f"pb_num(r.{q(col)})")})"""
        ).fetchall()[0]
        if bad[0]:  # the catalogue knows this column: a value it cannot take is left out, and said so
            res.notes.append(f"工作表「{sheet}」的列「{header}」有 {bad[0]} 个值不是{RANGE_WORDS[known.type]}（第一个在第 {bad[1]} 行），"
                             f"这些值未导入，请更正后重新导入。")
        con.execute(
            f"""INSERT OR REPLACE INTO fct_kpi_custom
                SELECT s.resolved_ref, s.month, ?, pb_num(r.{q(col)}), ?
                FROM staged AS s JOIN raw_in AS r USING (_row)
                WHERE s.reject_reason IS NULL AND pb_num(r.{q(col)}) IS NOT NULL
                  AND ({ok.format(v=f"pb_num(r.{q(col)})")})""",
            [header, load_id],
        )
        res.notes.append(f"{'指标列' if known else '自定义指标'}「{header}」已导入。")


def load_prepared(con: duckdb.DuckDBPyConnection, prep: _Prepared, scope: frozenset[str] | None = None) -> FileResult:
    res = prep.result
    _read_bulk(con, prep)
    con.execute("DROP TABLE IF EXISTS load_keys")  # keys are compared across the sheets of one file only
    con.execute("BEGIN TRANSACTION")
    try:
        load_id = con.execute("SELECT nextval('seq_load_id')").fetchall()[0][0]
        res.load_id = load_id
        seen = con.execute(
            "SELECT count(*) FROM etl_loads WHERE content_hash = ?", [prep.digest]
        ).fetchall()[0][0]
        if seen:
            res.notes.append("该文件此前已导入过，本次按主键覆盖更新，不会产生重复数据。")
        for sheet, m, frame, skipped in prep.parts:
            res.rows_skipped += skipped
            _load_part(con, load_id, prep.label, sheet, m, frame, res, scope)
        if not (res.rows_loaded or res.rows_rejected or res.rows_skipped):
            res.notes.append("文件中只有表头、没有数据行，未导入任何数据。(header only: no data rows)")
        if prep.source is not None and _stamp(prep.source) != prep.stamp:
            raise UnreadableFile(f"文件「{prep.label}」在导入过程中被修改，已整体回滚，未写入任何数据；"
                                 f"请等文件保存完成后重新导入。(file changed while loading)")
        res.seconds = round(time.perf_counter() - prep.started, 3)
        con.execute(
            "INSERT INTO etl_loads (load_id, file_name, content_hash, kind, sheets, rows_loaded, rows_rejected, "
            "rows_skipped, loaded_at, notes, file_bytes, seconds, mapping) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?)",
            [load_id, prep.label, prep.digest, res.kind, ",".join(res.sheets_loaded), res.rows_loaded,
             res.rows_rejected, res.rows_skipped, json.dumps(res.notes, ensure_ascii=False),
             prep.stamp[0] if prep.stamp else None, res.seconds, res.mapping],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return res


def load_files(paths, db_path, kind: str | None = None, labels: list[str] | None = None,
               timings: dict | None = None, mapping: str | None = None, progress=None,
               mapping_store: mappings.Store | None = None, scope: frozenset[str] | None = None) -> list[FileResult]:
    """Load every file; one that cannot be read or recognised comes back with `error` set and loads
    nothing. Files are loaded in dependency order (organisation units first). `timings`, when given,
    receives the seconds spent rebuilding the panels (the benchmark reports that step separately).
    `mapping` names a saved column-mapping profile to read every file through; without it a file with a
    foreign header is read through a saved profile that fits it (PBKPI_MAPPINGS). `progress`, when given,
    is called with one dict per step: {"file", "index", "total", "phase", …} (phases: read, load, done,
    failed, panels, publish). `scope`: the org nodes of a scoped data steward — rows for units outside them
    are rejected with a reason (None: the whole company)."""
    labels = labels or [Path(p).name for p in paths]
    store = mapping_store or mappings.Store()
    profile = store.get(mapping) if mapping else None
    results: list[FileResult | None] = [None] * len(labels)
    batch = uuid.uuid4().hex[:8]
    with logsetup.context(load=batch):
        log.info("loading %d file(s) into %s%s", len(labels), db_path, f" through mapping {profile.tag}" if profile else "")
        # dependency order from the first rows alone; then each file is read whole, loaded and released
        # before the next, so memory holds one file at a time
        # (one file has no order to find: sniffing it parsed a whole Excel sheet once more, calamine being eager)
        order = (sorted(range(len(labels)), key=lambda i: _sniff_order(Path(paths[i]), labels[i], kind, profile, store))
                 if len(labels) > 1 else list(range(len(labels))))
        step = _Steps(progress, len(labels))
        try:
            with publish.working_copy(Path(db_path)) as work:
                _load_in_order(work, [(i, Path(paths[i]), labels[i]) for i in order], kind, results, timings,
                               profile, store, step, scope)
                if all(r is None or r.error for r in results):
                    raise _NothingLoaded  # leave the live warehouse (and the dashboards' caches) untouched
                step(None, "publish")
        except _NothingLoaded:
            log.info("nothing loaded: the warehouse is unchanged")
        except (OSError, duckdb.IOException) as exc:  # the disk, not a file: nothing was published
            log.error("could not write beside the warehouse %s", db_path, exc_info=True)
            raise WarehouseNotWritable(
                f"无法在仓库所在目录写入（{getattr(exc, 'strerror', None) or exc}）：{Path(db_path).parent}。"
                f"仓库未被修改。请检查磁盘空间和该目录的写入权限后重试。(cannot write beside the warehouse: nothing changed)"
            ) from None
        done = [r for r in results if r is not None]
        log.info("finished: %d file(s) loaded, %d refused", sum(1 for r in done if not r.error), sum(1 for r in done if r.error))
    return done


class _Steps:
    """Calls the caller's progress function, numbering the files in the order they are loaded."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.index = progress, total, 0

    def __call__(self, label: str | None, phase: str, **info) -> None:
        if label is not None and phase == "read":
            self.index += 1
        if self.progress is not None:
            self.progress({"file": label, "index": self.index, "total": self.total, "phase": phase, **info})


class WarehouseNotWritable(EtlError):
    """The working copy or the panel refresh could not be written (full disk, read-only directory)."""


class _NothingLoaded(Exception):
    pass


def _sniff_order(path: Path, label: str, kind: str | None, profile=None, store=None) -> int:
    rank = {k: i for i, k in enumerate(upserts.ORDER)}
    if kind or profile:
        return rank.get(kind or profile.kind, len(rank))
    try:
        sheets = readers.head_sheets(path, label, contract.HEADER_SCAN_ROWS)
    except Exception:  # unreadable: last in line, where reading it whole says what is wrong
        log.debug("could not sniff %s", label, exc_info=True)
        return len(rank)
    found = [rank[m.dataset.id] for sh in sheets if (m := match(sh, None, None, store)[0]) is not None]
    return min(found, default=len(rank))


def _unexpected(label: str) -> str:
    """Log an unexpected fault with its traceback under a reference, and say it in one line."""
    ref = uuid.uuid4().hex[:8]
    log.exception("loading %s failed unexpectedly, ref=%s", label, ref)
    return (f"导入「{label}」时发生意外错误，该文件未写入任何数据，其他文件不受影响（查询编号 {ref}，详见日志）。"
            f"(unexpected error, ref {ref})")


def _rollback_if_open(con) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # no transaction was open: nothing to undo
        log.debug("no transaction to roll back", exc_info=True)


def _load_in_order(work: Path, files: list, kind: str | None, results: list, timings: dict | None,
                   profile=None, store=None, step=None, scope=None) -> None:
    step = step or _Steps(None, len(files))
    con = warehouse.connect(work)
    try:
        warehouse.init_schema(con)
        for i, path, label in files:
            step(label, "read", bytes=_stamp(path)[0] if _stamp(path) else None)
            try:
                prep = prepare(path, label, kind, scratch=work, profile=profile, store=store)
            except EtlError as exc:
                results[i] = _refused(FileResult(file=label), str(exc), step)
                continue
            except Exception:  # one file's unexpected fault never sinks the others: logged, reported, skipped
                results[i] = _refused(FileResult(file=label), _unexpected(label), step)
                continue
            step(label, "load", kind=prep.result.kind)
            try:
                try:
                    results[i] = load_prepared(con, prep, scope)
                    log.info("loaded %s: kind=%s rows=%d rejected=%d skipped=%d load_id=%s seconds=%.2f%s", label,
                             prep.result.kind, prep.result.rows_loaded, prep.result.rows_rejected, prep.result.rows_skipped,
                             prep.result.load_id, prep.result.seconds or 0,
                             f" mapping={prep.result.mapping}" if prep.result.mapping else "")
                    step(label, "done", result=prep.result)
                except EtlError as exc:  # found only while reading in bulk: limits, encoding
                    results[i] = _refused(prep.result, str(exc), step)
                except duckdb.Error as exc:
                    log.error("loading %s failed in the database, rolled back", label, exc_info=True)
                    results[i] = _refused(prep.result, f"导入「{prep.label}」时数据库出错，已整体回滚，未写入任何数据：{exc}", step)
                except Exception:
                    _rollback_if_open(con)
                    results[i] = _refused(prep.result, _unexpected(prep.label), step)
            finally:
                prep.discard()
                prep.parts.clear()  # release this file's rows before reading the next
        if all(r is None or r.error for r in results):
            return
        # panels once per command: nobody sees the working copy before it is published whole
        step(None, "panels")
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        done = warehouse.refresh_panels(con, incremental=True)
        con.execute("COMMIT")
        log.info("panels refreshed in %.1f s", time.perf_counter() - started)
        if timings is not None:
            timings["panels"] = time.perf_counter() - started
            timings["panels_refreshed"] = done
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _refused(res: FileResult, message: str, step) -> FileResult:
    """A file that loads nothing: its counts cleared, the reason logged and reported."""
    res.error = message
    res.rows_loaded = res.rows_rejected = res.rows_skipped = 0
    res.rejects = []
    log.warning("refused %s: %s", res.file, message.replace("\n", " "))
    step(res.file, "failed", result=res)
    return res


# --- before loading: what a file is, and what loading it would do -----------------------------------

def recognise(path: Path, label: str, store: mappings.Store | None = None):
    """(dataset id or None, the saved profile it would be read through or None, its first rows) — from the
    first rows alone, for the upload page to decide whether a file needs a column mapping first."""
    sheets = readers.head_sheets(Path(path), label, 200)
    for sh in sheets:
        m, through = match(sh, None, None, store)
        if m is not None:
            return m.dataset.id, through, sh
    first = next((sh for sh in sheets if any(any(c for c in r) for r in sh.rows)), None)
    return None, None, first


@dataclass
class DryRun:
    result: FileResult
    preview: pd.DataFrame  # the first rows as they would be stored (typed, references resolved)


def _units_frame(db: Path):
    """The warehouse's organisation units (what references in a file resolve against), or None."""
    if not Path(db).exists():
        return None
    try:
        con = engine.connect(db, read_only=True)
        try:
            return con.sql("SELECT * FROM dim_units").to_arrow_table()
        finally:
            con.close()
    except duckdb.Error:
        log.warning("dry run without the warehouse's units: %s unreadable", db, exc_info=True)
        return None


def dry_run(path: Path, label: str, db: Path, profile: mappings.Profile | None = None, kind: str | None = None,
            rows: int = 20, scope: frozenset[str] | None = None) -> DryRun:
    """Load a file into a scratch warehouse holding only the real warehouse's organisation units: exactly the
    rows that would load and the rejects with their reasons, without touching the warehouse. Raises EtlError
    as a load would."""
    import tempfile

    from catalogue import datasets

    with tempfile.TemporaryDirectory(prefix="pbkpi-dry-") as tmp:
        con = warehouse.connect(Path(tmp) / "dry.duckdb")
        try:
            warehouse.init_schema(con)
            units = _units_frame(Path(db))
            if units is not None and units.num_rows:
                con.register("known_units", units)
                con.execute("INSERT INTO dim_units BY NAME SELECT * FROM known_units")
                con.unregister("known_units")
            prep = prepare(Path(path), label, kind, scratch=Path(tmp), profile=profile, store=None)
            try:
                res = load_prepared(con, prep, scope)
            finally:
                prep.discard()
            table = datasets()[res.kind.split(",")[0]].table
            drop = [c for c in ("load_id", "activity_key", "name_key") if c in
                    {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}]
            preview = con.execute(f"SELECT * EXCLUDE ({', '.join(drop)}) FROM {table} LIMIT {int(rows)}").df()
        finally:
            con.close()
    return DryRun(res, preview)
