"""Exports of a built briefing: PPTX (python-pptx), self-contained HTML, PNG per chart.

PowerPoint picks the font for Chinese characters from the East-Asian slot (`a:ea`), which python-pptx's
API does not set; every run here sets latin and ea typefaces explicitly. Text that came from files
(unit names, titles) is neutralised against spreadsheet formulas and HTML-escaped in the HTML export."""
from __future__ import annotations

import datetime as dt
import html
import io
import logging
import zipfile
from pathlib import Path

import plotly.graph_objects as go
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.oxml.ns import qn
from pptx.util import Inches, Pt

from briefing.content import Briefing, event_text, finding_text, narrative, quarter_label
from briefing import textfit
from briefing.figures import build_figures, export_session, kpi_frame, to_png
from briefing.safe_export import neutralise
from briefing.watermark import html_overlay, on_figure, on_slide
from catalogue import t
from ui import palette

log = logging.getLogger(__name__)

FONT_LATIN = "Microsoft YaHei"
FONT_EA = "Microsoft YaHei"
BRAND_RGB = RGBColor(*palette.rgb(palette.BRAND))
BAD_RGB = RGBColor(*palette.rgb(palette.BAD))
GREY = RGBColor(*palette.rgb(palette.MUTED))
DARK = RGBColor(*palette.rgb(palette.INK))
STATUS = {level: RGBColor(*palette.rgb(fg)) for level, (fg, _) in palette.STATUS.items()}
STATUS_TEXT_AMBER = STATUS["amber"]


def scope_label(b: Briefing, lang: str) -> str:
    s = b.scope
    parts = [*(t(f"unit_type.{x}", lang) for x in s.unit_types), *(t(f"region.{x}", lang) for x in s.regions), *s.units]
    org = getattr(b, "org", "")  # (a briefing kept before the org tree was a filter has none)
    if org:
        return " · ".join([org, *parts])
    return " · ".join(parts) if parts else t("brief.scope_all", lang)


# ---------------------------------------------------------------- PPTX
# A 16:9 slide is 13.333 × 7.5 inches. Chart images are laid out at 100 px per inch of the slide and drawn
# with 20 px type (14.4 pt on the slide, readable when projected), at twice the pixels for sharpness. Every
# text frame's font is the largest that fits the frame as measured with the font itself (briefing/textfit).

PX_PER_IN = 100
SLIDE_W, SLIDE_H = 13.333, 7.5
BODY_TOP, BODY_BOTTOM = 1.15, 6.85  # below the title, above the footer


def _set_font(run, size: float, bold: bool = False, color: RGBColor = DARK) -> None:
    f = run.font
    f.size, f.bold, f.name = Pt(size), bold, FONT_LATIN
    f.color.rgb = color
    rpr = run._r.get_or_add_rPr()
    for tag in ("a:ea", "a:cs"):
        el = rpr.find(qn(tag))
        if el is None:
            el = rpr.makeelement(qn(tag), {})
            rpr.append(el)
        el.set("typeface", FONT_EA)


def _text(slide, left: float, top: float, width: float, height: float, paragraphs, size: float = 18, bold: bool = False,
          color: RGBColor = DARK, colors: list | None = None, smallest: float = 10):
    """A text frame (inches) whose font is the largest up to `size` at which the paragraphs fit it."""
    from pptx.enum.text import MSO_AUTO_SIZE

    paras = [neutralise(str(p)) for p in (paragraphs if isinstance(paragraphs, list) else [paragraphs])]
    fitted = textfit.fitting_size(paras, size, width, height, bold, smallest=smallest)
    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(height))
    tf = box.text_frame
    tf.word_wrap, tf.auto_size = True, MSO_AUTO_SIZE.NONE
    for i, text in enumerate(paras):
        para = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        para.space_after = Pt(6)
        run = para.add_run()
        run.text = text
        _set_font(run, fitted, bold, (colors[i] if colors and colors[i] is not None else color))
    return box


def _slide(prs, b: Briefing, title: str, lang: str, notes: str):
    s = prs.slides.add_slide(prs.slide_layouts[6])
    _text(s, 0.5, 0.25, 12.3, 0.85, title, size=28, bold=True, color=BRAND_RGB)
    footer = quarter_label(b.quarter, lang) + " · PB-KPI Lens"
    if b.synthetic:
        footer += " · " + t("brief.synthetic_mark", lang)
    _text(s, 0.5, 6.95, 12.3, 0.45, footer, size=11, color=GREY)
    s.notes_slide.notes_text_frame.text = notes
    return s


