"""Personal data (个人信息) is never stored: recognised by header and by value, dropped or masked before
anything reaches a table, a reject record, a note, a log line or an export.

By header: a column whose header names a person or a way to reach one (姓名, 身份证号, 手机, 工号, QQ, 微信,
邮箱, 户籍, Tel, ID No., Name …, see HEADER_WORDS) is never read past the header row.

By value: three patterns — an 18-digit resident identity number (the shape of GB 11643: area, birth date,
sequence, check character), a mainland mobile number (11 digits from 13–19, optionally +86 and spaces or
hyphens), an e-mail address. Free-text cells (活动主题, 关联业务 …) and rejection reasons keep their text
with each match replaced by MASK; a custom KPI column with any value of these shapes (or a number only an
identity or phone number would be) is not imported at all. Shapes are masked even when the ID's check
character is wrong: a mistyped ID number is still someone's ID number.

The patterns are written once here, in the dialect shared by Python's `re` and DuckDB's RE2 (no
look-around: a boundary is a captured non-digit or the string's edge), so the SQL macros the loader runs
and the Python checks agree exactly."""
from __future__ import annotations

import re
import unicodedata

MASK = "***"

# Header words, matched after NFKC, lower-casing and removing spaces and punctuation.
HEADER_WORDS = (
    # names and relations
    "姓名", "名字", "联系人", "负责人", "经办人", "填报人", "党员名单",
    # identity documents and numbers
    "身份证", "证件号", "证件类型", "护照", "居民身份", "idno", "idnumber", "idcard", "identity", "passport",
    # phones and messengers
    "手机", "电话", "联系方式", "联系电话", "座机", "传真", "tel", "phone", "mobile", "cell", "fax",
    "qq", "微信", "wechat", "weixin", "钉钉号", "dingtalk",
    # mail and addresses
    "邮箱", "电子邮件", "邮件", "email", "mail", "住址", "家庭地址", "通讯地址", "地址", "address",
    "户籍", "籍贯", "户口", "hukou", "birthplace", "nativeplace",
    # staff numbers and accounts
    "工号", "员工号", "职工号", "员工编号", "职工编号", "人员编码", "employeeid", "staffid", "staffno",
    "银行卡", "银行账号", "bankaccount",
    # a person's birth (aggregates such as 平均年龄 or 女性党员比例 are not personal and stay allowed)
    "出生", "生日", "birth",
)
# A header with one of these words is a figure about many people (电话投诉件数, 手机缴费率), not a person's
# data; its values are still checked.
AGGREGATE_WORDS = ("件数", "次数", "人数", "户数", "率", "比例", "占比", "平均", "总数", "数量", "满意度", "投诉", "工单")
# Latin words that are personal only as the whole header (`Name`, `Member name`), not inside one
# (`unit_name` is a contract column; `tel` inside `hotel` is not a phone).
WHOLE_HEADERS = re.compile(r"^((member|full|first|last|given|family|person|contact)?name|姓|名|id|tel\d*|qq号?)$")
_LATIN_WORDS = {w for w in HEADER_WORDS if w.isascii()}
_CJK_WORDS = tuple(w for w in HEADER_WORDS if not w.isascii())

# Value patterns (shared Python / RE2 dialect). Each captures the character before and after the match
# (or the edge of the string) so a number inside a longer number is not taken for one. An ID number may
# run straight into more digits (two numbers typed without a separator): masking errs on the safe side.
RESIDENT_ID = r"(^|[^0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]()"
MOBILE = r"(^|[^0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}([^0-9]|$)"
EMAIL = r"()[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}()"
PATTERNS = (RESIDENT_ID, MOBILE, EMAIL)
# a cheap test that rules out almost every cell before the three patterns run
MAYBE = r"@|[0-9][0-9 -]{9,}[0-9Xx]"
# numbers that only an identity or phone number would be, once a spreadsheet made them numbers
NUMBER_LIKE_ID = "({v} >= 1e14 OR ({v} >= 13e9 AND {v} < 2e10 AND {v} = floor({v})))"

# a match consumes the separator an adjacent match needs as its boundary, and masking one number gives
# its neighbour a boundary: the patterns run in rounds (property-tested to leave nothing detectable)
MASK_ROUNDS = 3
_COMPILED = tuple(re.compile(p) for p in PATTERNS)
_MAYBE = re.compile(MAYBE)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _fold(header: str) -> str:
    s = unicodedata.normalize("NFKC", str(header)).lower()
    return re.sub(r"[\s_\-.·:：*＊()（）/\\#№]+", "", s)


def is_personal_header(header: str | None) -> bool:
    """True when a column header names personal data (see HEADER_WORDS)."""
    if not header:
        return False
    s = _fold(header)
    if not s:
        return False
    if WHOLE_HEADERS.match(s):
        return True
    if any(w in s for w in AGGREGATE_WORDS):
        return False
    if any(w in s for w in _CJK_WORDS):
        return True
    # Latin words count at a word edge: `Tel`, `Tel.`, `Mobile phone`, `E-mail`, `ID No.`, `QQ号`
    words = re.findall(r"[a-z]+", unicodedata.normalize("NFKC", str(header)).lower())
    joined = "".join(words)
    return any(w in _LATIN_WORDS for w in words) or any(
        joined.startswith(w) or joined.endswith(w) for w in _LATIN_WORDS if len(w) >= 4)


def contains_personal(text: str | None) -> bool:
    """True when the text holds an identity number, a mobile number or an e-mail address."""
    return bool(text) and bool(_MAYBE.search(text)) and any(p.search(text) for p in _COMPILED)


def mask(text: str | None) -> str | None:
    """The text with every identity number, mobile number and e-mail address replaced by MASK."""
    if not text or not _MAYBE.search(text):
        return text
    for _ in range(MASK_ROUNDS):
        for p in _COMPILED:
            text = p.sub(lambda m: m.group(1) + MASK + m.group(2), text)
    return text


def is_resident_id(text: str) -> bool:
    """An 18-character resident identity number with a valid check character (GB 11643-1999)."""
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9Xx]", text or ""):
        return False
    total = sum(int(c) * w for c, w in zip(text[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == text[17].upper()


def _sql_lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def macros_sql() -> str:
    """DuckDB macros with exactly the patterns above: pb_has_personal(s) and pb_mask(s)."""
    has = " OR ".join(f"regexp_matches(s, {_sql_lit(p)})" for p in PATTERNS)
    masked = "s"
    for _ in range(MASK_ROUNDS):
        for p in PATTERNS:
            masked = f"regexp_replace({masked}, {_sql_lit(p)}, '\\1{MASK}\\2', 'g')"
    return f"""
CREATE OR REPLACE TEMP MACRO pb_has_personal(s) AS
    COALESCE(regexp_matches(s, {_sql_lit(MAYBE)}) AND ({has}), FALSE);
CREATE OR REPLACE TEMP MACRO pb_mask(s) AS
    CASE WHEN regexp_matches(s, {_sql_lit(MAYBE)}) THEN {masked} ELSE s END;
CREATE OR REPLACE TEMP MACRO pb_number_like_id(v) AS COALESCE({NUMBER_LIKE_ID.format(v='v')}, FALSE);
"""
