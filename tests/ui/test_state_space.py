"""Every selection the interface offers, on every page, is calm: drawn at random from the whole space —
business types and areas (all the contract's values, offered or not), a unit, grain, period range,
language — on the demo warehouse and on a company's first week (a handful of units, a few months, no
initiatives, no outages). No exception element, no traceback, no unexpected-error notice."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from tests.ui.screen import cards
from catalogue import metrics, profiles, t, using
from ui import state

# every industry's unit types and areas (offered or not: a link from another warehouse may carry any)
UNIT_TYPES = sorted({v["zh"] for p in profiles().values() for v in p.values("unit_type")})
REGIONS = sorted({v["zh"] for p in profiles().values() for v in p.values("region")})

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["overview", "unit_profile", "relationships", "tests", "whatif", "briefing", "data", "screen"]
MONTHS = [f"{y}-{m:02d}" for y in (2021, 2023, 2024, 2025) for m in (1, 4, 7, 10, 12)]
QUARTERS = [f"{y}Q{q}" for y in (2021, 2023, 2024, 2025) for q in (1, 2, 4)]


selection = st.fixed_dictionaries({
    "page": st.sampled_from(PAGES),
    "lang": st.sampled_from(["zh", "en"]),
    "grain": st.sampled_from(["month", "quarter"]),
    "types": st.lists(st.sampled_from(UNIT_TYPES), max_size=2, unique=True),
    "regions": st.lists(st.sampled_from(REGIONS), max_size=2, unique=True),
    "unit": st.sampled_from([None, "BU001", "BU002", "BU1", "BU3"]),
    "org": st.sampled_from([None, None, "P000", "P江北", "P石桥", "P1", "nowhere"]),  # demo's and first week's tree
    "range": st.tuples(st.integers(0, len(MONTHS) - 1), st.integers(0, len(MONTHS) - 1)),
})


def run(db: Path, sel: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["lang"] = sel["lang"]
    at.query_params["grain"] = sel["grain"]
    periods = MONTHS if sel["grain"] == "month" else QUARTERS
    lo, hi = (min(sel["range"]), max(sel["range"]))
    at.query_params["from"] = periods[lo % len(periods)]
    at.query_params["to"] = periods[hi % len(periods)]
    if sel["types"]:
        at.query_params["type"] = ",".join(sel["types"])
    if sel["regions"]:
        at.query_params["region"] = ",".join(sel["regions"])
    if sel["unit"]:
        at.query_params["unit"] = sel["unit"]
    if sel.get("org"):
        at.query_params["org"] = sel["org"]
    at.run()
    at.switch_page(f"pages/{sel['page']}_page.py")
    at.run()
    return at


# each drawn state runs a page through AppTest: STATE_EXAMPLES=300 for a deeper local sweep
STATE_SETTINGS = settings(max_examples=int(os.environ.get("STATE_EXAMPLES", 14)), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _ids(pid: str) -> list[str]:
    with using(pid):
        return list(metrics())


# ids a user must never read: metric ids with an underscore (a bare one-word id such as `rs1` may be a
# legitimate abbreviation in prose)
RAW_IDS = sorted({m for pid in profiles() for m in _ids(pid) if "_" in m})


def visible_text(at: AppTest) -> list[str]:
    texts = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error", "title", "header", "subheader"):
        texts += [str(e.value) for e in getattr(at, kind)]
    texts += [str(m.label) for m in at.metric]
    texts += [c["text"] for c in cards(at)]
    return texts


def assert_calm(at: AppTest, lang: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    unexpected = t("app.unexpected", lang, ref="")[:12]
    shown = visible_text(at)
    assert not any(unexpected in s or "Traceback" in s for s in shown), shown
    leaked = [(mid, s) for s in shown for mid in RAW_IDS if mid in s or mid.replace("_", "\\_") in s]
    assert not leaked, leaked[:3]


def shown_numbers(at: AppTest, page: str) -> list[str]:
    """The figures a page put on screen: its metric cards, or the first column of figures of its table."""
    if page in ("overview", "briefing"):  # the HTML cards (ui/cards.py)
        return [c["value"] for c in cards(at)]
    if page == "whatif":
        return [str(m.value) for m in at.metric]
    if page == "relationships" and at.dataframe:
        return [f"{r:g}" for r in at.dataframe[0].value["r"]]
    if page == "tests" and at.dataframe:
        return list(at.dataframe[0].value.iloc[:, 1])
    return []


def view_numbers(db: Path, at: AppTest, page: str, lang: str) -> list[str]:
    """The same figures, from the page's view called directly on the selection the app built (no Streamlit),
    formatted as the page formats them."""
    from application.context import Context
    from application.views import overview, relationships, tests, whatif
    from catalogue.formats import fmt_effect, fmt_metric

    sel, ss = at.session_state["selection"], at.session_state
    ctx = Context.open(db, disk=False).narrowed(sel.org)
    if ctx.snapshot.count(sel, with_unit=True) == 0:  # the page says what to widen (ui.layout.header)
        return []
    if page == "overview":
        vm = overview.view(ctx, sel, overview.Params(ss["ov_quarter"]))
        return [fmt_metric(c.metric, c.value, lang, with_unit=False) for c in vm.cards] if vm.result and vm.result.ok else []
    if page == "relationships":
        vm = relationships.view(ctx, sel, relationships.Params(ss["rel_x"], ss["rel_y"], int(ss["rel_lag"])))
        return [f"{round(r, 3):g}" for r in vm.comparison["r"]] if vm.comparison is not None else []
    if page == "tests":
        vm = tests.view(ctx, sel, tests.Params(ss["ts_y"], tuple(ss["ts_x"]), int(ss["ts_lag"]), tuple(ss["ts_ctrl"]),
                                               ss["ts_treat"], ss["ts_ey"]))
        return [fmt_effect(c.estimate) for c in vm.fit.value[0].coefficients] if vm.fit.ok else []
    if page == "whatif":
        amounts = lambda key, xs, mode: tuple((x, ss[f"{key}_{x}_{mode}"]) for x in xs)  # noqa: E731
        xs = tuple(ss["wi_x"])
        vm = whatif.view(ctx, sel, whatif.Params(ss["wi_y"], xs, int(ss["wi_lag"]),
                                                 whatif.Scenario(ss["sa_mode"], amounts("sa", xs, ss["sa_mode"])),
                                                 whatif.Scenario(ss["sb_mode"], amounts("sb", xs, ss["sb_mode"]))))
        shown = []  # per scenario, as the page draws them: the mean change, then the quarter's count (when it has one)
        for r in vm.scenarios.values():
            if r is not None and not isinstance(r, Exception):
                shown.append(fmt_effect(r.mean_delta))
                if r.counts:
                    shown.append(f"{r.counts['delta']:+,.0f}".replace("-", "−"))
        return shown if vm.model is not None and vm.model.ok else []
    if page == "briefing":
        from application.views import briefing

        vm = briefing.view(ctx, sel, briefing.Params(ss["br_quarter"]))
        return [fmt_metric(k.id, k.value, lang, with_unit=False) for k in vm.result.value.kpis] \
            if vm.result is not None and vm.result.ok else []
    return []


@STATE_SETTINGS
@given(sel=selection)
def test_every_selection_on_the_demo(demo_db, monkeypatch, sel):
    """Calm, and the figures on screen are the view model's (computed afresh, without Streamlit)."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = run(demo_db, sel)
    assert_calm(at, sel["lang"])
    assert shown_numbers(at, sel["page"]) == view_numbers(demo_db, at, sel["page"], sel["lang"])


