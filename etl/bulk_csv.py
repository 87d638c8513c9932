"""Bulk CSV path: let DuckDB's CSV reader parse a large file and normalise its cells in SQL, instead of
building Python lists cell by cell.

It produces exactly what the Python reader (etl/readers.py) + `contract.extract_frame` produce — the same
`raw_in` columns, row numbers, skipped summary/note rows and `_raw` text — and is used only when that is
guaranteed; otherwise the caller falls back to the Python path, which also writes the precise error
messages. The equivalence is a property test (tests/etl/test_bulk_csv.py).

Used when the file:
- is UTF-8 (with or without BOM; DuckDB checks every byte) or GBK/GB18030 (transcoded to a temporary
  UTF-8 copy first: DuckDB has no GBK reader without an extension download);
- has no NUL bytes, no blank lines (DuckDB skips them, which would shift row numbers), no bare CR
  line ends, and no unit separator byte (0x1F, used to join a row's cells);
- parses under DuckDB's strict mode with no row wider than the first rows (otherwise DuckDB would drop
  the extra cells; a quote in the middle of a field is read differently from Python's csv module).

Cells are normalised like the Python reader. While DuckDB reads the file, one regex per row flags the
rows that need a closer look: a character outside the common stable ones (full-width forms, ①, ㎡,
compatibility ideographs, combining marks … are outside), a space at a cell's edge, a cell that could
be a 合计/小计 word, or at most two filled cells. Every other row is final as read. In the flagged rows,
Python's own unicodedata normalises the distinct rare cells (a small mapping table writes them back)
and the exact blank/summary/note test runs."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import pandas as pd

import settings

from etl import contract
from etl.errors import LimitExceeded
from etl.readers import MAX_CELL_CHARS, normalize_cell, refuse_mixed_encodings
from etl.validate import lit, q

SAMPLE_BYTES = 1 << 16
WS_MAX = 0x3000  # the highest code point str.isspace() accepts (IDEOGRAPHIC SPACE; tested)
SCAN_CHUNK = 1 << 23


class Unavailable(Exception):
    """The bulk path cannot guarantee the Python path's result for this file; use the Python path."""


@dataclass
class BulkCsv:
    source: Path  # the file as given
    path: Path  # the UTF-8 file DuckDB reads: the source itself, or a transcoded temporary copy
    label: str
    encoding: str
    delimiter: str
    width: int  # cells in the widest of the first rows
    head: list[list[str | None]]  # first rows, normalised, for header matching
    temporary: bool = False
    base: int = 0  # rowid of the file's first row in raw_src

    def discard(self) -> None:
        if self.temporary:
            self.path.unlink(missing_ok=True)


# --- NFKC in SQL ---------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _unstable() -> frozenset[int]:
    """Code points NFKC may change: those with a decomposition, combining marks, Hangul jamo, and the
    second halves of canonical pairs (full-width forms and Unicode spaces included)."""
    unstable: set[int] = set(range(0x1100, 0x1200))
    for cp in range(0x30000):
        ch = chr(cp)
        dec = unicodedata.decomposition(ch)
        if dec or unicodedata.combining(ch):
            unstable.add(cp)
        if dec and not dec.startswith("<"):
            parts = dec.split()
            if len(parts) == 2:
                unstable.add(int(parts[1], 16))
    return frozenset(unstable)


def _char_class(cps) -> str:
    """The body of a regex character class holding exactly the code points `cps`, as ranges."""
    ranges, cps = [], sorted(cps)
    start = prev = cps[0]
    for cp in cps[1:] + [None]:
        if cp is not None and cp == prev + 1:
            prev = cp
            continue
        ranges.append(f"\\x{{{start:X}}}" if start == prev else f"\\x{{{start:X}}}-\\x{{{prev:X}}}")
        if cp is not None:
            start = prev = cp
    return "".join(ranges)


@lru_cache(maxsize=1)
def _needs_python() -> str:
    """Regex matching a cell that Python's normalize_cell would change: a character NFKC may change,
    leading or trailing whitespace, or nothing at all."""
    unstable = _unstable()
    # whitespace str.strip() removes that NFKC leaves alone (NFKC turns the other spaces into U+0020)
    ws = "".join(f"\\x{{{cp:X}}}" for cp in range(WS_MAX + 1) if chr(cp).isspace() and cp not in unstable)
    return f"[{_char_class(unstable)}]|^[{ws}]|[{ws}]$|^$"


# --- probing ---------------------------------------------------------------------------------------

