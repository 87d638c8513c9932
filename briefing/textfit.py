"""How much room a text takes on a slide, measured with the font the slide names (Noto Sans CJK, the one the
Chromium renderer and the LibreOffice/PowerPoint on a company desktop use for Chinese), so that the deck's
text boxes are sized — and their font shrunk where needed — from measurements instead of guesses.

Wrapping follows the presentation programs: Chinese breaks between any two characters, Latin between words;
a line is as high as the font's ascent plus descent; paragraphs are separated by their space-after."""
from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

log = logging.getLogger("pbkpi.briefing")

FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
              "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc")
SC_INDEX = 2  # the collection's Simplified Chinese face
INSET_X, INSET_Y = 0.1, 0.05  # python-pptx / PowerPoint default text frame insets, inches
TOKEN = re.compile(r"[A-Za-z0-9.,:;%+\-−/()'’\"]+\s*|\s+|.", re.S)


@cache
def _font(size_pt: float, bold: bool):
    """The font at `size_pt` points (as pixels of one point each), or None when no CJK font is installed."""
    from PIL import ImageFont

    names = [f for f in FONT_FILES if Path(f).exists()]
    if bold:
        names = [f for f in names if "Bold" in f] + names
    for name in names:
        try:
            return ImageFont.truetype(name, size=max(1, round(size_pt * 10)), index=SC_INDEX)  # tenths of a point
        except OSError:
            continue
    return None


def _width_pt(text: str, size_pt: float, bold: bool) -> float:
    font = _font(size_pt, bold)
    if font is None:  # no font to measure with: full-width characters 1 em, the rest 0.6 em (an upper bound)
        return sum(size_pt if ord(ch) > 0x2E80 else 0.6 * size_pt for ch in text)
    return font.getlength(text) / 10


def line_height_pt(size_pt: float, bold: bool = False) -> float:
    font = _font(size_pt, bold)
    if font is None:
        return 1.45 * size_pt
    ascent, descent = font.getmetrics()
    return (ascent + descent) / 10


def wrap(text: str, size_pt: float, width_in: float, bold: bool = False) -> list[str]:
    """The lines `text` takes in a frame `width_in` wide (insets included)."""
    room = (width_in - 2 * INSET_X) * 72
    lines = []
    for hard in text.split("\n"):
        line = ""
        for token in TOKEN.findall(hard):
            if line and _width_pt(line + token.rstrip(), size_pt, bold) > room:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
            while len(line) > 1 and _width_pt(line.rstrip(), size_pt, bold) > room:  # a word longer than the line
                cut = len(line) - 1
                while cut > 1 and _width_pt(line[:cut], size_pt, bold) > room:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


def height_in(paragraphs: list[str], size_pt: float, width_in: float, bold: bool = False, space_after_pt: float = 6) -> float:
    """The height the paragraphs take, insets included."""
    lines = sum(len(wrap(p, size_pt, width_in, bold)) for p in paragraphs)
    return (lines * line_height_pt(size_pt, bold) + space_after_pt * max(len(paragraphs) - 1, 0)) / 72 + 2 * INSET_Y


def fitting_size(paragraphs: list[str], size_pt: float, width_in: float, height_in_: float, bold: bool = False,
                 smallest: float = 10, space_after_pt: float = 6) -> float:
    """The largest size from `size_pt` down (half points) at which the paragraphs fit the frame; `smallest`
    if even that does not fit (logged: the text should be shortened)."""
    size = size_pt
    while size > smallest and height_in(paragraphs, size, width_in, bold, space_after_pt) > height_in_:
        size -= 0.5
    if height_in(paragraphs, size, width_in, bold, space_after_pt) > height_in_:
        log.warning("slide text does not fit its frame even at %s pt: %s…", size, paragraphs[0][:40] if paragraphs else "")
    return size


def fonts_available() -> bool:
    return _font(12, False) is not None
