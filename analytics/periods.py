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
