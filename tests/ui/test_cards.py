"""The overview's cards as leaders read them: changes in the metric's own unit, targets and status, escaped
HTML; targets an administrator changes in the app take effect everywhere."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import catalogue
from catalogue import metrics
from catalogue.formats import delta_unit, fmt_delta, fmt_target
from tests.ui.screen import cards as shown_cards
from ui import cards


@given(mid=st.sampled_from(list(metrics())), v=st.floats(-1e6, 1e6, allow_nan=False))
def test_a_change_reads_in_the_metrics_own_unit_with_one_sign(mid, v):
    text = fmt_delta(mid, v, "zh")
    m = catalogue.metric(mid)
    assert "-" not in text  # a true minus sign, and never both an arrow and a sign
    assert not re.match(r"^[+−]0(\.0+)?( |$)", text)  # a change that rounds to zero reads 0, unsigned
    number = float(re.match(r"^[+−]?([\d,]+(?:\.\d+)?)", text).group(1).replace(",", ""))
    assert abs(number - round(abs(v), m.decimals)) < 10 ** -m.decimals
    assert text.endswith(delta_unit(mid, "zh"))
    if m.unit_zh == "%":
        assert text.endswith("个百分点") and fmt_delta(mid, v, "en").endswith("pp")


def test_targets_read_on_their_good_side():
    assert fmt_target("rs1", 99.9, "zh") == "目标 ≥ 99.900%"
    assert fmt_target("complaints_per_10k", 0.5, "en").startswith("target ≤ 0.50")


def test_card_html_escapes_every_text_and_carries_no_script():
    hostile = "<img src=x onerror=alert(1)>"
    card = cards.CardText(name=hostile, unit="%", value="99.9", status="red", status_word=hostile, delta="+1", delta_word="环比",
                          delta_good=False, yoy=None, yoy_word="同比", yoy_good=None, target=hostile, note=hostile,
                          tooltip='"><script>alert(1)</script>', spark=(1.0, 2.0, 1.5))
    html = cards.cards_html([card])
    assert "<img src=x" not in html and "<script" not in html and html.count("&lt;img") == 4  # shown as text
    assert html.count('data-testid="pbkpi-card"') == 1 and "data:image/svg+xml;base64," in html


def test_targets_set_in_the_app_override_the_shipped_ones_and_change_what_is_shown(tmp_path, monkeypatch, demo_db):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PBKPI_TARGETS", str(tmp_path / "targets.json"))
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    before = catalogue.targets_digest()
    assert catalogue.targets()["rs1"]["value"] == catalogue.default_targets()["rs1"]["value"]
    catalogue.save_targets({"rs1": {"value": 99.999, "amber": 0.001}, "pb_score": None}, by="admin")
    assert catalogue.targets()["rs1"] == {"value": 99.999, "amber": 0.001} and "pb_score" not in catalogue.targets()
    assert catalogue.targets_digest() != before
    catalogue.save_targets({"rs1": {"value": 99.5, "amber": 0.1}}, by="admin2")
    doc = json.loads((tmp_path / "targets.json").read_text(encoding="utf-8"))
    assert doc["saved_by"] == "admin2" and doc["history"][-1]["targets"]["rs1"]["value"] == 99.999
    with pytest.raises(ValueError):
        catalogue.save_targets({"rs1": {"value": "high", "amber": 1}}, by="x")
    with pytest.raises(ValueError):
        catalogue.save_targets({"no_such_metric": {"value": 1, "amber": 1}}, by="x")

    def badges():
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=180)
        at.query_params["grain"] = "quarter"
        at.run()
        assert not at.exception
        return {c["name"]: (c["badge"], c["text"]) for c in shown_cards(at)}

    catalogue.save_targets({"rs1": {"value": 99.999, "amber": 0.001}}, by="admin")
    strict = badges()
    rs1 = next(v for k, v in strict.items() if k.startswith("供电可靠率"))
    assert rs1[0] == "未达标" and "目标 ≥ 99.999%" in rs1[1]
    catalogue.save_targets({"rs1": {"value": 99.0, "amber": 0.1}}, by="admin")
    lenient = badges()
    assert next(v for k, v in lenient.items() if k.startswith("供电可靠率"))[0] == "达标"
