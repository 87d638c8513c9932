"""Every page, export and command line under every industry profile (#20), in both languages, in that
industry's own words: an oilfield's or a plant's dashboard shows its KPIs, its unit types and areas, and
nothing of power supply. The page state space is swept under each profile as on the power demo
(tests/ui/test_state_space.py, whose default-figures test also runs under each profile): calm, and the figures
on screen are the view model's."""
from __future__ import annotations

import re
import subprocess
from html import unescape
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import catalogue
from tests.ui.screen import cards
from tests.ui.test_developer_text import visible_texts
from tests.ui.test_pages import PAGES, run_page
from tests.ui.test_state_space import MONTHS, REGIONS, STATE_SETTINGS, UNIT_TYPES, assert_calm, run, shown_numbers, view_numbers

OTHERS = ["oilfield", "plant"]
# power supply's words: none may reach an oilfield's or a plant's reader
POWER_WORDS = {
    "zh": ["供电", "停电", "售电", "线损", "电费", "95598", "可靠率", "用户数", "万户", "户均", "台风", "变电", "输电"],
    "en": ["SAIDI", "SAIFI", "CAIDI", "RS-1", "outage", "customers", "electricity", "typhoon", "supply", "line loss"],
}


def power_words(texts: list[str], lang: str) -> list[str]:
    return sorted({f"{w} ← {t[:90]}" for t in texts for w in POWER_WORDS[lang] if re.search(re.escape(w), t, re.I)})


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("profile", OTHERS)
def test_every_page_speaks_its_industry(request, monkeypatch, profile, page, lang):
    db = request.getfixturevalue(f"{profile}_db")
    at = run_page(db, page, lang, monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at) + [c["text"] for c in cards(at)]
    assert not power_words(texts, lang), "\n".join(power_words(texts, lang))
    with catalogue.using(profile) as prof:
        if page.endswith("overview_page.py"):  # the cards are the profile's, by name
            joined = "\n".join(texts)
            for mid in prof.defaults["cards"]:
                assert catalogue.metric(mid).name(lang) in joined, mid
        if page.endswith("data_page.py"):  # the KPI file's extra column waits to be defined
            header = "措施增油" if profile == "oilfield" else "专利授权数"
            assert any(header in t for t in texts)


selection = st.fixed_dictionaries({
    "profile": st.sampled_from(OTHERS),
    "page": st.sampled_from(["overview", "unit_profile", "relationships", "tests", "whatif", "briefing", "data", "screen"]),
    "lang": st.sampled_from(["zh", "en"]),
    "grain": st.sampled_from(["month", "quarter"]),
    "types": st.lists(st.sampled_from(UNIT_TYPES), max_size=2, unique=True),
    "regions": st.lists(st.sampled_from(REGIONS), max_size=2, unique=True),
    "unit": st.sampled_from([None, "BU001", "BU002", "BU999"]),
    "org": st.sampled_from([None, None, "P000", "P东部", "P一分厂", "nowhere"]),
    "range": st.tuples(st.integers(0, len(MONTHS) - 1), st.integers(0, len(MONTHS) - 1)),
})


@STATE_SETTINGS
@given(sel=selection)
def test_every_selection_under_every_profile(request, monkeypatch, sel):
    db = request.getfixturevalue(f"{sel['profile']}_db")
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = run(db, sel)
    assert_calm(at, sel["lang"])
    assert shown_numbers(at, sel["page"]) == view_numbers(db, at, sel["page"], sel["lang"])


@pytest.mark.parametrize("profile", OTHERS)
def test_the_briefing_and_the_statistics_cli_in_the_industrys_terms(request, tmp_path, profile):
    db = request.getfixturevalue(f"{profile}_db")
    for lang in ("zh", "en"):
        out = tmp_path / f"brief_{lang}.html"
        subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(db), "--format", "html",
                        "--lang", lang, "--out", str(out)], check=True, capture_output=True)
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", out.read_text(encoding="utf-8"), flags=re.S)
        html = unescape(re.sub(r"<[^>]+>", " ", page))  # what a reader sees (not the embedded chart library)
        with catalogue.using(profile) as prof:
            for mid in prof.doc["briefing"]["headline"]:
                assert catalogue.metric(mid).name(lang) in html, mid
        assert not power_words([html], lang), power_words([html], lang)[:5]
    pptx = tmp_path / "brief.pptx"
    subprocess.run([sys.executable, "-m", "briefing", "--quarter", "2025Q4", "--db", str(db), "--format", "pptx",
                    "--out", str(pptx)], check=True, capture_output=True)
    assert pptx.stat().st_size > 20_000
    res = subprocess.run([sys.executable, "-m", "analytics", "correlate", "--db", str(db), "--json"],
                         check=True, capture_output=True, text=True)
    with catalogue.using(profile) as prof:
        assert prof.defaults["kpi"] in res.stdout and "saidi" not in res.stdout  # the industry's KPIs


def test_an_administrator_defines_a_metric_on_the_data_page_and_every_page_has_it(oilfield_db, tmp_path, monkeypatch):
    """The Data page's form: the oilfield KPI file's 措施增油 column becomes a KPI the statistics pages offer,
    without reloading anything (a copy of the demo: the definition writes)."""
    import shutil

    db = tmp_path / "oil.duckdb"
    shutil.copy(oilfield_db, db)
    at = run_page(db, "pages/data_page.py", "zh", monkeypatch=monkeypatch)
    assert not at.exception
    at.selectbox(key="dm_source").set_value(next(o for o in at.selectbox(key="dm_source").options if "措施增油" in o))
    at.selectbox(key="dm_kind").set_value("total")
    at.text_input(key="dm_id").input("stim_oil")
    at.text_input(key="dm_zh").input("措施增油")
    at.text_input(key="dm_en").input("Incremental oil")
    at.text_input(key="dm_unit_zh").input("t")
    at.text_input(key="dm_unit_en").input("t")
    next(b for b in at.button if b.label == catalogue.t("page.data.metric.save", "zh")).click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("stim_oil" in s.value for s in at.success)
    rel = run_page(db, "pages/relationships_page.py", "en", monkeypatch=monkeypatch)
    assert "Incremental oil (t)" in rel.selectbox(key="rel_y").options  # AppTest lists the labels shown