def slide_png(fig, width_in: float, height_in: float) -> bytes:
    """The figure drawn for a `width_in` × `height_in` place on a slide, its type 14.4 pt there."""
    big = go.Figure(fig)
    big.update_layout(font=dict(size=20), title=dict(font=dict(size=24)), margin=dict(l=30, r=30, t=70, b=60),
                      legend=dict(font=dict(size=18)))
    big.update_annotations(font_size=18)
    big.update_traces(textfont_size=18, selector=dict(type="scatter"))
    big.update_traces(textfont_size=18, selector=dict(type="bar"))
    big.update_yaxes(automargin=True)
    return big.to_image(format="png", width=round(width_in * PX_PER_IN), height=round(height_in * PX_PER_IN), scale=2)


def _image(slide, png: bytes, left: float, top: float, width: float) -> None:
    slide.shapes.add_picture(io.BytesIO(png), Inches(left), Inches(top), width=Inches(width))


# where each chart goes (inches: width, height); its image is drawn for exactly that place
PLACES = {"trend": (12.3, 5.6), "quadrant": (7.9, 5.7), "rank": (4.1, 5.5), "event": (6.0, 3.5)}
MOVERS_LISTED = 8
ALERTS_LISTED = 10


def _place(key: str) -> tuple[float, float]:
    return PLACES[key.split("_")[0]]


