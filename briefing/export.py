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

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.oxml.ns import qn
from pptx.util import Inches, Pt

from briefing.content import Briefing, event_text, finding_text, narrative, quarter_label
from briefing.figures import build_figures, export_session, kpi_frame, to_png
from briefing.safe_export import neutralise
from briefing.watermark import html_overlay, on_figure, on_slide
from catalogue import t

log = logging.getLogger(__name__)

FONT_LATIN = "Microsoft YaHei"
FONT_EA = "Microsoft YaHei"
RED = RGBColor(0xC8, 0x10, 0x2E)
GREY = RGBColor(0x6B, 0x72, 0x80)
DARK = RGBColor(0x1F, 0x23, 0x29)
STATUS = {"green": RGBColor(0x2E, 0x8B, 0x57), "amber": RGBColor(0xD4, 0xA0, 0x17), "red": RED}


def scope_label(b: Briefing, lang: str) -> str:
    s = b.scope
    parts = [*(t(f"unit_type.{x}", lang) for x in s.unit_types), *(t(f"region.{x}", lang) for x in s.regions), *s.units]
    return " · ".join(parts) if parts else t("brief.scope_all", lang)


# ---------------------------------------------------------------- PPTX

def _set_font(run, size: int, bold: bool = False, color: RGBColor = DARK) -> None:
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


def _text(slide, left, top, width, height, paragraphs, size=18, bold=False, color=DARK):
    box = slide.shapes.add_textbox(left, top, width, height)
    tf = box.text_frame
    tf.word_wrap = True
    for i, p in enumerate(paragraphs if isinstance(paragraphs, list) else [paragraphs]):
        para = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        para.space_after = Pt(6)
        run = para.add_run()
        run.text = neutralise(str(p))
        _set_font(run, size, bold, color)
    return box


def _slide(prs, b: Briefing, title: str, lang: str, notes: str):
    s = prs.slides.add_slide(prs.slide_layouts[6])
    _text(s, Inches(0.5), Inches(0.3), Inches(12.3), Inches(0.8), title, size=28, bold=True, color=RED)
    footer = quarter_label(b.quarter, lang) + " · PB-KPI Lens"
    if b.synthetic:
        footer += " · " + t("brief.synthetic_mark", lang)
    _text(s, Inches(0.5), Inches(7.0), Inches(12.3), Inches(0.4), footer, size=11, color=GREY)
    s.notes_slide.notes_text_frame.text = notes
    return s


def _image(slide, png: bytes, left, top, width):
    slide.shapes.add_picture(io.BytesIO(png), left, top, width=width)


