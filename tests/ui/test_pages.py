"""Every page through streamlit.testing.v1.AppTest: zh and en, demo and empty warehouse, filters and URL."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from catalogue import t
from tests.ui.screen import cards
from ui import state

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = {
    "pages/overview_page.py": "page.overview.title",
    "pages/unit_profile_page.py": "page.profile.title",
    "pages/relationships_page.py": "page.rel.title",
    "pages/tests_page.py": "page.tests.title",
    "pages/whatif_page.py": "page.whatif.title",
    "pages/data_page.py": "page.data.title",
    "pages/briefing_page.py": "brief.page.title",
    "pages/screen_page.py": "page.screen.title",
}


def run_page(db, page: str, lang: str = "zh", params: dict | None = None, monkeypatch=None) -> AppTest:
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = lang
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(page)
    at.run()
    return at


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info] + \
            [w.value for w in at.warning] + [s.value for s in at.success] + [e.value for e in at.error]
    return "\n".join(map(str, parts))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", list(PAGES))
def test_page_on_demo(demo_db, monkeypatch, page, lang):
    at = run_page(demo_db, page, lang, monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t(PAGES[page], lang)
    assert t("app.demo_banner", lang) in [w.value for w in at.warning]
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", list(PAGES))
def test_page_on_empty_warehouse(empty_db, monkeypatch, page, lang):
    at = run_page(empty_db, page, lang, monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t(PAGES[page], lang)
    if page != "pages/data_page.py":
        assert t("app.empty", lang) in [i.value for i in at.info]


def test_overview_cards_and_quadrant(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/overview_page.py", monkeypatch=monkeypatch, params={"grain": "quarter"})
    shown = cards(at)
    assert len(shown) == 9 and any("供电可靠率" in c["name"] for c in shown) and any("万户投诉率" in c["name"] for c in shown)
    assert all(c["value"] and c["value"] != "—" for c in shown)
    assert {c["badge"] for c in shown} <= {"达标", "接近", "未达标", ""} and any(c["badge"] for c in shown)
    assert all("目标" in c["text"] for c in shown if c["badge"])
    assert at.selectbox(key="ov_quarter").value == "2025Q4"
    counts = next(d.value for d in at.dataframe if "象限" in d.value.columns[0])
    assert counts.iloc[:, 1].sum() == 68  # every business unit sits in one quadrant


def test_filters_change_what_is_shown(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/overview_page.py", monkeypatch=monkeypatch, params={"grain": "quarter"})
    quadrants = lambda: next(d.value for d in at.dataframe if "象限" in d.value.columns[0])  # noqa: E731
    all_units = quadrants().iloc[:, 1].sum()
    at.multiselect(key="f_regions").set_value(["农村"]).run()
    rural = quadrants().iloc[:, 1].sum()
    assert 0 < rural < all_units
    assert at.query_params["region"] == ["农村"] or at.query_params["region"] == "农村"
    # changing one filter leaves the others alone
    at.radio(key="f_grain").set_value("month").run()
    assert at.multiselect(key="f_regions").value == ["农村"]


def test_query_params_round_trip_and_rejects_unknown(demo_db, monkeypatch):
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=180)
    for k, v in {"grain": "month", "type": "供电所,<script>", "unit": "BU002", "from": "2023-01"}.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    notice = texts(at)
    assert "\\<script\\>" in notice and "已忽略" in notice  # named in the notice, escaped: shown as text
    at.switch_page("pages/relationships_page.py")
    at.run()
    assert not at.exception
    assert at.multiselect(key="f_types").value == ["供电所"]
    assert at.selectbox(key="f_unit").value == "BU002"
    assert at.selectbox(key="f_start").value == "2023-01"
    qp = {k: at.query_params[k] for k in at.query_params}
    flat = {k: (v[0] if isinstance(v, list) else v) for k, v in qp.items()}
    assert flat["type"] == "供电所" and flat["unit"] == "BU002" and flat["from"] == "2023-01"
    assert "<script>" not in str(qp)


def test_relationships_within_vs_pooled(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/relationships_page.py", monkeypatch=monkeypatch, params={"grain": "month"})
    comp = at.dataframe[0].value
    assert list(comp.iloc[:, 0]) == ["混合样本", "单位内部"]
    at.selectbox(key="rel_x").set_value("activities_total").run()
    at.number_input(key="rel_lag").set_value(0).run()
    comp = at.dataframe[0].value
    pooled_r, within_r = comp["r"].tolist()
    assert pooled_r > 0.15 and within_r < 0.05  # the planted confounder shows, and is called out
    assert t("page.rel.pooled_only", "zh") in texts(at)


def test_tests_page_reports_twfe_and_event_study(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/tests_page.py", monkeypatch=monkeypatch, params={"grain": "month"})
    table = at.dataframe[0].value
    assert "主题党日次数" in table.iloc[0, 0]
    assert "不是因果证明" in texts(at)           # the TWFE summary never claims cause
    downloads = {b.key for b in at.get("download_button")}
    for tab in ("event", "direction", "diagnostics"):  # each tab's results (only the open one is drawn)
        at.session_state["ts_tab"] = tab
        at.run()
        assert not at.exception
        if tab == "event":
            assert "与存在效应一致" in texts(at)  # the event study passes its pre-trend test on the demo
        downloads |= {b.key for b in at.get("download_button")}
    assert downloads == {"dl_twfe", "dl_es", "dl_rev"}


def test_the_twfe_sentence_is_green_only_for_an_association(demo_db, monkeypatch):
    """The TWFE conclusion's box follows the fit's verdict: green (success) only when an input's 95% interval
    excludes zero, blue (info) for a null. A null must not look like a finding. Swept over KPIs until the demo
    has given both kinds (its planted effects and its nulls)."""
    caveat, seen = t("sum.fit.caveat", "zh"), set()
    for y in ["complaints_per_10k", "saidi", "satisfaction", "bill_recovery", "line_loss", "rs1"]:
        at = run_page(demo_db, "pages/tests_page.py", monkeypatch=monkeypatch, params={"grain": "month", "ts_y": y})
        assert not at.exception
        assert at.selectbox(key="ts_y").value == y
        green = [s.value for s in at.success if caveat in s.value]
        blue = [i.value for i in at.info if caveat in i.value]
        assert len(green) + len(blue) == 1, (y, green, blue)
        bounds = [tuple(float(v.replace("−", "-").replace("+", "")) for v in ci.split(" – "))
                  for ci in at.dataframe[0].value[t("table.ci", "zh")]]
        associated = any(not lo <= 0 <= hi for lo, hi in bounds)
        assert bool(green) == associated, (y, bounds, green, blue)
        seen.add(associated)
    assert seen == {True, False}, "the sweep never reached one of the two verdicts"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_failing_page_body_shows_the_calm_message_and_logs_its_reference(demo_db, monkeypatch, caplog, lang):
    """A page body raising (here the relationships view) shows the translated message with a reference, no
    traceback, and the log holds the traceback under that reference."""
    from application.views import relationships

    def broken(*a, **k):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(relationships, "view", broken)
    with caplog.at_level("ERROR", logger="pbkpi.app"):
        at = run_page(demo_db, "pages/relationships_page.py", lang, monkeypatch=monkeypatch)
    assert not at.exception
    prefix = t("app.unexpected", lang, ref="@").split("@")[0]
    (shown,) = [e.value for e in at.error if e.value.startswith(prefix)]
    ref = re.search(r"[0-9a-f]{8}", shown[len(prefix):]).group(0)
    (record,) = [r for r in caplog.records if ref in r.getMessage()]
    assert "planted failure" in str(record.exc_info[1])


def test_whatif_page_predicts_with_ci(demo_db, monkeypatch):
    at = run_page(demo_db, "pages/whatif_page.py", monkeypatch=monkeypatch,
                  params={"grain": "month", "region": "农村", "type": "供电所"})
    assert not at.exception
    vals = [m.value for m in at.metric]
    # per scenario: the mean change of the rate and the quarter's count of complaints, both fewer
    assert len(vals) == 4 and all(v.startswith("−") for v in vals)
    assert sum("件投诉" in m.label for m in at.metric) == 2
    assert "95% CI" in texts(at)
    at.slider(key="sa_theme_days_abs").set_value(5.0).run()
    assert at.metric[0].value != vals[0]


def test_whatif_answers_in_decision_terms(demo_db, monkeypatch):
    """"If every branch held its theme party days as the rules require, about how many fewer complaints a
    quarter?" — scenario A brings every branch up to the required frequency, B the bottom quarter to the median;
    each answers in complaints a quarter, from the same numbers the view computes. Where every unit already
    complies (the demo's rural 供电所), the page says so calmly instead of predicting a change of 0."""
    from application.context import Context
    from application.views import whatif
    from analytics.summaries import summarize_whatif_counts

    rural = run_page(demo_db, "pages/whatif_page.py", monkeypatch=monkeypatch,
                     params={"grain": "month", "region": "农村", "type": "供电所", "sa_mode": "required", "sb_mode": "median"})
    assert not rural.exception and not rural.error and sum("都已达到" in i.value for i in rural.info) == 2
    at = run_page(demo_db, "pages/whatif_page.py", monkeypatch=monkeypatch,
                  params={"grain": "month", "sa_mode": "required", "sb_mode": "median"})
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    sel = at.session_state["selection"]
    vm = whatif.view(Context.open(demo_db, disk=False), sel,
                     whatif.Params("complaints_per_10k", ("theme_days",), 1, whatif.Scenario("required", (("theme_days", 0.0),)),
                                   whatif.Scenario("median", (("theme_days", 0.0),))))
    for key in ("sa", "sb"):
        r = vm.scenarios[key]
        assert r.counts is not None and r.counts["baseline"] > 0
        assert summarize_whatif_counts(r, "zh") in texts(at)  # the sentence on the page is the result's
    # up to the required frequency: each unit's change is its branches × 1 a month above what it held
    ctx = Context.open(demo_db, disk=False)
    levels = whatif.required_levels(ctx, "theme_days", 1)
    base = ctx.snapshot.latest(sel)
    held = dict(zip(base["business_unit_id"], base["theme_days"]))
    b = vm.model.value.coefficients[0].estimate
    for row in vm.scenarios["sa"].per_unit.itertuples():
        change = max(levels[row.unit] - held[row.unit], 0)
        assert row.delta == pytest.approx(max(b * change, -row.baseline), abs=1e-9)  # (a rate is never cut below 0)


@pytest.mark.parametrize("page", ["pages/overview_page.py", "pages/relationships_page.py", "pages/tests_page.py",
                                  "pages/whatif_page.py", "pages/data_page.py"])
def test_a_page_run_builds_no_csv_until_a_download_is_clicked(demo_db, monkeypatch, page):
    """Every CSV download is built when its button is clicked (ui/layout.download_csv), not on every run of
    the page: it cost 5-20 ms a table in every rerun. The pages still offer their downloads."""
    import briefing.safe_export as safe_export

    built = []
    real = safe_export.to_safe_csv
    monkeypatch.setattr(safe_export, "to_safe_csv", lambda df: built.append(len(df)) or real(df))
    at = run_page(demo_db, page, monkeypatch=monkeypatch, params={"grain": "quarter"})
    assert not at.exception, [e.value for e in at.exception]
    offered = len(at.get("download_button"))
    key = {"pages/overview_page.py": "ov_tab", "pages/relationships_page.py": "rel_tab", "pages/tests_page.py": "ts_tab"}.get(page)
    for tab in state.TABS[key][1:] if key else ():  # and in each of the page's other tabs
        at.session_state[key] = tab
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        offered += len(at.get("download_button"))
    assert offered, "the page offers no download"
    assert built == [], f"{len(built)} CSV(s) built by a page run"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_briefing_lists_the_first_initiatives_and_offers_them_all(demo_db, monkeypatch, lang):
    """The briefing's initiatives table lists the first `INITIATIVES_SHOWN` (by start date) and says how many
    there are; the full list is a CSV built on click (at group scale all of them were 1.9 MB a run). Swept over
    the quarters, the cap set below the demo's counts so that both sides of it are reached."""
    from application.context import Context
    from application.selection import Selection
    from application.views import briefing as view

    monkeypatch.setattr(view, "INITIATIVES_SHOWN", 3)
    ctx = Context.open(demo_db, disk=False)
    at = run_page(demo_db, "pages/briefing_page.py", lang=lang, monkeypatch=monkeypatch)
    reached = set()
    for quarter in view.options(ctx)["quarter"][-6:]:
        at.selectbox(key="br_quarter").set_value(quarter).run()
        assert not at.exception, [e.value for e in at.exception]
        b = view.view(ctx, Selection("month"), view.Params(quarter)).result.value
        n = len(b.initiatives)
        said = t("brief.initiatives_shown", lang).split("{")[0]
        captions = [c.value for c in at.caption if c.value.startswith(said)]
        if n == 0:
            assert t("brief.no_initiatives", lang) in [c.value for c in at.caption]
            continue
        table = next(d.value for d in at.dataframe if t("table.title", lang) in d.value.columns)
        assert list(table[t("table.title", lang)]) == list(b.initiatives["title"].head(3))
        assert captions == ([t("brief.initiatives_shown", lang).format(shown=3, total=n)] if n > 3 else []), (n, captions)
        reached.add(n > 3)
        assert at.get("download_button"), "no CSV of the initiatives"
    assert True in reached, "no quarter had more initiatives than the table lists"