def to_pptx(b: Briefing, lang: str = "zh", watermark: str | None = None, annotations: list | None = None) -> bytes:
    """The deck: title, then one slide per section 一 … 七 (the page's and the HTML's numbering). Speaker
    notes say what is on their own slide. `annotations`: the quarter's 批注 in the viewer's scope."""
    figs = {k: on_figure(f, watermark) for k, f in build_figures(b, lang).items()}
    with export_session():
        images = {k: slide_png(f, *_place(k)) for k, f in figs.items()}
    methods = t("brief.notes_methods", lang)
    colon = "：" if lang == "zh" else ": "
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(SLIDE_W), Inches(SLIDE_H)

    title = t("brief.title", lang, quarter=quarter_label(b.quarter, lang))
    s = prs.slides.add_slide(prs.slide_layouts[6])
    _text(s, 0.8, 2.2, 11.7, 1.5, title, size=40, bold=True, color=BRAND_RGB)
    _text(s, 0.8, 3.8, 11.7, 0.7,
          t("brief.subtitle", lang, scope=scope_label(b, lang), n=b.n_units, date=dt.date.today().isoformat()), size=18, color=GREY)
    if b.synthetic:
        _text(s, 0.8, 4.6, 11.7, 0.9, t("brief.synthetic", lang), size=18, bold=True, color=BAD_RGB)
    s.notes_slide.notes_text_frame.text = methods

    # 一 key figures and the summary
    s = _slide(prs, b, t("brief.sec.kpis", lang), lang, t("brief.notes_kpis", lang))
    kf = kpi_frame(b, lang)
    per_row = 5 if len(kf) > 8 else 4
    col_w = 12.3 / per_row
    rows = -(-len(kf) // per_row)
    card_h = min(1.75, 3.5 / max(rows, 1))
    for i, row in kf.iterrows():
        col, r = i % per_row, i // per_row
        left, top = 0.5 + col * col_w, BODY_TOP + r * card_h
        _text(s, left, top, col_w - 0.15, 0.6, row["label"], size=14, color=GREY, smallest=11)
        _text(s, left, top + 0.55, col_w - 0.15, 0.6, row["value"], size=26, bold=True, color=STATUS.get(row.status, DARK), smallest=16)
        _text(s, left, top + 1.1, col_w - 0.15, max(card_h - 1.12, 0.45),
              [f"{t('page.overview.vs_prev', lang)} {row['prev']}", t('page.overview.yoy', lang, value=row['yoy'])],
              size=12, color=GREY, smallest=9)
    summary_top = BODY_TOP + rows * card_h + 0.1
    _text(s, 0.5, summary_top, 12.3, BODY_BOTTOM - summary_top,
          t("brief.sec.narrative", lang) + colon + narrative(b, lang), size=15)

    # 二 trend
    s = _slide(prs, b, t("brief.sec.trend", lang), lang, t("page.overview.index_note", lang))
    _image(s, images["trend"], 0.5, BODY_TOP, PLACES["trend"][0])

    # 三 quadrant, with the counts and the movers beside it
    s = _slide(prs, b, t("brief.sec.quadrant", lang), lang, t("page.overview.quadrant_note", lang))
    _image(s, images["quadrant"], 0.4, BODY_TOP, PLACES["quadrant"][0])
    counts = b.quadrant["quadrant"].value_counts()
    lines = [f"{t(f'quadrant.{q}', lang)}{colon}{int(counts.get(q, 0))}"
             for q in ("both_strong", "pb_strong_biz_weak", "biz_strong_pb_weak", "both_weak")]
    if len(b.movers):
        lines.append(t("page.overview.movers", lang, n=len(b.movers)).replace("**", ""))
        for r in b.movers.head(MOVERS_LISTED).itertuples():
            lines.append(f"{r.business_unit_name}{colon}{t(f'quadrant.{r.before}', lang)} → {t(f'quadrant.{r.after}', lang)}")
        if len(b.movers) > MOVERS_LISTED:
            lines.append(t("brief.movers_more", lang, n=len(b.movers) - MOVERS_LISTED))
    _text(s, 8.5, BODY_TOP + 0.1, 4.4, BODY_BOTTOM - BODY_TOP - 0.1, lines, size=14, smallest=10)

    # 四 leading and lagging units
    s = _slide(prs, b, t("brief.sec.ranks", lang), lang, t("brief.notes_ranks", lang))
    for i, mid in enumerate(b.ranks):
        _image(s, images[f"rank_{mid}"], 0.4 + i * 4.2, BODY_TOP + 0.1, PLACES["rank"][0])

    # 五 findings
    s = _slide(prs, b, t("brief.sec.findings", lang), lang, methods)
    _text(s, 0.5, BODY_TOP, 6.3, BODY_BOTTOM - BODY_TOP, [finding_text(f, lang) for f in b.findings] or
          [t("brief.no_findings", lang)], size=14, smallest=10)
    if b.events:
        _image(s, images["event_0"], 6.95, BODY_TOP, PLACES["event"][0])
        ev_top = BODY_TOP + PLACES["event"][1] + 0.1
        _text(s, 6.95, ev_top, 6.0, BODY_BOTTOM - ev_top, event_text(b.events[0], lang), size=13, smallest=10)

    # 六 initiatives and data quality
    s = _slide(prs, b, t("brief.sec.initiatives", lang), lang, t("brief.notes_initiatives", lang))
    lines = []
    for r in b.initiatives.head(12).itertuples():
        ev = t("brief.started" if r.event == "started" else "brief.finished", lang)
        lines.append(f"{t(f'initiative.{r.kind}', lang)}「{r.title}」（{r.unit_name}）{ev}")
    if len(b.initiatives) > 12:
        lines.append(f"… +{len(b.initiatives) - 12}")
    _text(s, 0.5, BODY_TOP, 7.2, BODY_BOTTOM - BODY_TOP, lines or [t("brief.no_initiatives", lang)], size=14, smallest=10)
    notes = [t(k, lang, **v) for k, v in b.data_notes] or [t("brief.no_notes", lang)]
    _text(s, 8.0, BODY_TOP, 4.9, BODY_BOTTOM - BODY_TOP, notes, size=13, color=GREY, smallest=10)

    # 七 预警 and the units' own notes on the quarter
    s = _slide(prs, b, t("brief.sec.alerts", lang), lang, t("brief.notes_alerts", lang))
    _alerts_slide(s, b, lang, annotations)

    for slide in prs.slides:
        on_slide(slide, prs, watermark)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


def _alerts_slide(s, b: Briefing, lang: str, annotations: list | None) -> None:
    from briefing.content import alert_text
    from catalogue.formats import fmt_period

    alerts = getattr(b, "alerts", None)
    left_w = 7.6 if annotations else 12.3
    if alerts is None or alerts.empty:
        _text(s, 0.5, BODY_TOP, left_w, 1.0, t("page.overview.alerts_none", lang), size=16)
    else:
        head = t("page.overview.alerts_counts", lang, red=int((alerts["level"] == "red").sum()),
                 amber=int((alerts["level"] == "amber").sum()), branches=alerts["unit_id"].nunique(),
                 units=alerts["business_unit_id"].nunique())
        head = head.replace("**", "")
        for directive in (":red-badge[", ":orange-badge["):
            head = head.replace(directive, "")
        head = head.replace("]", "")
        shown = alerts.head(ALERTS_LISTED)
        lines = [head] + [f"{t('alert.' + r['level'], lang)}　{alert_text(r, lang)}" for _, r in shown.iterrows()]
        colors = [DARK] + [STATUS["red"] if r["level"] == "red" else STATUS_TEXT_AMBER for _, r in shown.iterrows()]
        if len(alerts) > ALERTS_LISTED:
            lines.append(t("brief.alerts_more", lang, n=len(alerts) - ALERTS_LISTED))
            colors.append(GREY)
        _text(s, 0.5, BODY_TOP, left_w, BODY_BOTTOM - BODY_TOP, lines, size=14, colors=colors, smallest=10)
    if annotations:
        notes = [t("brief.notes_title", lang)] + [f"{unit} · {fmt_period(month, lang)}：{text}（{author}）"
                                                  for unit, month, text, author in annotations[:12]]
        _text(s, 8.4, BODY_TOP, 4.5, BODY_BOTTOM - BODY_TOP, notes, size=13, color=GREY, smallest=10)


# ---------------------------------------------------------------- HTML

def to_html(b: Briefing, lang: str = "zh", watermark: str | None = None, annotations: list | None = None) -> str:
    """One file with plotly.js inlined: opens offline, no network fetches. `annotations`: the quarter's 批注 as
    (unit name, month, text, author), read through the viewer's scope (application/notes.py)."""
    figs = {k: on_figure(f, watermark) for k, f in build_figures(b, lang).items()}
    e = html.escape
    first = True
    chart_html = {}
    for k, f in figs.items():
        chart_html[k] = f.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False})
        first = False
    kf = kpi_frame(b, lang)
    cards = "".join(
        f'<div class="card {e(r.status)}"><div class="n">{e(r["label"])}</div><div class="v">{e(r["value"])}</div>'
        f'<div class="d">{e(t("page.overview.vs_prev", lang))} {e(r["prev"])} · {e(t("page.overview.yoy", lang, value=r["yoy"]))}</div></div>'
        for _, r in kf.iterrows())
    findings = "".join(f"<li>{e(finding_text(f, lang))}</li>" for f in b.findings)
    events = "".join(f"<p>{e(event_text(x, lang))}</p>" for x in b.events)
    inis = "".join(f"<li>{e(t(f'initiative.{r.kind}', lang))}「{e(r.title)}」（{e(r.unit_name)}）"
                   f"{e(t('brief.started' if r.event == 'started' else 'brief.finished', lang))}</li>"
                   for r in b.initiatives.head(30).itertuples()) or f"<li>{e(t('brief.no_initiatives', lang))}</li>"
    notes = "".join(f"<li>{e(t(k, lang, **v))}</li>" for k, v in b.data_notes) or f"<li>{e(t('brief.no_notes', lang))}</li>"
    banner = f'<div class="demo">{e(t("brief.synthetic", lang))}</div>' if b.synthetic else ""
    ranks = "".join(f'<div class="half">{chart_html[k]}</div>' for k in chart_html if k.startswith("rank_"))
    ev_charts = "".join(chart_html[k] for k in chart_html if k.startswith("event_"))
    title = t("brief.title", lang, quarter=quarter_label(b.quarter, lang))
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{e(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       max-width: 1280px; margin: 24px auto; color: #1f2329; padding: 0 16px; }}
h1 {{ color: {palette.BRAND}; font-size: 32px; }} h2 {{ color: {palette.BRAND}; border-bottom: 2px solid #eee; padding-bottom: 4px; }}
.demo {{ background: #fff4d6; border: 1px solid #e6c35c; padding: 10px 14px; border-radius: 6px; font-weight: bold; }}
.cards {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px; }} .card .n {{ color: #6b7280; }}
.card .v {{ font-size: 28px; font-weight: bold; }} .card .d {{ color: #6b7280; font-size: 13px; }}
.card.green .v {{ color: {palette.STATUS["green"][0]}; }} .card.amber .v {{ color: {palette.STATUS["amber"][0]}; }} .card.red .v {{ color: {palette.STATUS["red"][0]}; }}
.half {{ display: inline-block; width: 32%; vertical-align: top; }} p, li {{ line-height: 1.7; }}
.muted {{ color: #6b7280; font-size: 13px; }}
</style></head><body>{html_overlay(watermark)}
<h1>{e(title)}</h1>
<p class="muted">{e(t("brief.subtitle", lang, scope=scope_label(b, lang), n=b.n_units, date=dt.date.today().isoformat()))}</p>
{banner}
<h2>{e(t("brief.sec.kpis", lang))}</h2><div class="cards">{cards}</div>
<p><b>{e(t("brief.sec.narrative", lang))}</b>　{e(narrative(b, lang))}</p>
<h2>{e(t("brief.sec.trend", lang))}</h2>{chart_html["trend"]}
<h2>{e(t("brief.sec.quadrant", lang))}</h2>{chart_html["quadrant"]}<p class="muted">{e(t("page.overview.quadrant_note", lang))}</p>
<h2>{e(t("brief.sec.ranks", lang))}</h2>{ranks}
<h2>{e(t("brief.sec.findings", lang))}</h2><ul>{findings}</ul>{ev_charts}{events}
<h2>{e(t("brief.sec.initiatives", lang))}</h2><ul>{inis}</ul><ul class="muted">{notes}</ul>
<h2>{e(t("brief.sec.alerts", lang))}</h2>{_alerts_html(b, lang)}{_notes_html(annotations, lang)}
<p class="muted">{e(t("brief.notes_methods", lang))}</p>
</body></html>"""


ALERTS_SHOWN = 20


def _notes_html(notes: list | None, lang: str) -> str:
    if not notes:
        return ""
    e = html.escape
    items = "".join(f"<li>{e(unit)} · {e(month)}：{e(text)}（{e(author)}）</li>" for unit, month, text, author in notes)
    return f"<h3>{e(t('brief.notes_title', lang))}</h3><ul>{items}</ul>"


def _alerts_html(b: Briefing, lang: str) -> str:
    """The quarter's worst 预警, coloured by level, with how many more the overview lists."""
    from briefing.content import alert_text

    e = html.escape
    alerts = getattr(b, "alerts", None)
    if alerts is None or alerts.empty:
        return f"<p>{e(t('page.overview.alerts_none', lang))}</p>"
    colours = palette.STATUS
    items = "".join(f'<li><span style="color:{colours[r["level"]][0]};background:{colours[r["level"]][1]};'
                    f'padding:0 6px;border-radius:8px">{e(t("alert." + r["level"], lang))}</span> {e(alert_text(r, lang))}</li>'
                    for _, r in alerts.head(ALERTS_SHOWN).iterrows())
    more = (f'<p class="muted">{e(t("brief.alerts_more", lang, n=len(alerts) - ALERTS_SHOWN))}</p>'
            if len(alerts) > ALERTS_SHOWN else "")
    return f"<ul>{items}</ul>{more}"


# ---------------------------------------------------------------- PDF

PRINT_CSS = """<style>
@page { size: A4 landscape; margin: 12mm; }
@media print { body { max-width: none; margin: 0; } h2 { break-after: avoid; } .card, li { break-inside: avoid; }
               .js-plotly-plot, .plotly-graph-div { break-inside: avoid; } .modebar-container { display: none !important; } }
</style>"""


def to_pdf(b: Briefing, lang: str = "zh", watermark: str | None = None, timeout: float = 120,
           annotations: list | None = None) -> bytes:
    """The HTML briefing printed to PDF by the system Chromium (the one that renders the PPTX's images): the
    same content as the HTML export, A4 landscape, charts drawn before printing. Raises NoBrowser without it."""
    import subprocess
    import tempfile

    from briefing.figures import NoBrowser, browser_path

    chromium = browser_path()
    if not chromium:
        raise NoBrowser(t("brief.page.no_browser", "zh") + " / " + t("brief.page.no_browser", "en"))
    page = to_html(b, lang, watermark, annotations).replace("</head>", PRINT_CSS + "</head>", 1)
    with tempfile.TemporaryDirectory(prefix="pbkpi-pdf-") as tmp:
        src, out = Path(tmp) / "briefing.html", Path(tmp) / "briefing.pdf"
        src.write_text(page, encoding="utf-8")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", "--virtual-time-budget=15000",
               f"--print-to-pdf={out}", src.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            log.error("chromium could not print the briefing (exit %s): %s", proc.returncode, proc.stderr[-2000:])
            raise NoBrowser(f"Chromium 未能生成 PDF（退出码 {proc.returncode}），详见服务器日志。(PDF printing failed)")
        return out.read_bytes()


# ---------------------------------------------------------------- PNG

def to_png_zip(b: Briefing, lang: str = "zh", watermark: str | None = None) -> bytes:
    figs = {k: on_figure(f, watermark) for k, f in build_figures(b, lang).items()}
    out = io.BytesIO()
    with export_session(), zipfile.ZipFile(out, "w") as zf:
        for k, f in figs.items():
            zf.writestr(f"{b.quarter}_{k}.png", to_png(f))
    return out.getvalue()


def png_files(b: Briefing, lang: str = "zh", watermark: str | None = None) -> dict[str, bytes]:
    figs = {k: on_figure(f, watermark) for k, f in build_figures(b, lang).items()}
    with export_session():
        return {f"{b.quarter}_{k}.png": to_png(f) for k, f in figs.items()}


