"""Quarterly briefing: content matches the dashboard's numbers; each export format is real and safe."""
import io
import re
import subprocess
import sys
import zipfile

import duckdb
import numpy as np
import pytest

from analytics.rollup import rollup
from application.warehouse import open_snapshot, read_panel
from briefing.content import BriefingError, build, narrative
from briefing.figures import browser_path
from etl.load import load_files
from tests.etl.files import ORG_HEADER, write_csv

needs_browser = pytest.mark.skipif(browser_path() is None, reason="static export needs the system Chromium")


@pytest.fixture(scope="module")
def brief(demo_db):
    return build(open_snapshot(demo_db), "2025Q4")


def test_kpis_match_dashboard_rollup(demo_db, brief):
    totals = rollup(read_panel(demo_db, "quarter").df, ["period"]).set_index("period")
    for k in brief.kpis:
        assert k.value == pytest.approx(totals.loc["2025Q4", k.id])
        assert k.prev == pytest.approx(totals.loc["2025Q3", k.id])
    assert brief.synthetic and brief.n_units == 68


def test_findings_are_bh_corrected_and_named_in_narrative(brief):
    qs = [f.q_value for f in brief.findings]
    assert all(q >= f.p_value for q, f in zip(qs, brief.findings))
    supported = {(f.x, f.y) for f in brief.findings if f.supported}
    assert ("theme_days", "complaints_per_10k") in supported and ("study_hours", "sales_mwh") not in supported
    text = narrative(brief, "zh")
    assert "不是因果证明" in text and "合成演示数据" in text and "万户投诉率" in text
    mover = brief.movers["business_unit_name"].iloc[0] if len(brief.movers) else None
    assert mover is None or any(n in text for n in brief.movers["business_unit_name"])


def test_no_data_quarter(demo_db):
    with pytest.raises(BriefingError, match="2030Q1 没有数据"):
        build(open_snapshot(demo_db), "2030Q1")
    with pytest.raises(BriefingError, match="季度格式"):
        build(open_snapshot(demo_db), "2025-10")
    out = subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2030Q1", "--db", str(demo_db), "--out", "/tmp/x.pptx"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "没有数据" in out.stderr


def test_html_is_self_contained(demo_db, tmp_path):
    out = tmp_path / "b.html"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(demo_db), "--format", "html",
                    "--out", str(out)], check=True, capture_output=True)
    html = out.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "2025年第4季度党建与经营融合分析简报" in html and "合成演示数据" in html
    assert html.count("Plotly.newPlot") >= 5


@needs_browser
def test_pptx_deck(demo_db, tmp_path):
    from pptx import Presentation
    from pptx.oxml.ns import qn

    out = tmp_path / "b.pptx"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(demo_db), "--format", "pptx",
                    "--out", str(out)], check=True, capture_output=True)
    prs = Presentation(str(out))
    slides = list(prs.slides)
    assert len(slides) == 8  # title, then 一 … 七 as on the page and in the HTML
    pictures = [sh for s in slides for sh in s.shapes if sh.shape_type == 13]
    assert len(pictures) >= 6
    for s in slides:
        assert s.notes_slide.notes_text_frame.text.strip()
        text = " ".join(sh.text_frame.text for sh in s.shapes if sh.has_text_frame)
        assert "合成演示数据" in text  # every slide says the data is synthetic
    runs = [r for s in slides for sh in s.shapes if sh.has_text_frame for p in sh.text_frame.paragraphs for r in p.runs]
    assert all(r._r.rPr.find(qn("a:ea")) is not None for r in runs)  # East-Asian typeface set on every run
    assert "2025年第4季度党建与经营融合分析简报" in slides[0].shapes[0].text_frame.text


@needs_browser
@pytest.mark.parametrize("lang,title", [("zh", "2025年第4季度党建与经营融合分析简报"), ("en", "Q4 2025")])
def test_pdf_has_the_html_content_on_several_pages(demo_db, tmp_path, lang, title):
    from pypdf import PdfReader

    out = tmp_path / "b.pdf"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(demo_db), "--format", "pdf",
                    "--out", str(out), "--lang", lang], check=True, capture_output=True)
    reader = PdfReader(str(out))
    assert 3 <= len(reader.pages) <= 20
    import unicodedata

    # NFKC: the extractor reads some CJK glyphs as Kangxi radicals (⼀ for 一) and Latin ligatures as ﬁ
    text = unicodedata.normalize("NFKC", "".join(p.extract_text() for p in reader.pages))
    normal = "".join(text.split())
    assert "".join(title.split()) in normal
    # the same sections as the HTML, in order, and the synthetic-data notice
    from catalogue import t

    positions = [normal.find(unicodedata.normalize("NFKC", "".join(t(k, lang).split()))[:4]) for k in
                 ("brief.sec.kpis", "brief.sec.trend", "brief.sec.quadrant", "brief.sec.ranks", "brief.sec.findings")]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert unicodedata.normalize("NFKC", "".join(t("brief.synthetic", lang).split()))[:8] in normal


