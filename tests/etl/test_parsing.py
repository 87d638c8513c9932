"""Every date, month, number and period form of the contract parses to the same value."""
import datetime as dt
import math
import re

import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from etl.readers import normalize_cell
from etl.warehouse import sql_file


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute(sql_file("macros.sql"))
    yield c
    c.close()


def one(con, expr, value):
    return con.execute(f"SELECT {expr}(?)", [value]).fetchall()[0][0]


@pytest.mark.parametrize("raw", ["2024-07-05", "2024/7/5", "2024.07.05", "2024年7月5日", "20240705", "45478",
                                 "2024-07-05 00:00:00", "２０２４－０７－０５", "2024/07/05"])
def test_date_forms(con, raw):
    assert one(con, "pb_date", normalize_cell(raw)) == dt.date(2024, 7, 5)


def test_excel_datetime_cell_becomes_iso(con):
    assert normalize_cell(dt.datetime(2024, 7, 5, 14, 30)) == "2024-07-05 14:30:00"
    assert one(con, "pb_timestamp", normalize_cell(dt.datetime(2024, 7, 5, 14, 30))) == dt.datetime(2024, 7, 5, 14, 30)


@pytest.mark.parametrize("raw,expected", [
    ("2024-07-05 14:30", dt.datetime(2024, 7, 5, 14, 30)),
    ("2024/7/5 14:30", dt.datetime(2024, 7, 5, 14, 30)),
    ("2024年7月5日 14:30", dt.datetime(2024, 7, 5, 14, 30)),
    ("45478.5", dt.datetime(2024, 7, 5, 12, 0)),
])
def test_datetime_forms(con, raw, expected):
    assert one(con, "pb_timestamp", raw) == expected


@pytest.mark.parametrize("raw", ["2024-07", "2024/07", "2024年7月", "202407", "2024-07-31", "2024.7", "2024年07月"])
def test_month_forms(con, raw):
    assert one(con, "pb_month", raw) == dt.date(2024, 7, 1)


@pytest.mark.parametrize("raw", ["2024-13", "2024-02-30", "abc", "13/2024", ""])
def test_bad_dates_are_null(con, raw):
    assert one(con, "pb_month", raw) is None or raw == ""
    assert one(con, "pb_date", raw) is None


@pytest.mark.parametrize("raw,expected", [
    ("1,234", 1234.0), ("1,234.5", 1234.5), ("99.5%", 99.5), (" 12 ", 12.0), ("１２３", 123.0),
    ("９９．５％", 99.5), ("-3", -3.0), ("12,345,678", 12345678.0),
])
def test_number_forms(con, raw, expected):
    assert one(con, "pb_num", normalize_cell(raw)) == expected


@pytest.mark.parametrize("raw,expected", [
    ("2024", "2024"), ("2024H1", "2024H1"), ("2024h2", "2024H2"), ("2024Q3", "2024Q3"), ("2024-Q3", "2024Q3"),
    ("2024年第三季度", "2024Q3"), ("2024年第3季度", "2024Q3"), ("2024年上半年", "2024H1"), ("2024年度", "2024"),
])
def test_period_forms(con, raw, expected):
    assert one(con, "pb_period", raw) == expected


def test_period_bounds(con):
    got = con.execute("SELECT pb_period_start('2024Q3'), pb_period_end('2024Q3'), pb_period_end('2024H1'), "
                      "pb_period_end('2024')").fetchall()[0]
    assert got == (dt.date(2024, 7, 1), dt.date(2024, 9, 30), dt.date(2024, 6, 30), dt.date(2024, 12, 31))


@pytest.mark.parametrize("raw,expected", [("是", True), ("否", False), ("Y", True), ("n", False), ("1", True), ("0", False)])
def test_flags(con, raw, expected):
    assert one(con, "pb_flag", raw) is expected


# The parsing macros before they were reordered for speed (one list of formats, a regex for every
# number): the fast versions must agree with them on every input.
REFERENCE_SQL = r"""
CREATE OR REPLACE TEMP MACRO ref_timestamp(s) AS COALESCE(
    try_strptime(trim(s), [
        '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S.%f',
        '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y.%m.%d %H:%M:%S', '%Y.%m.%d %H:%M',
        '%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M', '%Y年%m月%d日%H时%M分', '%Y年%m月%d日%H:%M',
        '%Y-%m-%d', '%Y/%m/%d', '%Y.%m.%d', '%Y年%m月%d日', '%Y%m%d']),
    pb_excel_serial(s));
"""
FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S",
           "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H时%M分", "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"]


@settings(max_examples=300, deadline=None)
@given(when=st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 12, 31)),
       fmt=st.sampled_from(FORMATS), junk=st.text(alphabet="0123456789-/.年月日时分: T,%e+", max_size=14),
       pick=st.integers(0, 2))
def test_fast_macros_agree_with_reference(when, fmt, junk, pick):
    con = duckdb.connect()
    con.execute(sql_file("macros.sql"))
    con.execute(REFERENCE_SQL)
    text = [when.strftime(fmt), junk, f" {when.strftime(fmt)} "][pick]
    a, b, c = con.execute("SELECT pb_timestamp(?), ref_timestamp(?), pb_num(?)", [text, text, text]).fetchall()[0]
    assert a == b
    assert c == ref_number(text)


PLAIN = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})*(\.\d+)?\s*%?")


def ref_number(text: str) -> float | None:
    """The numbers the contract accepts, written out in Python: plain finite numbers (no inf, nan, 1e400 or
    1_000), or correct thousands separators with an optional % sign (1,234 and 12%, never 1,2,3)."""
    if PLAIN.fullmatch(text):
        v = float(text)
        return v if math.isfinite(v) else None
    t = text.strip()
    return float(re.sub(r"[,\s%]", "", t)) if THOUSANDS.fullmatch(t) else None


@pytest.mark.parametrize("text,expected", [("12", 12.0), ("1,234.5", 1234.5), ("12%", 12.0), ("1,2,3", None),
                                           ("inf", None), ("Infinity", None), ("nan", None), ("1e400", None),
                                           ("1_000", None), ("1e5", 1e5), ("+-0", None), ("+-1.5e3", None)])
def test_malformed_number_forms_refused(text, expected):
    con = duckdb.connect()
    con.execute(sql_file("macros.sql"))
    assert con.execute("SELECT pb_num(?)", [text]).fetchone()[0] == expected


@given(st.text(alphabet=st.sampled_from(list("江北供电所ABCabc 123０１２ＡＢＣ①②²³½⅓　，：（）-.\u00a0\u3000\u2460\u00b9\u2082")) | st.characters(),
               max_size=12))
@settings(max_examples=500, deadline=None)
def test_fold_is_nfkc_except_circled_super_sub_and_fractions(text):
    """readers.fold's fast path (a text NFKC leaves as it is) gives what the character-by-character rule
    gives: NFKC for every character except circled, superscript, subscript and fraction ones, kept."""
    import unicodedata

    from etl.readers import KEEP_TAGS, fold

    reference = "".join(c if unicodedata.decomposition(c).startswith(KEEP_TAGS) else unicodedata.normalize("NFKC", c)
                        for c in text)
    if not any(unicodedata.decomposition(c).startswith(KEEP_TAGS) for c in text):
        reference = unicodedata.normalize("NFKC", text)  # (whole-string NFKC composes across characters)
    assert fold(text) == reference