def scan(path: Path) -> tuple[bool, str]:
    """One pass over the bytes, in chunks so that memory stays flat: whether the structure is plain (no
    NUL byte, no bare CR, no blank line, no SEP byte) and the file's SHA-256 (the load records it)."""
    digest = hashlib.sha256()
    plain = True
    cr = crlf = 0
    tail = b"\n"  # as if a line ended just before the file: a leading blank line counts
    with open(path, "rb") as fh:
        head = fh.read(3)
        digest.update(head)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            plain = False
        first = b"" if head == b"\xef\xbb\xbf" else head
        for k, chunk in enumerate(itertools.chain([first], iter(lambda: fh.read(SCAN_CHUNK), b""))):
            if k:
                digest.update(chunk)
            if not plain or not chunk:
                continue
            edge = tail + chunk[:2]  # a pattern that spans the chunk boundary
            if b"\x00" in chunk or bytes([SEP]) in chunk or b"\n\n" in chunk or b"\n\n" in edge or b"\n\r\n" in edge:
                plain = False
            elif b"\r" in chunk:  # counted only where there is a CR: most files have none
                plain = b"\n\r\n" not in chunk
                cr += chunk.count(b"\r")
                crlf += chunk.count(b"\r\n") + (tail.endswith(b"\r") and chunk.startswith(b"\n"))
            elif tail.endswith(b"\r"):
                crlf += chunk.startswith(b"\n")
            tail = (tail + chunk[-2:])[-2:]
    return plain and cr == crlf and not tail.endswith(b"\r"), digest.hexdigest()


def probe(path: Path, label: str, plain: bool | None = None, scratch: Path | None = None) -> BulkCsv | None:
    """A BulkCsv when this file can take the bulk path, else None. `plain`: what `scan` found, when the
    caller scanned already (it hashes the file in the same pass). Decodes in Python only GBK files
    (DuckDB validates UTF-8 itself). `scratch`: the loader's working copy; the transcoded copy of a GBK
    file is written beside it (`<working copy>.transcode-….csv`), so a killed loader's copy is swept with
    its working copy by the next loader (etl/publish.py), never left in $TMPDIR."""
    if not (scan(Path(path))[0] if plain is None else plain):
        return None
    with open(path, "rb") as fh:
        data = fh.read(SAMPLE_BYTES + 3)
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    whole = Path(path).stat().st_size - (3 if bom else 0) <= SAMPLE_BYTES
    sample = codecs.getincrementaldecoder("utf-8")()
    try:
        text = sample.decode(body[:SAMPLE_BYTES], final=whole)
        encoding, target, temporary = "utf-8", Path(path), False
    except UnicodeDecodeError:
        if bom:  # a UTF-8 BOM on a file that is not UTF-8: the Python reader explains the problem
            return None
        raw = Path(path).read_bytes()
        try:
            full = raw.decode("gb18030")
        except UnicodeDecodeError:
            return None
        refuse_mixed_encodings(raw, label)  # GB18030 accepts UTF-8 lines too: they would load as mojibake
        del raw
        if "\x00" in full:
            return None
        if scratch is not None:
            fd, tmp = tempfile.mkstemp(suffix=".csv", prefix=scratch.name + ".transcode-", dir=scratch.parent)
        else:
            fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="pbkpi-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(full.encode("utf-8"))
        text, encoding, target, temporary = full[:SAMPLE_BYTES], "gbk", Path(tmp), True
    first = text[:4096]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    csv.field_size_limit(MAX_CELL_CHARS)
    # the last sample line may be cut: take only complete rows
    lines = text if (whole or encoding == "gbk" and len(text) < SAMPLE_BYTES) else text[: text.rfind("\n") + 1]
    try:
        head = [[normalize_cell(c) for c in row]
                for row in itertools.islice(csv.reader(io.StringIO(lines, newline=""), delimiter=delimiter),
                                            contract.HEADER_SCAN_ROWS)]
    except csv.Error:
        head = []
    if not head:
        if temporary:
            target.unlink(missing_ok=True)
        return None
    width = max(len(r) for r in head)
    if width > settings.max_cols():
        if temporary:
            target.unlink(missing_ok=True)
        return None
    return BulkCsv(Path(path), target, label, encoding, delimiter, width, head, temporary)


# --- materialising raw_in --------------------------------------------------------------------------

_WS = r"[\t\n\x{0B}\x{0C}\r\x{1C}-\x{1F} \x{85}\x{1680}\x{2028}\x{2029}]"  # what str.split() splits on, less the
# Unicode spaces NFKC folds to U+0020 (those match _needs_python)
SEP = 0x1F  # joins a row's cells for the look test (unit separator); a file holding it takes the Python path
# blocks whose stable characters a Chinese file is mostly made of: ASCII, general punctuation (—, “”),
# CJK symbols and punctuation (、。《》「」), CJK ideographs
_SAFE_BLOCKS = [(0x20, 0x7E), (0x2000, 0x206F), (0x3000, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF)]


