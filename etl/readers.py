"""Turn a CSV or Excel file into sheets of text cells, whatever its encoding or layout.

Only reading happens here: no header matching and no validation. Every cell comes back as NFKC-normalised
text (full-width digits and punctuation folded to ASCII) or None, so that the validator can parse
dates and numbers in SQL without caring where the file came from."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import settings
from etl.errors import LimitExceeded, UnreadableFile

EXCEL_SUFFIXES = {".xlsx", ".xls", ".xlsb", ".ods"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
REFUSED_SUFFIXES = {".xlsm", ".xltm", ".xlam"}
# An xlsx is a zip. Real workbooks inflate 5–15×; a zip bomb inflates hundreds of times. An archive is
# refused when it inflates past MAX_UNZIPPED_BYTES *and* either its ratio exceeds MAX_ZIP_RATIO or it
# inflates past 20× the upload limit (a group's year of monthly KPIs is ~600 MB of sheet XML).
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024
MAX_ZIP_RATIO = 100
# No cell a branch fills in needs more; Excel itself stops at 32,767 characters.
MAX_CELL_CHARS = 32_767


@dataclass
class Sheet:
    name: str
    rows: list[list[str | None]]
    encoding: str | None = None


# NFKC folds full-width digits, letters and punctuation (what Chinese input methods type) to ASCII — wanted —
# but also ① to 1, ² to 2 and ½ to 1⁄2: a circled list marker is not the number 1. Those characters are
# left as they are, so a number column refuses them with a reason.
KEEP_TAGS = ("<circle>", "<super>", "<sub>", "<fraction>")


def fold(text: str) -> str:
    """NFKC, except for circled, superscript, subscript and fraction characters."""
    if unicodedata.is_normalized("NFKC", text):  # most cells (a C check): NFKC would change none of their
        return text                              # characters, the kept ones included
    if not any(unicodedata.decomposition(c).startswith(KEEP_TAGS) for c in text):
        return unicodedata.normalize("NFKC", text)
    return "".join(c if unicodedata.decomposition(c).startswith(KEEP_TAGS) else unicodedata.normalize("NFKC", c)
                   for c in text)


def normalize_cell(value) -> str | None:
    """Text form of one cell; None for empty. Dates become ISO strings, whole floats lose '.0'."""
    kind = type(value)  # exact-type fast paths first: this runs for every cell of every workbook
    if kind is str:
        if not value.isascii():  # NFKC changes nothing in ASCII (and maps U+3000 to a space)
            value = fold(value)
        return value.strip() or None
    if value is None:
        return None
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    text = fold(str(value)).strip()
    return text or None


def check_file(path: Path, label: str) -> str:
    """Refuse files that are too large, empty or of a refused type before reading; returns the suffix."""
    suffix = Path(label).suffix.lower()
    try:
        info = Path(path).stat()  # follows symlinks: a dangling or looping one fails here
    except FileNotFoundError:
        raise UnreadableFile(f"找不到文件「{label}」，请检查路径是否正确。(file not found)") from None
    except OSError as exc:  # a symlink loop, a permission problem, an unreachable share
        raise UnreadableFile(f"无法打开文件「{label}」：{exc.strerror or exc}。(cannot open file)") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile(f"「{label}」不是普通文件（可能是文件夹），请选择要导入的 CSV 或 Excel 文件。(not a regular file)")
    size = info.st_size
    if size > settings.max_upload_bytes():
        raise LimitExceeded(
            f"文件「{label}」有 {size / 1048576:.1f} MB，超过上限 {settings.max_upload_bytes() / 1048576:.0f} MB，"
            f"请按月份拆分后再导入。(file too large)"
        )
    if size == 0:
        raise UnreadableFile(f"文件「{label}」是空文件，请检查是否保存成功。(empty file)")
    if suffix in REFUSED_SUFFIXES:
        raise UnreadableFile(
            f"文件「{label}」是含宏的 Excel 文件，出于安全原因不予导入；请另存为 .xlsx 后再导入。"
            f"(macro-enabled workbooks are refused)"
        )
    if suffix not in EXCEL_SUFFIXES | CSV_SUFFIXES:
        raise UnreadableFile(
            f"文件「{label}」的类型 {suffix or '(无扩展名)'} 不支持；请上传 .csv 或 .xlsx 文件。(unsupported file type)"
        )
    return suffix


def read_file(path: Path, name: str | None = None) -> list[Sheet]:
    """Read every sheet of an Excel file, or the one table of a CSV file."""
    return list(iter_sheets(path, name))


def head_sheets(path: Path, label: str, n: int) -> list[Sheet]:
    """The first `n` rows of every sheet, cheaply, to tell what a file holds before reading it whole.
    Best effort: a file this cannot read gives [] (reading it whole then explains what is wrong)."""
    try:
        suffix = check_file(Path(path), label)
        if suffix in EXCEL_SUFFIXES:
            from python_calamine import CalamineWorkbook

            wb = CalamineWorkbook.from_path(str(path))
            return [Sheet(s, [[normalize_cell(v) for v in row]
                              for row in wb.get_sheet_by_name(s).to_python(skip_empty_area=False, nrows=n)])
                    for s in wb.sheet_names]
        with open(path, "rb") as fh:
            data = fh.read(1 << 16)
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = codecs.getincrementaldecoder(enc)().decode(data, final=False)
                break
            except UnicodeDecodeError:
                continue
        else:
            return []
        delimiter = "\t" if text[:4096].count("\t") > text[:4096].count(",") else ","
        rows = csv.reader(io.StringIO(text[: text.rfind("\n") + 1] or text, newline=""), delimiter=delimiter)
        return [Sheet(Path(label).stem, [[normalize_cell(c) for c in r] for r in itertools.islice(rows, n)])]
    except Exception:  # noqa: BLE001 - only an ordering hint; the full read reports the problem
        return []


def iter_sheets(path: Path, name: str | None = None):
    """The sheets one at a time, so that a caller can finish with one before the next is read (a group's
    KPI workbook holds a million rows across its sheets)."""
    path = Path(path)
    label = name or path.name
    suffix = check_file(path, label)
    sheets = _iter_excel(path, label) if suffix in EXCEL_SUFFIXES else iter([_read_csv(path, label)])
    for sh in sheets:
        _check_limits(sh, label)
        yield sh


def _check_limits(sheet: Sheet, label: str) -> None:
    if len(sheet.rows) > settings.max_rows():
        raise LimitExceeded(
            f"文件「{label}」工作表「{sheet.name}」有 {len(sheet.rows):,} 行，超过上限 {settings.max_rows():,} 行。(too many rows)"
        )
    for i, row in enumerate(sheet.rows, start=1):
        if any(c is not None and len(c) > MAX_CELL_CHARS for c in row):
            raise LimitExceeded(
                f"文件「{label}」工作表「{sheet.name}」第 {i} 行有超过 {MAX_CELL_CHARS:,} 个字符的单元格，"
                f"不像正常填报内容，整个文件未导入；请检查该行。(cell too long)"
            )
    # Excel exports often carry hundreds of empty trailing columns: they are not columns of the file
    widest = max((next((j + 1 for j in range(len(r) - 1, -1, -1) if r[j] is not None), 0) for r in sheet.rows), default=0)
    if any(len(r) > widest for r in sheet.rows):
        sheet.rows[:] = [r[:widest] for r in sheet.rows]
    if widest > settings.max_cols():
        raise LimitExceeded(
            f"文件「{label}」工作表「{sheet.name}」有 {widest:,} 列，超过上限 {settings.max_cols()} 列。(too many columns)"
        )


def _iter_excel(path: Path, label: str):
    from python_calamine import CalamineWorkbook

    if Path(label).suffix.lower() == ".xlsx":
        _check_zip(path, label)
    try:
        wb = CalamineWorkbook.from_path(str(path))
        names = wb.sheet_names
    except Exception as exc:  # calamine raises several private error types
        raise _unreadable_workbook(label, exc) from exc
    for sheet_name in names:
        try:
            raw = wb.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise _unreadable_workbook(label, exc) from exc
        yield Sheet(sheet_name, [[normalize_cell(v) for v in row] for row in raw])


def _unreadable_workbook(label: str, exc: Exception) -> UnreadableFile:
    return UnreadableFile(
        f"文件「{label}」无法作为 Excel 读取（{type(exc).__name__}），可能已损坏或并非 Excel 文件；"
        f"请用 Excel 打开后另存为 .xlsx 再导入。(unreadable workbook)"
    )


def _is_encrypted_office(path: Path) -> bool:
    """A password-protected .xlsx is an OLE compound file holding an `EncryptedPackage` stream."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") and "EncryptedPackage".encode("utf-16-le") in head


