"""Exports that are safe to open in a spreadsheet: cells a spreadsheet would run as a formula
(=, +, -, @, tab, carriage return at the start) are prefixed with an apostrophe (OWASP CSV injection)."""
from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        # a plain negative number stays a number
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_safe_csv(df: pd.DataFrame) -> bytes:
    # UTF-8 with BOM so that Excel on a Chinese Windows opens it with the right encoding
    return safe_frame(df).to_csv(index=False).encode("utf-8-sig")