@lru_cache(maxsize=1)
def safe_chars() -> tuple[int, ...]:
    """The code points a cell may hold without a closer look: in _SAFE_BLOCKS, not changed by NFKC, not
    whitespace except U+0020, not a control or format character."""
    unstable = _unstable()
    return tuple(cp for lo, hi in _SAFE_BLOCKS for cp in range(lo, hi + 1)
                 if cp not in unstable and (cp == 0x20 or not chr(cp).isspace())
                 and unicodedata.category(chr(cp)) not in ("Cc", "Cf", "Cs", "Co", "Cn"))


@lru_cache(maxsize=1)
def _look_pattern() -> str:
    """Regex over a row's filled cells joined by SEP that matches when some cell needs a closer look: a
    character outside the common stable ones (NFKC would leave every character it does not flag alone,
    and only U+0020 among them is whitespace), a space at a cell's edge, an empty cell, or a cell that
    could be a 合计/小计 word (contract.SUMMARY_WORDS, any case, spaces anywhere)."""
    sep = f"\\x{{{SEP:X}}}"
    spaced = [" *".join(re.escape(ch) for ch in w) for w in sorted(contract.SUMMARY_WORDS)]
    return (f"[^{_char_class(list(safe_chars()) + [SEP])}]|^ | $| {sep}|{sep} |{sep}{sep}|^{sep}|{sep}$|^$"
            f"|(?i:(?:^|{sep}) *(?:{'|'.join(spaced)}) *(?:{sep}|$))")


def look_sql(width: int) -> str:
    """`_look` for a row of raw_src: the pattern above, a row long enough to hold a too-long cell, or at
    most two filled cells (blank and note rows). One regex per row, not per cell: this runs on every row."""
    cells = [f"c{i}" for i in range(width)]
    joined = f"concat_ws(chr({SEP}), {', '.join(cells)})"
    filled = " + ".join(f"CAST({c} IS NOT NULL AS INTEGER)" for c in cells)
    return (f"(regexp_matches({joined}, {lit(_look_pattern())}) OR strlen({joined}) > {MAX_CELL_CHARS} "
            f"OR {filled} <= 2)")


