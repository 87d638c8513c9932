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

from etl import bulk_csv, contract, publish, readers, upserts, validate, warehouse
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


def prepare(path: Path, label: str | None = None, kind: str | None = None, scratch: Path | None = None) -> _Prepared:
    """Read and match a file, without touching the warehouse. Raises EtlError when it cannot be used."""
    label = label or Path(path).name
    contract.require_kind(kind)
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
    for sh in sheets:
        m = contract.match_sheet(sh, kind)
        if m is None:
            if any(any(c for c in r) for r in sh.rows):
                res.sheets_skipped.append(sh.name)
            continue
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
        raise UnknownKind(contract.unknown_kind_message(label))
    if res.sheets_skipped:
        res.notes.append(f"以下工作表表头不符合模板，已跳过：{'、'.join(res.sheets_skipped)}")
    res.kind = ",".join(dict.fromkeys(m.dataset.id for _, m, _, _ in parts))
    return _Prepared(label, digest, parts, res, Path(path), stamp)


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
            whole = next((s for s in readers.read_file(frame.source, prep.label) if contract.match_sheet(s, m.dataset.id)), None)
            if whole is None:  # the whole file reads differently from its first 64 KB: mixed encodings, say
                raise UnreadableFile(f"文件「{prep.label}」前后内容不一致（常见原因：同一文件混用了 GBK 与 UTF-8 编码），"
                                     f"请用 Excel 另存为“CSV UTF-8”后再导入。(file changes encoding part-way)")
            rows, skipped = contract.extract_frame(whole, contract.match_sheet(whole, m.dataset.id))
            prep.parts[k] = (sheet, m, rows, skipped)
            if whole.encoding and whole.encoding != frame.encoding:  # e.g. ASCII for 64 KB, then GBK
                notes = prep.result.notes
                notes[:] = [f"编码 encoding: {whole.encoding}" if n == f"编码 encoding: {frame.encoding}" else n for n in notes]


def _load_part(con, load_id: int, label: str, sheet: str, m: contract.Match, frame, res: FileResult):
    ds = m.dataset
    bulk = isinstance(frame, bulk_csv.BulkCsv)
    if not bulk:
        bulk_csv.drop(con)  # a bulk file before may have left its view
        con.register("raw_view", frame)
        con.execute("CREATE OR REPLACE TEMP TABLE raw_in AS SELECT * FROM raw_view")
        con.unregister("raw_view")
    con.execute(validate.staging_sql(ds))
    rules = validate.rules_sql(ds)
    if rules:
        con.execute(rules)
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
    for sql in upserts.upsert_sql(ds.id, ds.table, load_id):
        con.execute(sql)
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
        con.execute(
            f"""INSERT OR REPLACE INTO fct_kpi_custom
                SELECT s.resolved_ref, s.month, ?, pb_num(r.{q(col)}), ?
                FROM staged AS s JOIN raw_in AS r USING (_row)
                WHERE s.reject_reason IS NULL AND pb_num(r.{q(col)}) IS NOT NULL""",
            [header, load_id],
        )
        res.notes.append(f"自定义指标「{header}」已导入。")