def _check_zip(path: Path, label: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(i.file_size for i in zf.infolist())
            names = {i.filename.lower() for i in zf.infolist()}
    except zipfile.BadZipFile as exc:
        if _is_encrypted_office(path):
            raise UnreadableFile(f"文件「{label}」设置了打开密码，无法读取；请在 Excel 中取消密码（文件 → 信息 → 保护工作簿）"
                                 f"后另存为 .xlsx 再导入。(password-protected workbook)") from exc
        raise UnreadableFile(
            f"文件「{label}」不是有效的 .xlsx 文件（可能已损坏或扩展名不对），请用 Excel 打开后另存为 .xlsx。(not a valid xlsx)"
        ) from exc
    ratio = total / max(Path(path).stat().st_size, 1)
    if total > MAX_UNZIPPED_BYTES and (ratio > MAX_ZIP_RATIO or total > 20 * settings.max_upload_bytes()):
        raise LimitExceeded(f"文件「{label}」解压后超过 {MAX_UNZIPPED_BYTES >> 20} MB（{total >> 20} MB，压缩比 {ratio:.0f} 倍），"
                            f"疑似压缩炸弹，拒绝导入。(decompresses too large)")
    if any(n.endswith("vbaproject.bin") for n in names):
        raise UnreadableFile(f"文件「{label}」包含宏代码，出于安全原因不予导入；请另存为不含宏的 .xlsx。(contains macros)")


# A UTF-8 Chinese character is three bytes E4–E9 80–BF 80–BF; a line holding none cannot be UTF-8 Chinese.
_UTF8_CJK = re.compile(rb"[\xe3-\xe9][\x80-\xbf][\x80-\xbf]")
_PLAIN_CHINESE = ((0x2000, 0x206F), (0x3000, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))


def _reads_as_utf8_chinese(line: bytes) -> bool:
    """The line is valid UTF-8 whose every non-ASCII character is Chinese text (ideographs, CJK and general
    punctuation, full-width forms). A GBK line passes this only by a chance of about 1e-5 per line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isascii() or any(lo <= ord(ch) <= hi for lo, hi in _PLAIN_CHINESE) for ch in text)


def mixed_encoding_lines(data: bytes) -> tuple[list[int], list[int]] | None:
    """For a file that decodes as GB18030 but not as UTF-8: (the 1-based numbers of its lines written in
    UTF-8, of its lines written in GBK) when it holds both — strict GB18030 decoding accepts most UTF-8
    byte sequences, so such a file would load with part of its Chinese turned into mojibake — else None."""
    utf8, gbk = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        if _UTF8_CJK.search(line) and _reads_as_utf8_chinese(line):
            utf8.append(number)
        else:
            gbk.append(number)
    return (utf8, gbk) if utf8 and gbk else None


def refuse_mixed_encodings(data: bytes, label: str) -> None:
    """Raise UnreadableFile naming the lines in the minority encoding when a file mixes GBK and UTF-8."""
    mixed = mixed_encoding_lines(data)
    if mixed is None:
        return
    utf8, gbk = mixed
    few, few_enc, most_enc = (utf8, "UTF-8", "GBK") if len(utf8) <= len(gbk) else (gbk, "GBK", "UTF-8")
    shown = "、".join(str(n) for n in few[:10]) + ("……" if len(few) > 10 else "")
    raise UnreadableFile(
        f"文件「{label}」混用了两种编码：大部分行是 {most_enc}，第 {shown} 行是 {few_enc}（共 {len(few)} 行）。"
        f"这样导入会把一部分中文变成乱码，因此整个文件未导入。请用 Excel 或记事本打开后另存为“CSV UTF-8”，"
        f"或重新录入这几行后再导入。(mixed encodings: mostly {most_enc}, {few_enc} on line(s) {', '.join(map(str, few[:10]))})")


def decode_bytes(data: bytes, label: str) -> tuple[str, str]:
    """Detect the encoding: BOMs first, then strict UTF-8, then strict GB18030 (a superset of GBK)."""
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" in data:
        raise UnreadableFile(
            f"文件「{label}」含有空字符（NUL），不像正常的文本表格，可能已损坏或是二进制文件；"
            f"请用 Excel 打开后另存为“CSV UTF-8”再导入。(NUL bytes: not a text table)"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for enc in candidates:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        if enc == "gb18030":
            refuse_mixed_encodings(data, label)
        return text, ("gbk" if enc == "gb18030" else enc)
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        refuse_mixed_encodings(data, label)  # most often: UTF-8 lines pasted into a GBK file
    raise UnreadableFile(
        f"文件「{label}」的编码无法识别（不是 UTF-8，也不是 GBK），或同一文件混用了多种编码；"
        f"请用 Excel 打开后另存为“CSV UTF-8”再导入。(unknown or mixed encoding)"
    )


def _read_csv(path: Path, label: str) -> Sheet:
    text, encoding = decode_bytes(path.read_bytes(), label)
    first = text[:4096]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [[normalize_cell(c) for c in row] for row in reader]
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise LimitExceeded(
                f"文件「{label}」第 {reader.line_num} 行有超过 {MAX_CELL_CHARS:,} 个字符的单元格，不像正常填报内容，"
                f"整个文件未导入；请检查该行（也可能是引号未闭合）。(cell too long)"
            ) from exc
        raise UnreadableFile(f"文件「{label}」不是有效的 CSV：{exc}。(malformed CSV)") from exc
    return Sheet(Path(label).stem, rows, encoding)