def _read(con: duckdb.DuckDBPyConnection, src: BulkCsv) -> None:
    """Read the file as text into `raw_src`, flagging in the same pass the rows that need a closer look
    (`_look`): every other row is final as DuckDB read it."""
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(src.width)) + "}"
    delim = "\\t" if src.delimiter == "\t" else ","
    for parallel in ("true", "false"):  # the parallel scanner refuses quoted newlines with null padding
        try:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE raw_src AS SELECT *, {look_sql(src.width)} AS _look
                FROM read_csv({lit(str(src.path))},
                header = false, auto_detect = false, columns = {columns}, delim = {lit(delim)}, quote = '"',
                escape = '"', null_padding = true, strict_mode = true, parallel = {parallel},
                max_line_size = 8388608)""")
            return
        except duckdb.Error as exc:
            if parallel == "true" and "parallel" in str(exc).lower():
                continue
            raise Unavailable(str(exc)) from exc


def _fold_rare_cells(con: duckdb.DuckDBPyConnection, width: int) -> None:
    """Normalise, with Python's unicodedata, the distinct cells of the flagged rows that normalize_cell
    would change, and write them back column by column."""
    pattern = lit(_needs_python())
    union = " UNION ".join(f"SELECT {i} AS col, c{i} AS v FROM raw_src WHERE _look AND regexp_matches(c{i}, {pattern})"
                           for i in range(width))
    rare = con.execute(union).fetchall()
    if not rare:
        return
    mapping = pd.DataFrame({"col": [r[0] for r in rare], "v": [r[1] for r in rare],
                            "n": [normalize_cell(r[1]) for r in rare]}).astype({"v": object, "n": object})
    con.register("nfkc_map", mapping)
    try:
        for i in sorted(set(mapping["col"])):
            con.execute(f"UPDATE raw_src SET c{i} = m.n FROM nfkc_map AS m "
                        f"WHERE raw_src._look AND m.col = {i} AND raw_src.c{i} = m.v")
    finally:
        con.unregister("nfkc_map")


def _check_limits(con: duckdb.DuckDBPyConnection, src: BulkCsv, rows: int, base: int) -> None:
    if rows > settings.max_rows():
        raise LimitExceeded(
            f"文件「{src.label}」工作表「{src.source.stem}」有 {rows:,} 行，超过上限 {settings.max_rows():,} 行。(too many rows)")
    # a long cell flags its row (strlen counts bytes, a bound on the characters length counts)
    chars = " OR ".join(f"length(c{i}) > {MAX_CELL_CHARS}" for i in range(src.width))
    first = con.execute(f"SELECT min(rowid) - {base} FROM raw_src WHERE _look AND ({chars})").fetchall()[0][0]
    if first is not None:
        raise LimitExceeded(
            f"文件「{src.label}」工作表「{src.source.stem}」第 {first + 1} 行有超过 {MAX_CELL_CHARS:,} 个字符的单元格，"
            f"不像正常填报内容，整个文件未导入；请检查该行。(cell too long)")


def _skip_sql(width: int) -> str:
    """SQL twin of contract.is_summary_or_note over the normalised cells c0..c{width-1}, for the flagged
    rows (every blank, summary or note row is one)."""
    cells = [f"c{i}" for i in range(width)]
    arr = "[" + ", ".join(cells) + "]"
    words = "[" + ", ".join(lit(w) for w in sorted(contract.SUMMARY_WORDS)) + "]"
    prefixes = "[" + ", ".join(lit(p) for p in contract.NOTE_PREFIXES) + "]"
    filled = f"list_filter({arr}, lambda x: x IS NOT NULL)"
    exact = f"""(list_has_any(list_transform({filled}[1:3], lambda x: lower(regexp_replace(x, {lit(_WS)}, '', 'g'))), {words})
        OR (len({filled}) <= 2 AND list_bool_or(list_transform({prefixes}, lambda p: starts_with(lower({filled}[1]), p)))))"""
    return f"(({' AND '.join(c + ' IS NULL' for c in cells)}) OR COALESCE({exact}, FALSE))"


def materialize(con: duckdb.DuckDBPyConnection, src: BulkCsv, match: contract.Match) -> int:
    """Make `raw_in` for one matched file — what `extract_frame` gives the Python path, except `_raw`,
    which `rejected_sql` gives for rejected rows only — as a view over the table `raw_src` DuckDB read.
    Returns the number of skipped blank/summary/note rows. Raises Unavailable when the bulk path cannot
    reproduce the Python path for this file, LimitExceeded like the Python reader."""
    drop(con)
    _read(con, src)
    # rowid counts rows in file order from a base (non-zero inside a transaction); check it has no gaps
    base, top, n, flagged = con.execute(
        "SELECT min(rowid), max(rowid), count(*), count(*) FILTER (WHERE _look) FROM raw_src").fetchall()[0]
    if n == 0 or top - base + 1 != n:
        raise Unavailable("row ids are not contiguous")
    _check_limits(con, src, n, base)
    skip = "false"
    skipped = 0
    if flagged:
        _fold_rare_cells(con, src.width)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE raw_skip AS SELECT rowid AS r FROM raw_src
            WHERE _look AND rowid - {base} > {match.header_row} AND {_skip_sql(src.width)}""")
        skipped = con.execute("SELECT count(*) FROM raw_skip").fetchall()[0][0]
        if skipped:
            skip = "rowid IN (SELECT r FROM raw_skip)"
    w = src.width
    select = []
    for col in match.dataset.columns:
        ci = next((i for i, cid in match.columns.items() if cid == col.id), None)
        select.append(f"{'c' + str(ci) if ci is not None and ci < w else 'CAST(NULL AS VARCHAR)'} AS {q(col.id)}")
    if match.dataset.custom_metrics:
        for ci in sorted(match.extra):
            select.append(f"{'c' + str(ci) if ci < w else 'CAST(NULL AS VARCHAR)'} AS {q('custom::' + match.extra[ci])}")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW raw_in AS
        SELECT {', '.join(select)}, rowid - {base} + 1 AS _row, CAST(NULL AS VARCHAR) AS _raw
        FROM raw_src WHERE rowid - {base} > {match.header_row} AND NOT ({skip})""")
    src.base = base
    return int(skipped)


def rejected_sql(src: BulkCsv, match: contract.Match) -> str:
    """(_row, _raw) of the rejected rows of `staged`, `_raw` being the contract columns' cells as filled
    in, in the file's order — as extract_frame writes it (never a column outside the contract, so never a
    personal one). The text is built after the join, for those rows only."""
    cells = "[" + ", ".join(f"f.c{i}" if i < src.width else "NULL" for i in sorted(match.columns)) + "]"
    raw = f"array_to_string(list_transform({cells}, lambda x: coalesce(x, '')), ' | ')"
    return (f"SELECT s._row, {raw} AS _raw FROM staged AS s JOIN raw_src AS f "
            f"ON f.rowid = s._row - 1 + {src.base} WHERE s.reject_reason IS NOT NULL")


def drop(con: duckdb.DuckDBPyConnection) -> None:
    """Remove `raw_in` — this path's view or the Python path's table of the same name (look first: a
    failing DROP would abort the load transaction) — and `raw_src`."""
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'raw_in' AND temporary").fetchall()[0][0]:
        con.execute("DROP VIEW raw_in")
    else:
        con.execute("DROP TABLE IF EXISTS raw_in")
    con.execute("DROP TABLE IF EXISTS raw_src")
    con.execute("DROP TABLE IF EXISTS raw_skip")
