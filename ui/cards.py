"""The overview's KPI cards as one compact grid: value, target, status badge, 环比/同比 in the metric's own
unit and a sparkline — nine cards in one row on a 1366-wide laptop, where st.metric needs a column each.
Pure HTML (every text escaped, no script), drawn with st.html; colours follow ui/palette: a status or a
change is green when it is good and red when it is bad (by the metric's direction), grey when neutral."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

from ui import palette

STATUS_STYLE = palette.STATUS
GOOD, BAD, NEUTRAL = palette.GOOD, palette.BAD, palette.MUTED
LINE = palette.GREY  # the sparkline: neutral; only its last point carries the status colour

CSS = """<style>
.pb-cards {display: grid; grid-template-columns: repeat(auto-fit, minmax(102px, 1fr)); gap: 6px; margin: 2px 0 4px;}
.pb-card {border: 1px solid #d0d7de; border-radius: 8px; padding: 6px 7px 5px; background: #fff; min-width: 0;}
.pb-card .pb-head {display: flex; justify-content: space-between; align-items: flex-start; gap: 3px; min-height: 2.1em;}
.pb-card .pb-name {font-size: 0.74rem; color: #424a53; line-height: 1.2; overflow-wrap: break-word; hyphens: auto;}
.pb-card .pb-badge {font-size: 0.64rem; font-weight: 600; border-radius: 9px; padding: 1px 5px; white-space: nowrap;}
.pb-card .pb-row {display: flex; justify-content: space-between; align-items: flex-end; gap: 3px; margin-top: 1px;}
.pb-card .pb-value {font-size: 1.3rem; font-weight: 600; color: #1f2328; line-height: 1.15; white-space: nowrap;}
.pb-card .pb-unit {font-size: 0.68rem; color: #57606a; font-weight: 400; margin-left: 2px;}
.pb-card .pb-delta {font-size: 0.66rem; line-height: 1.35; overflow-wrap: anywhere;}
.pb-card .pb-target {font-size: 0.66rem; color: #57606a; line-height: 1.3; overflow-wrap: anywhere;}
.pb-card .pb-spark {flex: 0 1 auto; min-width: 0; max-width: 48%;}
@media (max-width: 640px) {.pb-cards {grid-template-columns: repeat(2, minmax(0, 1fr));}}
</style>"""


@dataclass(frozen=True)
class CardText:
    """One card as words and numbers already formatted for the reader's language."""
    name: str
    unit: str
    value: str
    status: str  # green | amber | red | ""
    status_word: str
    delta: str | None  # 环比 text, e.g. "+0.04 个百分点"
    delta_word: str  # "环比"
    delta_good: bool | None  # True good, False bad, None neutral or unknown
    yoy: str | None
    yoy_word: str
    yoy_good: bool | None
    target: str | None  # "目标 ≥ 99.90%"
    note: str | None  # "1 个单位未报送，未计入"
    tooltip: str
    spark: tuple = ()


def sparkline(values, status: str, width: int = 44, height: int = 22) -> str:
    """An inline SVG line of the values (oldest first), its last point in the status colour."""
    vals = [float(v) for v in values]
    if len(vals) < 2:
        return ""
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    step = (width - 4) / (len(vals) - 1)
    pts = [(2 + i * step, height - 3 - (v - lo) / span * (height - 6)) for i, v in enumerate(vals)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dot = STATUS_STYLE.get(status, (LINE, ""))[0]
    x, y = pts[-1]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
           f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.4" stroke-linejoin="round"/>'
           f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{dot}"/></svg>')
    # an image, not inline SVG: st.html's sanitiser keeps <img> with a data: URI and drops inline SVG
    data = base64.b64encode(svg.encode()).decode()
    return f'<img class="pb-spark" alt="" width="{width}" height="{height}" src="data:image/svg+xml;base64,{data}">'



def _change(word: str, text: str | None, good: bool | None) -> str:
    if text is None:
        return ""
    colour = NEUTRAL if good is None else GOOD if good else BAD
    # the number and its unit never part ("+0.027 个百分点" moves to the next line whole on a narrow card)
    return f'<span style="color:{NEUTRAL}">{escape(word)}</span> <span style="color:{colour};white-space:nowrap">{escape(text)}</span>'


def card_html(c: CardText) -> str:
    badge = ""
    if c.status in STATUS_STYLE:
        fg, bg = STATUS_STYLE[c.status]
        badge = f'<span class="pb-badge" style="color:{fg};background:{bg}">{escape(c.status_word)}</span>'
    unit = f' <span class="pb-unit">{escape(c.unit)}</span>' if c.unit else ""
    note = f'<div class="pb-target" style="color:{BAD}">{escape(c.note)}</div>' if c.note else ""
    return (f'<div class="pb-card" title="{escape(c.tooltip)}" data-testid="pbkpi-card">'
            f'<div class="pb-head"><span class="pb-name">{escape(c.name)}{unit}</span>{badge}</div>'
            f'<div class="pb-row"><span class="pb-value">{escape(c.value)}</span>{sparkline(c.spark, c.status)}</div>'
            f'<div class="pb-delta">{_change(c.delta_word, c.delta, c.delta_good) or "&nbsp;"}</div>'
            f'<div class="pb-delta">{_change(c.yoy_word, c.yoy, c.yoy_good) or "&nbsp;"}</div>'
            f'<div class="pb-target">{_nowrap_value(c.target) if c.target else "&nbsp;"}</div>{note}</div>')


def _nowrap_value(target: str) -> str:
    """`目标 ≥ 99.90%`: the word may stand alone on its line, the comparison and number never part."""
    word, _, rest = target.partition(" ")
    return f'{escape(word)} <span style="white-space:nowrap">{escape(rest)}</span>' if rest else escape(target)


def cards_html(cards: list[CardText]) -> str:
    return CSS + '<div class="pb-cards">' + "".join(card_html(c) for c in cards) + "</div>"


def good(mid: str, change) -> bool | None:
    """Whether a change of the metric is for the better (None: no direction, or no change)."""
    from catalogue import metric

    d = metric(mid).direction
    if change is None or change == 0 or d not in ("higher", "lower"):
        return None
    return (change > 0) == (d == "higher")


def card_for(mid: str, value, delta, delta_yoy, status: str, target: float | None, amber: float | None,
             spark: tuple = (), not_reporting: int = 0) -> CardText:
    """A metric's card in the reader's language (the overview and the briefing page draw the same cards)."""
    from catalogue import metric
    from catalogue.formats import fmt_delta, fmt_metric, fmt_target
    from ui.i18n import lang, tr

    m, L = metric(mid), lang()
    tooltip = (tr("page.overview.card_help_target", target=fmt_target(mid, target, L),
                  amber=fmt_delta(mid, amber, L).lstrip("+"))
               if target is not None else tr("page.overview.card_help_none"))
    return CardText(
        name=m.name(L), unit=m.shown_unit(L),
        value=fmt_metric(mid, value, L, with_unit=False),
        status=status, status_word=tr(f"page.overview.status_{status}") if status else "",
        delta=None if delta is None else fmt_delta(mid, delta, L), delta_word=tr("page.overview.vs_prev"),
        delta_good=good(mid, delta),
        yoy=None if delta_yoy is None else fmt_delta(mid, delta_yoy, L), yoy_word=tr("page.overview.yoy_word"),
        yoy_good=good(mid, delta_yoy),
        target=fmt_target(mid, target, L) if target is not None else None,
        note=tr("page.overview.not_reported", n=not_reporting) if not_reporting else None,
        tooltip=tooltip, spark=tuple(spark))
