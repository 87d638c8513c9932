"""No markup from data: unit names that are HTML or Markdown reach every chart as text (entities), on every
page and in the briefing's figures, never as a live link or tag."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from etl.load import load_files
from tests.etl.files import ORG_HEADER, write_csv
from ui.charts import plain_figure, plain_text

APP = str(Path(__file__).resolve().parents[2] / "app.py")
HOSTILE = ['<a href="javascript:alert(1)">点我</a>', "<img src=x onerror=alert(2)>", "[链接](http://evil.example)",
           "<b>粗</b>所", "A&B 供电所"]
PAGES = ["overview", "unit_profile", "relationships", "tests", "whatif", "briefing", "data"]


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    return build_hostile(tmp_path_factory.mktemp("hostile"))


def build_hostile(tmp: Path) -> Path:
    """A small company whose unit names are HTML and Markdown, loaded by the real loader."""
    rows = [["P1", "<i>公司</i>党委", "", "党委", "", "", "机关", "城区", "2001-01-01"]]
    for i, name in enumerate(HOSTILE):
        rows.append([f"B{i}", name + "党支部", "P1", "党支部", f"BU{i}", name, "供电所", ["城区", "农村"][i % 2], "2005-03-01"])
    org = write_csv(tmp / "org.csv", ORG_HEADER, rows)
    act = write_csv(tmp / "act.csv", ["组织编码", "活动日期", "活动类型", "实到人数", "应到人数"], [
        [f"B{i}", f"{y}-{m:02d}-{d:02d}", kind, 18, 20] for i in range(len(HOSTILE)) for y in (2024, 2025)
        for m in range(1, 13) for d, kind in ((5, "主题党日"), (12, "支部委员会"), (20 + i % 3, "党小组会"))])
    kpi = write_csv(tmp / "kpi.csv", ["业务单元编码", "月份", "用户数", "投诉件数", "售电量", "电费回收率"], [
        [f"BU{i}", f"{y}-{m:02d}", 10000 + 800 * i, (m + i) % 5, 5000 + 30 * m + 100 * i, 99.0 + 0.1 * (m % 5)]
        for i in range(len(HOSTILE)) for y in (2024, 2025) for m in range(1, 13)])
    db = tmp / "w.duckdb"
    assert all(r.error is None for r in load_files([org, act, kpi], db))
    return db


def raw_markup(spec: str) -> list[str]:
    """Tags or links from the hostile names that survived unescaped in a figure's JSON."""
    return [bad for bad in ("<a href", "<img", "<b>粗", "<i>公司") if bad in spec]


@pytest.mark.parametrize("page", PAGES)
def test_no_markup_from_data_in_any_chart(hostile_db, monkeypatch, page):
    monkeypatch.setenv("PBKPI_DB", str(hostile_db))
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params["lang"] = "zh"
    at.query_params["grain"] = "quarter" if page in ("overview", "briefing") else "month"
    at.query_params["pf_unit"] = "BU0"
    at.run()
    at.switch_page(f"pages/{page}_page.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    for spec in specs:
        assert raw_markup(spec) == [], raw_markup(spec)
    if page == "overview":
        assert any("&lt;a href" in s or "&lt;img" in s for s in specs)  # the names are there, as text


def test_plain_figure_escapes_every_data_field():
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=[1, 2], y=HOSTILE[:2], text=HOSTILE[:2], name=HOSTILE[3], customdata=[[HOSTILE[1]], [HOSTILE[0]]]))
    fig.add_annotation(text=HOSTILE[0], x=1, y=1)
    spec = json.dumps(plain_figure(fig).to_plotly_json(), ensure_ascii=False, default=str)
    assert raw_markup(spec) == []
    assert plain_text("A&B") == "A&amp;B"
    once = json.dumps(plain_figure(fig).to_plotly_json(), ensure_ascii=False, default=str)
    assert once == spec  # escaped once, not twice
