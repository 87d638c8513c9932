"""Period labels and their arithmetic, in one place: months `2024-07`, quarters `2024Q3`.

Every page, view, export and CLI that moves between periods (the previous quarter, the same quarter a
year before, the quarter holding a month, a month range's quarters) calls these functions."""
from __future__ import annotations

import pandas as pd

GRAINS = ("month", "quarter")


def is_quarter(label: str) -> bool:
    return len(label) == 6 and label[4] == "Q" and label[:4].isdigit() and label[5] in "1234"


def is_month(label: str) -> bool:
    return len(label) == 7 and label[4] == "-" and label[:4].isdigit() and label[5:].isdigit() and 1 <= int(label[5:]) <= 12


def shift_quarter(q: str, k: int) -> str:
    """The quarter label k quarters before q (2025Q1, 1 -> 2024Q4)."""
    y, n = int(q[:4]), int(q[5:])
    i = y * 4 + n - 1 - k
    return f"{i // 4}Q{i % 4 + 1}"


def quarter_of(period: str | None) -> str | None:
    """2024-07 -> 2024Q3; a quarter stays as it is; None stays None."""
    if not period or "Q" in period:
        return period
    return f"{period[:4]}Q{(int(period[5:7]) - 1) // 3 + 1}"


def first_month(q: str) -> str:
    """2024Q3 -> 2024-07."""
    return f"{q[:4]}-{(int(q[5]) - 1) * 3 + 1:02d}"


def last_month(q: str) -> str:
    """2024Q3 -> 2024-09."""
    return f"{q[:4]}-{int(q[5]) * 3:02d}"


def to_grain(period: str | None, grain: str) -> str | None:
    """The same point in time at another grain: a month's quarter, or a quarter's first month."""
    if not period:
        return period
    if grain == "quarter":
        return quarter_of(period)
    return first_month(period) if "Q" in period else period


def coerce(value: str | None, periods: list[str], default: str) -> str:
    """`value` carried over to the grain of `periods` (2024-07 <-> 2024Q3) when that period exists, else
    `default`: a grain switch keeps the chosen range."""
    if not value or not periods:
        return default
    grain = "quarter" if "Q" in periods[0] else "month"
    cand = to_grain(value, grain)
    return cand if cand in periods else default


def period_index(period_start: pd.Series, grain: str) -> pd.Series:
    """Integer time on the calendar: months or quarters since year 0 (so lags never jump a gap)."""
    ps = pd.to_datetime(period_start)
    if grain == "month":
        return ps.dt.year * 12 + ps.dt.month - 1
    return ps.dt.year * 4 + (ps.dt.month - 1) // 3


# --- the time column of a panel brought from another tool (python -m analytics … --csv) ---------------

_QUARTER = r"(?P<y>\d{4})\s*(?:[-/ ]?\s*[Qq]\s*(?P<q>[1-4])|年\s*第?\s*(?P<qz>[1-4一二三四])\s*季度?)"
_MONTH = r"(?P<y>\d{4})\s*(?:[-/.]\s*|年\s*)(?P<m>\d{1,2})(?:\s*月)?(?:(?:[-/.]\s*|\s*)(?P<d>\d{1,2})\s*日?)?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
_COMPACT = r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})?"
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4}


def parse_time_column(values: pd.Series, name: str) -> tuple[pd.Series, str, pd.Series, pd.Series | None]:
    """(t, grain, labels, period_start) for the time column of a panel from elsewhere. Accepted, as pandas and
    Excel write them: whole numbers (years, wave numbers), also as floats (`1935.0`); quarters (2024Q1,
    2024-Q1, 2024 Q1, 2024年第1季度); months (2024-07, 2024/7, 2024.07, 2024年7月, 202407); dates (2024-07-05,
    2024/7/5, 20240705, with or without a time). One form per column. Raises ValueError naming the first
    values that fit none, or the forms a column mixes."""
    raw = values.astype("string").str.strip()
    if raw.isna().any() or (raw == "").any():
        rows = [int(i) + 2 for i in raw.index[raw.isna() | (raw == "")][:5]]  # + header, 1-based
        raise ValueError(f"时间列 {name!r} 有空值（第 {'、'.join(map(str, rows))} 行）。(empty time values)")
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all() and not raw.str.fullmatch(r"\d{6}|\d{8}").all():
        if not (numbers == numbers.round()).all():
            bad = raw[numbers != numbers.round()].head(3).tolist()
            raise ValueError(f"时间列 {name!r} 有非整数的值：{'、'.join(bad)}。(time values must be whole numbers)")
        t = numbers.astype("int64")
        return t, "custom", t.astype(str), None
    quarter = raw.str.extract(f"^{_QUARTER}$")
    if quarter["y"].notna().all():
        q = quarter["q"].fillna(quarter["qz"].map(lambda v: str(_ZH_DIGITS.get(v, v)) if isinstance(v, str) else v))
        y, q = quarter["y"].astype(int), q.astype(int)
        start = pd.to_datetime(pd.DataFrame({"year": y, "month": (q - 1) * 3 + 1, "day": 1}))
        return y * 4 + q - 1, "quarter", y.astype(str) + "Q" + q.astype(str), start
    month = raw.str.extract(f"^{_MONTH}$")
    compact = raw.str.extract(f"^{_COMPACT}$")
    for found in (month, compact):
        if found["y"].notna().all():
            y, m = found["y"].astype(int), found["m"].astype(int)
            day = found["d"].fillna("1").astype(int)
            bad = (m < 1) | (m > 12) | (day < 1) | (day > 31)
            if bad.any():
                raise ValueError(f"时间列 {name!r} 有不存在的月份或日期：{'、'.join(raw[bad].head(3))}。(invalid month or day)")
            start = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": 1}))
            return y * 12 + m - 1, "month", start.dt.strftime("%Y-%m"), start
    fits = [raw.str.fullmatch(p) for p in (_QUARTER, _MONTH, _COMPACT, r"[-+]?\d+(\.0*)?")]
    odd = raw[~pd.concat(fits, axis=1).any(axis=1)]
    if len(odd):
        raise ValueError(f"时间列 {name!r} 有无法识别的值：{'、'.join(odd.head(3))}；请使用整数年份、2024Q1、2024-07 或 "
                         f"2024-07-05 这样的写法。(unparseable time values)")
    raise ValueError(f"时间列 {name!r} 混用了多种写法（如年份与月份），请统一为一种。(time column mixes forms)")