def to_pptx(b: Briefing, lang: str = "zh", watermark: str | None = None) -> bytes:
    figs = {k: on_figure(f, watermark) for k, f in build_figures(b, lang).items()}
    with export_session():
        images = {k: to_png(f, 720, 820) if k.startswith("rank_") else to_png(f) for k, f in figs.items()}
    methods = t("brief.notes_methods", lang)
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)

    title = t("brief.title", lang, quarter=quarter_label(b.quarter, lang))
    s = prs.slides.add_slide(prs.slide_layouts[6])
    _text(s, Inches(0.8), Inches(2.3), Inches(11.7), Inches(1.4), title, size=40, bold=True, color=RED)
    _text(s, Inches(0.8), Inches(3.8), Inches(11.7), Inches(0.6),
          t("brief.subtitle", lang, scope=scope_label(b, lang), n=b.n_units, date=dt.date.today().isoformat()), size=18, color=GREY)
    if b.synthetic:
        _text(s, Inches(0.8), Inches(4.6), Inches(11.7), Inches(0.6), t("brief.synthetic", lang), size=18, bold=True, color=RED)
    s.notes_slide.notes_text_frame.text = methods

    s = _slide(prs, b, t("brief.sec.kpis", lang), lang, methods)
    kf = kpi_frame(b, lang)
    for i, row in kf.iterrows():
        col, r = i % 4, i // 4
        left, top = Inches(0.5 + col * 3.1), Inches(1.2 + r * 1.55)
        color = STATUS.get(row.status, DARK)
        _text(s, left, top, Inches(2.9), Inches(0.4), row["label"], size=13, color=GREY)
        _text(s, left, top + Inches(0.35), Inches(2.9), Inches(0.6), row["value"], size=26, bold=True, color=color)
        _text(s, left, top + Inches(0.95), Inches(2.9), Inches(0.4),
              f"{t('page.overview.vs_prev', lang)} {row['prev']} · {t('page.overview.yoy', lang, value=row['yoy'])}", size=12, color=GREY)
    _text(s, Inches(0.5), Inches(4.4), Inches(12.3), Inches(2.5), narrative(b, lang), size=14)

    s = _slide(prs, b, t("brief.sec.trend", lang), lang, methods + "\n\n" + t("page.overview.index_note", lang))
    _image(s, images["trend"], Inches(1.65), Inches(1.1), Inches(10.0))

    s = _slide(prs, b, t("brief.sec.quadrant", lang), lang, t("page.overview.quadrant_note", lang))
    _image(s, images["quadrant"], Inches(0.4), Inches(1.1), Inches(8.0))
    counts = b.quadrant["quadrant"].value_counts()
    lines = [f"{t(f'quadrant.{q}', lang)}：{int(counts.get(q, 0))}" if lang == "zh" else
             f"{t(f'quadrant.{q}', lang)}: {int(counts.get(q, 0))}" for q in ("both_strong", "pb_strong_biz_weak",
                                                                              "biz_strong_pb_weak", "both_weak")]
    if len(b.movers):
        lines.append(t("page.overview.movers", lang, n=len(b.movers)).replace("**", ""))
        for r in b.movers.head(8).itertuples():
            lines.append(f"{r.business_unit_name}：{t(f'quadrant.{r.before}', lang)} → {t(f'quadrant.{r.after}', lang)}")
    _text(s, Inches(8.6), Inches(1.3), Inches(4.4), Inches(5.5), lines, size=13)

    s = _slide(prs, b, t("brief.sec.ranks", lang), lang, t("page.overview.funnel_note", lang))
    for i, mid in enumerate(b.ranks):
        _image(s, images[f"rank_{mid}"], Inches(0.3 + i * 4.3), Inches(1.3), Inches(4.2))

    s = _slide(prs, b, t("brief.sec.findings", lang), lang, methods)
    _text(s, Inches(0.5), Inches(1.1), Inches(6.3), Inches(5.6), [finding_text(f, lang) for f in b.findings], size=13)
    if b.events:
        _image(s, images["event_0"], Inches(7.0), Inches(1.2), Inches(5.9))
        _text(s, Inches(7.0), Inches(4.75), Inches(5.9), Inches(2.0), event_text(b.events[0], lang), size=11)

    s = _slide(prs, b, t("brief.sec.initiatives", lang), lang, methods)
    lines = []
    for r in b.initiatives.head(12).itertuples():
        ev = t("brief.started" if r.event == "started" else "brief.finished", lang)
        lines.append(f"{t(f'initiative.{r.kind}', lang)}「{r.title}」（{r.unit_name}）{ev}")
    if len(b.initiatives) > 12:
        lines.append(f"… +{len(b.initiatives) - 12}")
    _text(s, Inches(0.5), Inches(1.1), Inches(7.2), Inches(5.7), lines or [t("brief.no_initiatives", lang)], size=13)
    notes = [t(k, lang, **v) for k, v in b.data_notes] or [t("brief.no_notes", lang)]
    _text(s, Inches(8.0), Inches(1.1), Inches(4.9), Inches(5.7), notes, size=13, color=GREY)

    for slide in prs.slides:
        on_slide(slide, prs, watermark)
    out = io.BytesIO()
    prs.save(out)
    return out.getvalue()


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
h1 {{ color: #C8102E; font-size: 32px; }} h2 {{ color: #C8102E; border-bottom: 2px solid #eee; padding-bottom: 4px; }}
.demo {{ background: #fff4d6; border: 1px solid #e6c35c; padding: 10px 14px; border-radius: 6px; font-weight: bold; }}
.cards {{ display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }}
.card {{ border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px; }} .card .n {{ color: #6b7280; }}
.card .v {{ font-size: 28px; font-weight: bold; }} .card .d {{ color: #6b7280; font-size: 13px; }}
.card.green .v {{ color: #2E8B57; }} .card.amber .v {{ color: #D4A017; }} .card.red .v {{ color: #C8102E; }}
.half {{ display: inline-block; width: 32%; vertical-align: top; }} p, li {{ line-height: 1.7; }}
.muted {{ color: #6b7280; font-size: 13px; }}
</style></head><body>{html_overlay(watermark)}
<h1>{e(title)}</h1>
<p class="muted">{e(t("brief.subtitle", lang, scope=scope_label(b, lang), n=b.n_units, date=dt.date.today().isoformat()))}</p>
{banner}
<h2>{e(t("brief.sec.kpis", lang))}</h2><div class="cards">{cards}</div>
<h2>{e(t("brief.sec.narrative", lang))}</h2><p>{e(narrative(b, lang))}</p>
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
    colours = {"red": ("#cf222e", "#ffebe9"), "amber": ("#9a6700", "#fff8c5")}
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


