"""One colour language for every page and export (charts, KPI cards, 预警 tables, the briefing's HTML, PDF
and PPTX).

- **Neutral** colours carry no judgement: the brand colour (a deep blue, not party red) draws series,
  points and lines that are neither good nor bad; further neutral hues tell series apart.
- **Good / amber / bad** appear only where a direction is meant: a status against a target, the better or
  worse end of a ranking, a unit beyond a control limit on its bad or good side, a correlation that goes
  with a KPI's better or worse direction (the catalogue's `direction`).
- **Significance is saturation**: a statistic that does not survive its test is drawn faded
  (`faded`), never in the same strength as one that does.
- **Every activity type has its own fixed colour** (`activity_colour`), the same on every chart, page and
  export, in the order of the contract's code list.
"""
from __future__ import annotations

from functools import cache

BRAND = "#1F4E79"  # neutral: the product's own colour, and the first series of any chart
GOOD, AMBER, BAD = "#2E8B57", "#C98A00", "#C8102E"
GREY, INK, MUTED = "#8A8F98", "#1F2329", "#57606A"
NEUTRALS = [BRAND, "#2A9D8F", "#6A4C93", "#E07B39", "#5B8DB8", GREY]  # series that are not good or bad

# a status (达标 / 接近 / 未达标, and the 预警 levels): text colour and background
STATUS = {"green": (GOOD, "#DAFBE1"), "amber": ("#9A6700", "#FFF8C5"), "red": (BAD, "#FFEBE9")}

# quadrants: both strong is good, both weak is bad; the two 两张皮 corners are warnings of different kinds
QUADRANT = {"both_strong": GOOD, "pb_strong_biz_weak": AMBER, "biz_strong_pb_weak": "#5B8DB8", "both_weak": BAD}

# twelve distinct hues, none of them the good green or the bad red
_ACTIVITY_HUES = ["#1F4E79", "#4C8BC9", "#2A9D8F", "#7FC8BC", "#6A4C93", "#B39DDB",
                  "#E07B39", "#F2B880", "#8C6D46", "#9A9A3A", "#C2578A", "#8A8F98"]


@cache
def _activity_types() -> tuple[str, ...]:
    from catalogue import datasets

    for ds in datasets().values():
        for col in ds.columns:
            if col.id == "activity_type" and col.values:
                return tuple(col.values)
    return ()


def activity_colour(kind: str) -> str:
    """The fixed colour of an activity type (by its position in the contract's code list); a type outside the
    list gets the neutral grey."""
    kinds = _activity_types()
    return _ACTIVITY_HUES[kinds.index(kind) % len(_ACTIVITY_HUES)] if kind in kinds else GREY


def faded(hex_colour: str, strength: float = 0.3) -> str:
    """The colour mixed towards white (strength 1 = unchanged): how a non-significant mark is drawn."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    mix = [round(255 - (255 - c) * strength) for c in (r, g, b)]
    return "#" + "".join(f"{c:02X}" for c in mix)


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """(r, g, b) for python-pptx's RGBColor."""
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


# a diverging scale from a KPI's worse direction (−1) through white to its better direction (+1)
FAVOUR_SCALE = [[0.0, BAD], [0.5, "#FFFFFF"], [1.0, GOOD]]
