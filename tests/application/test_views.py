"""The views, called directly (plain pytest, no Streamlit): their figures against independent computations,
and the missing-data rule on warehouses with units that did not report."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.periods import shift_quarter
from application.context import Context
from application.store import ResultStore
from application.selection import Selection
from application.views import overview, profile, relationships, whatif
from etl.load import load_files
from tests.etl.files import ORG_HEADER, write_csv

MONTHS = [f"2025-{m:02d}" for m in range(7, 13)]  # 2025Q3 and 2025Q4


def company(tmp: Path, newcomers: bool) -> Path:
    """Two reporting units (KPIs and activities, 2025Q3–Q4); with `newcomers`, three more units whose
    branches sent a few activity rows in 2024 and nothing since (the issue's "first week" symptom)."""
    org = [["P1", "公司党委", "", "党委", "", "", "机关", "城区", "2001-01-01"],
           ["B1", "城东支部", "P1", "党支部", "BU1", "城东供电所", "供电所", "城区", "2005-03-01"],
           ["B2", "河口支部", "P1", "党支部", "BU2", "河口供电所", "供电所", "农村", "2006-05-01"]]
    acts = [[b, f"{m}-{d:02d}", kind, 18, 20] for b in ("B1", "B2") for m in MONTHS
            for d, kind in ((5, "主题党日"), (12, "支部委员会"), (20, "党小组会"))]
    if newcomers:
        for i in (3, 4, 5):
            org.append([f"B{i}", f"新支部{i}", "P1", "党支部", f"BU{i}", f"新供电所{i}", "供电所", "县城", "2010-01-01"])
            acts += [[f"B{i}", "2024-03-05", "主题党日", 10, 12], [f"B{i}", "2024-04-05", "支部委员会", 5, 5]]
    kpi = [[bu, m, 10_000 + 2_000 * i, 2 + (i + k) % 3, 5_000 + 10 * k, 99.0 + 0.2 * i]
           for i, bu in enumerate(("BU1", "BU2")) for k, m in enumerate(MONTHS)]
    files = [write_csv(tmp / "org.csv", ORG_HEADER, org),
             write_csv(tmp / "act.csv", ["组织编码", "活动日期", "活动类型", "实到人数", "应到人数"], acts),
             write_csv(tmp / "kpi.csv", ["业务单元编码", "月份", "用户数", "投诉件数", "售电量", "电费回收率"], kpi)]
    db = tmp / "w.duckdb"
    assert all(r.error is None for r in load_files(files, db))
    return db


def cards(db: Path, quarter: str) -> dict:
    vm = overview.view(Context.open(db, disk=False), Selection("quarter"), overview.Params(quarter))
    assert vm.result.ok, vm.result.message
    return {c.metric: c for c in vm.cards}


def test_units_that_did_not_report_never_lower_a_figure(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    before = cards(company(tmp_path / "a", newcomers=False), "2025Q4")
    after = cards(company(tmp_path / "b", newcomers=True), "2025Q4")
    for mid in ("complaints_per_10k", "bill_recovery", "meeting_compliance", "theme_days"):
        assert after[mid].value == pytest.approx(before[mid].value, rel=1e-12), mid
        assert before[mid].not_reporting == 0 and after[mid].not_reporting == 3, mid


def test_cards_equal_a_hand_computation(tmp_path):
    db = company(tmp_path, newcomers=True)
    c = cards(db, "2025Q4")
    # complaints per 10k: all complaints over the average customers of the quarter, reporting units only
    q4 = [f"2025-{m}" for m in (10, 11, 12)]
    complaints = sum(2 + (i + k) % 3 for i in (0, 1) for k, m in enumerate(MONTHS) if m in q4)
    customers = sum(10_000 + 2_000 * i for i in (0, 1))  # per month, constant
    assert c["complaints_per_10k"].value == pytest.approx(10_000 * complaints / customers, rel=1e-12)
    assert c["complaints_per_10k"].not_reporting == 3
    # bill recovery: customer-weighted over the two reporting units
    assert c["bill_recovery"].value == pytest.approx((99.0 * 10_000 + 99.2 * 12_000) / 22_000, rel=1e-12)
    # one 主题党日 a month per unit: 3 per unit-quarter; counts add up over the two reporting units
    assert c["theme_days"].value == pytest.approx(6.0) and c["theme_days"].prev == pytest.approx(6.0)
    # 三会一课: committee + group meeting = 2 a month held of 2 + 2/3 required -> 75 %
    assert c["meeting_compliance"].value == pytest.approx(75.0)


def test_a_newcomer_without_reports_has_no_peer_percentile(tmp_path):
    db = company(tmp_path, newcomers=True)
    vm = profile.view(Context.open(db, disk=False), Selection("month", "2025-07", "2025-12"), profile.Params("BU3"))
    # nothing reported: no percentile (not the 0th) — except where "none" is a report: no initiative running
    from catalogue import metrics

    always = {m.id for m in metrics().values() if m.reported_by == ("initiatives",)}
    assert set(vm.peers["metric"]) <= always
    vm = profile.view(Context.open(db, disk=False), Selection("month", "2025-07", "2025-12"), profile.Params("BU1"))
    assert vm.peers.empty or (vm.peers["n_peers"] >= 3).all()


@pytest.mark.parametrize("sel", [Selection("month", "2021-01", "2025-12"), Selection("quarter", "2023Q1", "2025Q4", regions=("农村",)),
                                 Selection("month", "2024-01", "2025-06", unit_types=("供电所",))])
def test_overview_cards_equal_the_rollup_of_the_selected_rows(demo_db, sel):
    from analytics.rollup import rollup

    ctx = Context.open(demo_db, disk=False)
    vm = overview.view(ctx, sel)
    q = vm.quarter
    rows = ctx.snapshot.panel("quarter")
    qs = sel.quarterly()
    rows = rows[(rows["period"] >= qs.start) & (rows["period"] <= qs.end)
                & (rows["region"].isin(sel.regions) if sel.regions else True)
                & (rows["unit_type"].isin(sel.unit_types) if sel.unit_types else True)]
    totals = rollup(rows, ["period"]).set_index("period")
    for card in vm.cards:
        for got, period in ((card.value, q), (card.prev, shift_quarter(q, 1))):
            want = totals[card.metric].get(period)
            assert (got is None and (want is None or pd.isna(want))) or got == pytest.approx(float(want), rel=1e-12)
    assert q == sel.quarterly().end  # the quarter holding the sidebar's end


def test_relationships_comparison_is_the_correlation_table_row(demo_db):
    from analytics.correlate import correlate
    from application.statistics import inputs, kpis

    ctx = Context.open(demo_db, disk=False)
    sel = Selection("month", "2022-01", "2025-12")
    vm = relationships.view(ctx, sel, relationships.Params("theme_days", "complaints_per_10k", 1))
    table = correlate(ctx.snapshot.analysis_panel(sel), inputs(), kpis(), 1).table
    want = table[(table.input == "theme_days") & (table.kpi == "complaints_per_10k") & (table.method == "pearson")].set_index("scope")
    np.testing.assert_allclose(vm.comparison["r"].to_numpy(), want.loc[["pooled", "within"], "r"].to_numpy(), rtol=1e-12)
    assert vm.heat_r.shape == (len(inputs()), len(kpis()))


def test_params_outside_the_options_fall_back_to_defaults(demo_db):
    ctx = Context.open(demo_db, disk=False)
    vm = relationships.view(ctx, Selection(), relationships.Params("nonsense", "complaints", 99))
    assert vm.params == relationships.DEFAULTS
    vm = whatif.view(ctx, Selection(), whatif.Params(xs=("theme_days",), a=whatif.Scenario("abs", (("theme_days", 50.0),))))
    assert vm.params.a.amounts == () and vm.scenarios["sa"] is None  # an amount outside the slider's range is dropped


def test_peer_standing_is_company_wide_and_anonymous(demo_db):
    """The profile's peer percentiles equal the tie-aware percentiles among every unit of the type; a
    branch secretary (scope: one unit) gets the same standing, computed from bare values, never names."""
    from analytics.peers import peer_percentiles
    from application.warehouse import Warehouse
    from catalogue import metric_ids

    wh = Warehouse(demo_db)
    sel = Selection("month", "2021-01", "2025-12")
    company = profile.view(Context(wh.snapshot(), ResultStore(None)), sel, profile.Params("BU001"))
    panel = wh.snapshot().panel("month")
    last = panel[(panel["period"] == company.peer_period) & (panel["unit_type"] == company.unit_type)]
    want = peer_percentiles(last, "BU001", metric_ids("kpi") + metric_ids("input"))
    pd.testing.assert_frame_equal(company.peers.reset_index(drop=True), want.reset_index(drop=True))
    secretary = profile.view(Context(wh.snapshot(frozenset({"BU001-01"})), ResultStore(None)), sel, profile.Params("BU001"))
    assert secretary.units == ["BU001"]
    pd.testing.assert_frame_equal(secretary.peers.reset_index(drop=True), want.reset_index(drop=True))
    assert set(secretary.peers.columns) == {"metric", "value", "n_peers", "percentile"}  # no unit column
