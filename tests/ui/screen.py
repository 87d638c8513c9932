"""What the overview's KPI cards (ui/cards.py, drawn with st.html) show, read back from an AppTest run."""
from __future__ import annotations

import html
import re

CARD = re.compile(r'<div class="pb-card".*?</div></div>', re.S)


def html_blocks(at) -> list[str]:
    return [str(h.value) if hasattr(h, "value") else str(h.proto.body) for h in at.html]


def cards(at) -> list[dict]:
    """Every card: its name (with unit), value, badge word and the rest of its text."""
    out = []
    for block in html_blocks(at):
        for card in re.findall(r'<div class="pb-card".*?data-testid="pbkpi-card">(.*?)</div>(?=<div class="pb-card"|</div>$)',
                               block, re.S) or []:
            name = re.search(r'<span class="pb-name">(.*?)</span>', card, re.S)
            value = re.search(r'<span class="pb-value">(.*?)</span>', card, re.S)
            badge = re.search(r'<span class="pb-badge"[^>]*>(.*?)</span>', card, re.S)
            out.append({"name": text(name.group(1)) if name else "", "value": text(value.group(1)) if value else "",
                        "badge": text(badge.group(1)) if badge else "", "text": text(card)})
    return out


def text(fragment: str) -> str:
    """The words of an HTML fragment as a reader sees them."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()
