"""The viewer's watermark on exported briefings (the page draws its own: ui/signin.py): name, account, time
and 内部资料, repeated across every chart image, every PPTX slide and the HTML page, so that a file passed
on can be traced to who exported it. No text: no watermark (the CLI exports for operators)."""
from __future__ import annotations

import base64
import html
from xml.sax.saxutils import escape

GREY = "rgba(90,90,90,0.16)"


def on_figure(fig, text: str | None):
    """A copy of a Plotly figure with the watermark tiled over its paper (three rows of two)."""
    if not text:
        return fig
    fig = type(fig)(fig)  # do not touch the shared figure
    for i, (x, y) in enumerate((x, y) for y in (0.85, 0.5, 0.15) for x in (0.25, 0.75)):
        fig.add_annotation(text=html.escape(text), x=x, y=y, xref="paper", yref="paper", showarrow=False,
                           textangle=-24, font=dict(size=13, color=GREY), name=f"watermark{i}")
    return fig


def on_slide(slide, prs, text: str | None) -> None:
    """Light grey, rotated copies of the watermark across a slide, above its content."""
    if not text:
        return
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    w, h = prs.slide_width, prs.slide_height
    for row in range(3):
        for col in range(2):
            box = slide.shapes.add_textbox(int(w * (0.08 + 0.47 * col)), int(h * (0.12 + 0.3 * row)), Inches(5.2), Inches(0.5))
            box.rotation = -24
            box.name = "watermark"
            run = box.text_frame.paragraphs[0].add_run()
            run.text = text
            run.font.size, run.font.color.rgb = Pt(14), RGBColor(0xD0, 0xD0, 0xD0)


def overlay(lines: tuple[str, ...], opacity: float = 0.14, testid: str = "watermark") -> str:
    """A fixed, click-through, unselectable layer with the watermark's lines tiled over the page (the
    dashboard's pages and the exported HTML use the same one)."""
    texts = "".join(f"<text x='30' y='{130 + 24 * i}'>{escape(line)}</text>" for i, line in enumerate(lines))
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='460' height='260'><g transform='rotate(-24 230 130)' "
           f"fill='rgb(90,90,90)' font-size='16' font-family='Noto Sans CJK SC, sans-serif'>{texts}</g></svg>")
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<div class="watermark" data-testid="{escape(testid)}" aria-hidden="true" style="position:fixed;inset:0;'
            f'z-index:2147483000;pointer-events:none;user-select:none;-webkit-user-select:none;opacity:{opacity};'
            f'background-image:url(\'data:image/svg+xml;base64,{data}\');background-repeat:repeat;"></div>')


def html_overlay(text: str | None) -> str:
    """The exported HTML's layer (nothing without a watermark text)."""
    return overlay((text,)) if text else ""
