"""Number formatting by the catalogue: decimals, units, 万 for large Chinese counts."""
from __future__ import annotations

import math
import numbers

from catalogue import metric


def _finite(v) -> bool:
    """A real, finite number — numpy's integers included (a count of 1 complaint is a number)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def fmt_number(v, decimals: int = 2, lang: str = "zh", wan: bool = False) -> str:
    if not _finite(v):
        return "—"
    if wan and lang == "zh" and abs(v) >= 100_000:
        return f"{v / 10_000:,.1f}万"
    return f"{v:,.{decimals}f}"


def fmt_metric(mid: str, v, lang: str = "zh", with_unit: bool = True) -> str:
    m = metric(mid)
    s = fmt_number(v, m.decimals, lang, wan=m.unit_zh in ("户", "MWh", "件", "人"))
    u = m.unit(lang)
    if not with_unit or not u or s == "—":
        return s
    return f"{s}{u}" if u == "%" else f"{s} {u}"


def fmt_effect(v, lang: str = "zh") -> str:
    """An estimated effect: enough significant digits to be read, signed."""
    if not _finite(v):
        return "—"
    if v == 0:
        return "0"
    digits = max(0, 2 - int(math.floor(math.log10(abs(v)))))
    return f"{v:+,.{min(digits, 6)}f}".replace("-", "−")


def fmt_pct(v, decimals: int = 1) -> str:
    return "—" if not _finite(v) else f"{v:+.{decimals}f}%".replace("-", "−")


def fmt_p(p) -> str:
    if not _finite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def delta_unit(mid: str, lang: str = "zh") -> str:
    """The unit a change of the metric is read in: percentage points for a rate in %, else its own unit."""
    m = metric(mid)
    if m.unit_zh == "%":
        return "个百分点" if lang == "zh" else "pp"
    return m.unit(lang)


def fmt_delta(mid: str, v, lang: str = "zh") -> str:
    """A change of a metric, signed with a true minus, in the unit it is read in: `+0.04 个百分点`,
    `−0.97 小时/户`; a change that rounds to zero reads `0`, never `-0.0`."""
    if not _finite(v):
        return "—"
    m = metric(mid)
    decimals = m.decimals
    text = f"{abs(v):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        sign, text = "", f"{0:.{decimals}f}"
    else:
        sign = "+" if v > 0 else "−"
    unit = delta_unit(mid, lang)
    return f"{sign}{text} {unit}".strip()


def fmt_target(mid: str, value, lang: str = "zh") -> str:
    """`目标 ≥ 99.90%` / `target ≤ 0.50 per 10k` — the side of the target that is good."""
    m = metric(mid)
    side = "≥" if m.direction == "higher" else "≤"
    word = "目标" if lang == "zh" else "target"
    return f"{word} {side} {fmt_metric(mid, value, lang)}"


QUARTER_ZH = "一二三四"


def fmt_period(code: str | None, lang: str = "zh") -> str:
    """A period code as a reader names it: `2025Q4` → 2025年四季度 / Q4 2025, `2025-03` → 2025年3月 / Mar 2025.
    Anything else is returned as it is."""
    import re

    text = "" if code is None else str(code)
    if m := re.fullmatch(r"(\d{4})Q([1-4])", text):
        year, q = m.group(1), int(m.group(2))
        return f"{year}年{QUARTER_ZH[q - 1]}季度" if lang == "zh" else f"Q{q} {year}"
    if m := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = m.group(1), int(m.group(2))
        if 1 <= month <= 12:
            from babel.dates import get_month_names

            return f"{year}年{month}月" if lang == "zh" else f"{get_month_names('abbreviated', locale='en')[month]} {year}"
    return text


def for_reader(message: str, lang: str = "zh") -> str:
    """A domain error's message as the reader's language shows it. Messages are written in Chinese with a
    short English gloss in a trailing parenthesis ("按单位聚类的标准误至少需要 3 个单位。(clustered SEs need at
    least 3 units)"): a Chinese view drops the gloss; an English view keeps both (the gloss alone would lose the
    specifics)."""
    import re

    text = str(message)
    m = re.fullmatch(r"(.*\S)\s*\(([^()\u4e00-\u9fff]+)\)\s*", text, re.S)
    if lang == "zh" and m and re.search(r"[\u4e00-\u9fff]", m.group(1)):
        return m.group(1)
    return text
