"""No developer text in a Chinese view (#17): every text an AppTest run of every page exposes — markdown,
captions, notices, metric labels, widget labels and the options they show, dataframe headers and cells, and
the charts' titles, axis titles, tick labels, legend names and annotations — is checked by
tests/ui/devtext.developer_text. The browser test (tests/e2e) checks what only the browser shows: Streamlit's
own widget texts, the chart toolbar, and everything as drawn."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from tests.ui.devtext import LANGUAGE_SWITCH, developer_text
from tests.ui.test_pages import PAGES, run_page


def _chart_texts(spec: dict) -> list[str]:
    out = []
    layout = spec.get("layout", {})
    for key, value in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(value, dict):
            title = value.get("title")
            out.append(title.get("text", "") if isinstance(title, dict) else str(title or ""))
            out += [str(t) for t in value.get("ticktext") or []]
    title = layout.get("title")
    out.append(title.get("text", "") if isinstance(title, dict) else str(title or ""))
    out += [str(a.get("text", "")) for a in layout.get("annotations", [])]
    for trace in spec.get("data", []):
        out.append(str(trace.get("name") or ""))
        colorbar = trace.get("colorbar") or {}
        out += [str(t) for t in colorbar.get("ticktext") or []]
        for field in ("text", "x", "y"):
            values = trace.get(field)
            if isinstance(values, list):
                out += [str(v) for v in values if isinstance(v, str)]
    return out


MARKUP = [re.compile(r"<style>.*?</style>", re.S), re.compile(r"<[^>]+>"),  # CSS and tags
          re.compile(r":[a-z]+(?:-badge|-background)?\["), re.compile(r":material/[a-z_]+:"),  # Streamlit directives
          re.compile(r"\\(?=\S)")]  # Markdown escapes


def as_shown(text: str) -> str:
    """Markdown or a chart label as the reader sees it: without the markup around the words."""
    for pattern in MARKUP:
        text = pattern.sub(" ", text)
    return text


def visible_texts(at, skip_columns: tuple[str, ...] = ()) -> list[str]:
    out = [str(e.value) for kind in ("markdown", "caption", "info", "warning", "success", "error", "title",
                                      "subheader", "header") for e in getattr(at, kind)]
    for m in at.metric:
        out += [str(m.label), str(m.value), str(m.delta or "")]
    for w in list(at.selectbox) + list(at.multiselect) + list(at.radio):
        out.append(str(w.label))
        out += [str(o) for o in w.options]
    for w in list(at.number_input) + list(at.text_input) + list(at.checkbox) + list(at.button):
        out.append(str(w.label))
    for df in at.dataframe:
        frame = df.value
        if isinstance(frame, pd.io.formats.style.Styler):
            frame = frame.data
        frame = frame.drop(columns=[c for c in skip_columns if c in frame.columns])
        out += [str(c) for c in frame.columns]
        for col in frame.columns:
            if frame[col].isna().any():
                out.append(f"None (in the column {col})")  # the grid draws a missing cell as a grey "None"
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                out += [str(v) for v in frame[col].dropna().unique()[:200]]
    for chart in at.get("plotly_chart"):
        out += _chart_texts(json.loads(chart.proto.spec))
    return [as_shown(t) for t in out if t and t.strip() not in LANGUAGE_SWITCH]


@pytest.mark.parametrize("page", list(PAGES))
def test_no_developer_text_in_a_chinese_view(demo_db, monkeypatch, page):
    at = run_page(demo_db, page, "zh", monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    found = sorted({f"{frag} ← {text[:100]}" for text in visible_texts(at) for frag in developer_text(text)})
    assert not found, "\n".join(found)


@pytest.mark.parametrize("text, bad", [
    ("万户投诉率 complaints_per_10k", ["complaints_per_10k"]),
    ("见 catalogue/targets.toml", ["catalogue/targets.toml"]),
    ("p = 2.909e-06", ["2.909e-06"]),
    ("环比 -0.0", ["-0.0"]),
    ("开始日期 None", ["None"]),
    ("(13 unit(s) predicted below zero)", ["unit", "predicted", "below", "zero"]),
    ("Jan 2021", ["Jan"]),
])
def test_the_check_finds_what_it_should(text, bad):
    assert set(bad) <= set(developer_text(text))


@pytest.mark.parametrize("text", ["供电可靠率 RS-1（%）", "SAIDI 4.2 小时/户", "r = 0.32，q < 0.05，N = 4,012",
                                  "城东供电所（BU001）", "2024 年第 3 季度", "−0.05 个百分点", "下载 CSV", "PB-KPI Lens"])
def test_legitimate_latin_passes(text):
    assert developer_text(text) == []


@pytest.mark.parametrize("message, zh", [
    ("按单位聚类的标准误至少需要 3 个单位。(clustered SEs need at least 3 units)", "按单位聚类的标准误至少需要 3 个单位。"),
    ("CSV 中没有列 'x'；现有列：a, b。(column not found)", "CSV 中没有列 'x'；现有列：a, b。"),
    ("第 5 行日期无效（2025-13-01）", "第 5 行日期无效（2025-13-01）"),  # a Chinese parenthesis is content, kept
    ("only English (no Chinese)", "only English (no Chinese)"),  # nothing to fall back to: kept whole
])
def test_error_messages_drop_their_english_gloss_in_a_chinese_view(message, zh):
    from catalogue.formats import for_reader

    assert for_reader(message, "zh") == zh
    assert for_reader(message, "en") == message  # the English view keeps the specifics and the gloss
    if message != zh:
        assert developer_text(for_reader(message, "zh")) in ([], ["x", "a", "b"])  # (column names quoted from a file)