def load_prepared(con: duckdb.DuckDBPyConnection, prep: _Prepared) -> FileResult:
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
            _load_part(con, load_id, prep.label, sheet, m, frame, res)
        if not (res.rows_loaded or res.rows_rejected or res.rows_skipped):
            res.notes.append("文件中只有表头、没有数据行，未导入任何数据。(header only: no data rows)")
        if prep.source is not None and _stamp(prep.source) != prep.stamp:
            raise UnreadableFile(f"文件「{prep.label}」在导入过程中被修改，已整体回滚，未写入任何数据；"
                                 f"请等文件保存完成后重新导入。(file changed while loading)")
        con.execute(
            "INSERT INTO etl_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
            [load_id, prep.label, prep.digest, res.kind, ",".join(res.sheets_loaded), res.rows_loaded,
             res.rows_rejected, res.rows_skipped, json.dumps(res.notes, ensure_ascii=False)],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return res


def load_files(paths, db_path, kind: str | None = None, labels: list[str] | None = None,
               timings: dict | None = None) -> list[FileResult]:
    """Load every file; one that cannot be read or recognised comes back with `error` set and loads
    nothing. Files are loaded in dependency order (organisation units first). `timings`, when given,
    receives the seconds spent rebuilding the panels (the benchmark reports that step separately)."""
    labels = labels or [Path(p).name for p in paths]
    results: list[FileResult | None] = [None] * len(labels)
    # dependency order from the first rows alone; then each file is read whole, loaded and released
    # before the next, so memory holds one file at a time
    order = sorted(range(len(labels)), key=lambda i: _sniff_order(Path(paths[i]), labels[i], kind))
    try:
        with publish.working_copy(Path(db_path)) as work:
            _load_in_order(work, [(i, Path(paths[i]), labels[i]) for i in order], kind, results, timings)
            if all(r is None or r.error for r in results):
                raise _NothingLoaded  # leave the live warehouse (and the dashboards' caches) untouched
    except _NothingLoaded:
        pass
    except (OSError, duckdb.IOException) as exc:  # the disk, not a file: nothing was published
        log.error("could not write beside the warehouse %s", db_path, exc_info=True)
        raise WarehouseNotWritable(
            f"无法在仓库所在目录写入（{getattr(exc, 'strerror', None) or exc}）：{Path(db_path).parent}。"
            f"仓库未被修改。请检查磁盘空间和该目录的写入权限后重试。(cannot write beside the warehouse: nothing changed)"
        ) from None
    return [r for r in results if r is not None]


class WarehouseNotWritable(EtlError):
    """The working copy or the panel refresh could not be written (full disk, read-only directory)."""


class _NothingLoaded(Exception):
    pass


def _sniff_order(path: Path, label: str, kind: str | None) -> int:
    rank = {k: i for i, k in enumerate(upserts.ORDER)}
    if kind:
        return rank.get(kind, len(rank))
    try:
        sheets = readers.head_sheets(path, label, contract.HEADER_SCAN_ROWS)
    except Exception:  # unreadable: last in line, where reading it whole says what is wrong
        log.debug("could not sniff %s", label, exc_info=True)
        return len(rank)
    found = [rank[m.dataset.id] for sh in sheets if (m := contract.match_sheet(sh)) is not None]
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


def _load_in_order(work: Path, files: list, kind: str | None, results: list, timings: dict | None) -> None:
    con = warehouse.connect(work)
    try:
        warehouse.init_schema(con)
        for i, path, label in files:
            try:
                prep = prepare(path, label, kind, scratch=work)
            except EtlError as exc:
                results[i] = FileResult(file=label, error=str(exc))
                continue
            except Exception:  # one file's unexpected fault never sinks the others: logged, reported, skipped
                results[i] = FileResult(file=label, error=_unexpected(label))
                continue
            try:
                try:
                    results[i] = load_prepared(con, prep)
                except EtlError as exc:  # found only while reading in bulk: limits, encoding
                    prep.result.error = str(exc)
                    prep.result.rows_loaded = prep.result.rows_rejected = prep.result.rows_skipped = 0
                    prep.result.rejects = []
                    results[i] = prep.result
                except duckdb.Error as exc:
                    prep.result.error = f"导入「{prep.label}」时数据库出错，已整体回滚，未写入任何数据：{exc}"
                    prep.result.rows_loaded = prep.result.rows_rejected = 0
                    prep.result.rejects = []
                    results[i] = prep.result
                except Exception:
                    _rollback_if_open(con)
                    prep.result.error = _unexpected(prep.label)
                    prep.result.rows_loaded = prep.result.rows_rejected = prep.result.rows_skipped = 0
                    prep.result.rejects = []
                    results[i] = prep.result
            finally:
                prep.discard()
                prep.parts.clear()  # release this file's rows before reading the next
        if all(r is None or r.error for r in results):
            return
        # panels once per command: nobody sees the working copy before it is published whole
        started = time.perf_counter()
        con.execute("BEGIN TRANSACTION")
        done = warehouse.refresh_panels(con, incremental=True)
        con.execute("COMMIT")
        if timings is not None:
            timings["panels"] = time.perf_counter() - started
            timings["panels_refreshed"] = done
        con.execute("CHECKPOINT")
    finally:
        con.close()
