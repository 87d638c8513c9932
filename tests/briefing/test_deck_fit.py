"""The deck as a projector shows it (#17): every text fits its frame — measured with the font, not guessed —
in both languages; chart images are drawn for the place they take, so their 20 px type is 14.4 pt on the
slide; each slide's speaker notes are about that slide; the quadrant slide says how many movers it leaves out.

The measurement here is the test's own (greedy wrapping with Pillow and the Noto CJK font the slides name),
independent of briefing/textfit, which sized the frames."""
from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageFont

from catalogue import t
from tests.briefing.test_briefing import needs_browser

FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
BOLD = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
EMU_PER_IN = 914400


def measured_height(frame, width_in: float) -> float:
    """Inches the frame's paragraphs take when wrapped into `width_in` (the frame's insets taken off)."""
    room_pt = (width_in - (frame.margin_left + frame.margin_right) / EMU_PER_IN) * 72
    total_pt = 0.0
    paragraphs = frame.paragraphs
    for i, p in enumerate(paragraphs):
        runs = p.runs
        if not runs:
            continue
        size = runs[0].font.size.pt
        font = ImageFont.truetype(str(BOLD if runs[0].font.bold and BOLD.exists() else FONT), size=round(size * 20), index=2)
        width = lambda s: font.getlength(s) / 20  # noqa: E731 (points)
        ascent, descent = font.getmetrics()
        text = "".join(r.text for r in runs)
        lines, line = 1, ""
        for token in re.findall(r"[A-Za-z0-9.,:;%+\-−/()'’\"]+\s*|\s+|.", text):
            if line and width(line + token.rstrip()) > room_pt:
                lines, line = lines + 1, token.lstrip()
                while width(line) > room_pt and len(line) > 1:  # a word longer than a line breaks inside
                    lines, line = lines + 1, line[max(1, int(len(line) * room_pt / width(line))):]
            else:
                line += token
        total_pt += lines * (ascent + descent) / 20 + (p.space_after.pt if p.space_after is not None and i < len(paragraphs) - 1 else 0)
    return total_pt / 72 + (frame.margin_top + frame.margin_bottom) / EMU_PER_IN


@pytest.fixture(scope="module", params=["zh", "en"])
def deck(request, demo_db, tmp_path_factory):
    from pptx import Presentation

    out = tmp_path_factory.mktemp("deck") / f"b_{request.param}.pptx"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(demo_db), "--format", "pptx",
                    "--lang", request.param, "--out", str(out)], check=True, capture_output=True)
    return request.param, Presentation(str(out))


@needs_browser
@pytest.mark.skipif(not FONT.exists(), reason="needs fonts-noto-cjk (apt-get install fonts-noto-cjk)")
def test_every_text_fits_its_frame(deck):
    lang, prs = deck
    over = []
    for n, slide in enumerate(prs.slides, 1):
        for shape in slide.shapes:
            if not shape.has_text_frame or not shape.text_frame.text.strip() or shape.name.startswith("watermark"):
                continue
            need = measured_height(shape.text_frame, shape.width / EMU_PER_IN)
            if need > shape.height / EMU_PER_IN + 0.02:
                over.append(f"slide {n}: {need:.2f} in needed, {shape.height / EMU_PER_IN:.2f} in frame: {shape.text_frame.text[:60]}")
            assert shape.top + shape.height <= prs.slide_height and shape.left + shape.width <= prs.slide_width
    assert not over, "\n".join(over)


@needs_browser
def test_charts_are_drawn_for_their_place(deck):
    """A chart image holds 200 pixels per inch of the slide it covers (100 layout px per inch at scale 2): its
    20 px type is then 14.4 pt on the slide, at least the 14 pt a projected slide needs."""
    _, prs = deck
    pictures = [sh for s in prs.slides for sh in s.shapes if sh.shape_type == 13]
    assert len(pictures) >= 6
    for pic in pictures:
        px = Image.open(io.BytesIO(pic.image.blob)).size[0]
        assert px / (pic.width / EMU_PER_IN) == pytest.approx(200, rel=0.01)


@needs_browser
def test_speaker_notes_belong_to_their_slide(deck):
    lang, prs = deck
    slides = list(prs.slides)
    by_title = {s.shapes[0].text_frame.text: s.notes_slide.notes_text_frame.text for s in slides[1:]}
    assert by_title[t("brief.sec.kpis", lang)] == t("brief.notes_kpis", lang)
    assert by_title[t("brief.sec.ranks", lang)] == t("brief.notes_ranks", lang)  # not the funnel's note: no funnel here
    assert by_title[t("brief.sec.alerts", lang)] == t("brief.notes_alerts", lang)
    assert by_title[t("brief.sec.quadrant", lang)] == t("page.overview.quadrant_note", lang)


@needs_browser
def test_the_quadrant_slide_counts_what_it_does_not_list(deck):
    from briefing.export import MOVERS_LISTED

    lang, prs = deck
    quadrant = next(s for s in prs.slides if s.shapes[0].text_frame.text == t("brief.sec.quadrant", lang))
    lines = [p.text for sh in quadrant.shapes if sh.has_text_frame for p in sh.text_frame.paragraphs]
    announced = [n for n in range(1, 1000) if t("page.overview.movers", lang, n=n).replace("**", "") in lines]
    assert len(announced) == 1
    at = lines.index(t("page.overview.movers", lang, n=announced[0]).replace("**", ""))
    listed = lines[at + 1:at + 1 + MOVERS_LISTED]
    assert len(listed) == min(announced[0], MOVERS_LISTED)
    if announced[0] > MOVERS_LISTED:
        assert lines[at + 1 + MOVERS_LISTED] == t("brief.movers_more", lang, n=announced[0] - MOVERS_LISTED)