@needs_browser
def test_png_charts(demo_db, tmp_path):
    from PIL import Image

    out = tmp_path / "charts.zip"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(demo_db), "--format", "png",
                    "--out", str(out), "--lang", "en"], check=True, capture_output=True)
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert any("quadrant" in n for n in names) and any("trend" in n for n in names)
        for n in names:
            im = Image.open(io.BytesIO(zf.read(n))).convert("L")
            assert im.size == (1600, 900)
            assert np.asarray(im).std() > 5  # not blank


def test_hostile_names_are_escaped_and_neutralised(tmp_path):
    db = tmp_path / "w.duckdb"
    rows = [["P1", "党委", "", "党委", "", "", "机关", "城区", ""]]
    names = ["<img src=x onerror=alert(1)>", "=HYPERLINK(\"http://x\")", "正常供电所", "另一供电所"]
    for i, n in enumerate(names):
        rows.append([f"B{i}", f"{n}支部", "P1", "党支部", f"BU{i}", n, "供电所", "城区", ""])
    kpi = [[f"BU{i}", f"2024-{m:02d}", 1000 * (i + 1), i + m % 2, 80 + i] for i in range(4) for m in (7, 8, 9)]
    load_files([write_csv(tmp_path / "o.csv", ORG_HEADER, rows),
                write_csv(tmp_path / "k.csv", ["业务单元编码", "月份", "用户数", "投诉件数", "客户满意度"], kpi)], db)
    b = build(open_snapshot(db), "2024Q3")
    from briefing.export import to_html

    html = to_html(b, "zh")
    assert "<img src=x onerror" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    if browser_path():
        from pptx import Presentation
        from briefing.export import to_pptx

        prs = Presentation(io.BytesIO(to_pptx(b, "zh")))
        texts = [sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame]
        assert not any(t.startswith("=") for t in texts)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM dim_units WHERE unit_name LIKE '<img%'").fetchall()[0][0] == 1  # stored as text
    con.close()


def test_exports_carry_the_viewers_watermark(brief):
    """Every PPTX slide, every PNG chart and the HTML page carry the watermark text when one is given;
    without one (the operators' CLI) none."""
    pytest.importorskip("pptx")
    from briefing import export
    from briefing.figures import build_figures
    from briefing.watermark import on_figure

    mark = "李书记 li 2026-12-01 09:30 内部资料"
    html_text = export.to_html(brief, "zh", mark)
    assert 'class="watermark"' in html_text and html_text.count("watermark") >= 1
    assert 'class="watermark"' not in export.to_html(brief, "zh")
    for fig in build_figures(brief, "zh").values():
        marked = on_figure(fig, mark)
        assert sum(mark in (a.text or "") for a in marked.layout.annotations) == 6
        assert not any(mark in (a.text or "") for a in fig.layout.annotations)  # the shared figure is untouched
    if browser_path():
        from pptx import Presentation

        prs = Presentation(io.BytesIO(export.to_pptx(brief, "zh", mark)))
        assert all(sum(sh.name == "watermark" and mark in sh.text_frame.text for sh in s.shapes) == 6 for s in prs.slides)


def test_the_briefing_carries_the_overviews_alerts(demo_db, brief):
    """预警 in the briefing are the overview's for the same quarter and scope (one computation, two readers)."""
    from application import statistics as stats
    from application.selection import Selection
    from briefing import export
    from briefing.content import alert_text

    overview = stats.alerts(open_snapshot(demo_db), Selection("quarter"), "2025Q4")
    assert len(brief.alerts) == len(overview) > 0
    assert list(brief.alerts["kind"]) == list(overview["kind"]) and list(brief.alerts["level"]) == list(overview["level"])
    html = export.to_html(brief, "zh")
    assert "七、预警" in html and alert_text(brief.alerts.iloc[0], "zh").split("：")[0] in html
    assert "Alerts: branches" in export.to_html(brief, "en")