@STATE_SETTINGS
@given(sel=selection)
def test_every_selection_on_a_first_week_warehouse(first_week_db, monkeypatch, sel):
    monkeypatch.setenv("PBKPI_DB", str(first_week_db))
    at = run(first_week_db, sel)
    assert_calm(at, sel["lang"])
    assert shown_numbers(at, sel["page"]) == view_numbers(first_week_db, at, sel["page"], sel["lang"])


@pytest.mark.parametrize("profile", ["power", "oilfield", "plant"])
@pytest.mark.parametrize("page", ["overview", "relationships", "tests", "whatif", "briefing"])
def test_default_figures_on_screen_are_the_view_models(request, monkeypatch, page, profile):
    """Non-vacuous: on each industry's demo every statistics page shows figures, and they are the view's."""
    db = request.getfixturevalue({"power": "demo_db"}.get(profile, f"{profile}_db"))
    monkeypatch.setenv("PBKPI_DB", str(db))
    at = run(db, {"page": page, "lang": "zh", "grain": "month", "types": [], "regions": [], "unit": None,
                  "range": (0, len(MONTHS) - 1)})
    assert_calm(at, "zh")
    shown = shown_numbers(at, page)
    assert shown and shown == view_numbers(db, at, page, "zh")


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("unit_type", ["调度", "输电运检", "机关", "其他"])
def test_types_without_units_are_not_offered_and_never_crash(demo_db, monkeypatch, page, unit_type):
    """The issue's first symptom: a business type with no unit in the data gave tracebacks on three pages."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = run(demo_db, {"page": page, "lang": "zh", "grain": "month", "types": [unit_type], "regions": [],
                       "unit": None, "range": (0, len(MONTHS) - 1)})
    assert_calm(at, "zh")
    assert unit_type not in at.multiselect(key="f_types").options


picks = st.fixed_dictionaries({
    "page": st.sampled_from(["relationships", "tests", "whatif"]),
    "lang": st.sampled_from(["zh", "en"]),
    "x": st.sampled_from(["theme_days", "meetings", "pioneer_posts", "study_sessions"]),
    "y": st.sampled_from(["complaints_per_10k", "saidi", "satisfaction", "line_loss"]),
    "lag": st.integers(0, 3),
    "amount": st.sampled_from([-1.0, 0.5, 1.5, 2.0]),
})


def pick_params(p: dict) -> dict:
    if p["page"] == "relationships":
        return {"rel_x": p["x"], "rel_y": p["y"], "rel_lag": str(p["lag"])}
    if p["page"] == "tests":
        return {"ts_x": p["x"], "ts_y": p["y"], "ts_lag": str(p["lag"]), "ts_ey": p["y"]}
    return {"wi_x": p["x"], "wi_y": p["y"], "wi_lag": str(p["lag"]), "sa_mode": "abs", f"sa_{p['x']}_abs": str(p["amount"])}


@STATE_SETTINGS
@given(p=picks)
def test_page_picks_round_trip_through_the_url(demo_db, monkeypatch, p):
    """A link carries each page's own picks: opened afresh, the widgets hold them, and the URL the page writes
    back is the one it was opened with (ids and numbers, the same in either language)."""
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    params = {"lang": p["lang"], "grain": "month", **pick_params(p)}
    at = AppTest.from_file(APP, default_timeout=240)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"pages/{p['page']}_page.py")
    at.run()
    assert_calm(at, p["lang"])
    for key, value in pick_params(p).items():
        got = at.session_state[key]
        expected = [value] if key in ("ts_x", "wi_x") else (int(value) if key.endswith("_lag") else
                                                        float(value) if key.endswith("_abs") else value)
        assert got == expected, (key, got, expected)
    written = {k: (v[0] if isinstance(v, list) else v) for k, v in ((k, at.query_params[k]) for k in at.query_params)}
    for key, value in params.items():
        assert str(written[key]) == str(value) or float(written[key]) == float(value), (key, written[key], value)


def test_unknown_page_picks_dropped_with_a_notice(demo_db, monkeypatch):
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    at = AppTest.from_file(APP, default_timeout=240)
    for k, v in {"lang": "zh", "rel_x": "not_a_metric", "rel_lag": "99", "nonsense": "1"}.items():
        at.query_params[k] = v
    at.run()
    notice = " ".join(str(c.value) for c in at.caption)  # shown where the link lands
    assert "not\\_a\\_metric" in notice and "rel\\_lag=99" in notice and "nonsense" in notice
    at.switch_page("pages/relationships_page.py")
    at.run()
    assert_calm(at, "zh")
    assert at.selectbox(key="rel_x").value == "theme_days" and at.number_input(key="rel_lag").value == 1


@pytest.mark.parametrize("unit,charts_expected", [("BU3", 0), ("BU1", 2)])
def test_sparse_unit_profile_is_drawn_honestly(first_week_db, monkeypatch, unit, charts_expected):
    """A newly loaded unit: '暂无数据' where there is nothing, never empty axes; a unit with three months
    gets its charts (members are not reported in the first week: that one says so too). Counted over the
    profile's tabs, each opened in turn (only the open one is drawn)."""
    monkeypatch.setenv("PBKPI_DB", str(first_week_db))
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["lang"] = "zh"
    at.query_params["pf_unit"] = unit
    at.run()
    at.switch_page("pages/unit_profile_page.py")
    at.run()
    no_data = charts = 0
    for tab in state.TABS["pf_tab"]:
        at.session_state["pf_tab"] = tab
        at.run()
        assert_calm(at, "zh")
        no_data += [c.value for c in at.caption].count(t("app.no_data", "zh"))
        charts += len(at.get("plotly_chart"))
    assert no_data >= (4 if unit == "BU3" else 1)
    assert charts == charts_expected


def test_damaged_warehouse_is_one_calm_message(tmp_path, monkeypatch):
    """Audit: a corrupted warehouse made every page a raw traceback."""
    db = tmp_path / "w.duckdb"
    db.write_bytes(os.urandom(300_000))
    monkeypatch.setenv("PBKPI_DB", str(db))
    for lang in ("zh", "en"):
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["lang"] = lang
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error] == [t("app.unreadable", lang, path=str(db))]
