"""预警 (analytics/alerts.py): against the branch work regulations' frequencies, hand-made quarters and an
independent computation over random ones."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.alerts import quarter_alerts, status
from catalogue import requirements

MONTHS = ["2025-10-01", "2025-11-01", "2025-12-01"]
TYPES = [r["activity_type"] for r in requirements()]


def reports(acts, branches=None, members=None, kpi=None):
    branches = [("B1", "BU1", None), ("B2", "BU1", None)] if branches is None else branches
    return {
        "branches": pd.DataFrame([{"unit_id": u, "unit_name": f"{u}支部", "business_unit_id": bu, "business_unit_name": f"{bu}所",
                                   "founded": f} for u, bu, f in branches],
                                 columns=["unit_id", "unit_name", "business_unit_id", "business_unit_name", "founded"]),
        "activities": pd.DataFrame([{"unit_id": u, "business_unit_id": "BU1", "activity_type": t, "month": pd.Timestamp(m), "n": n}
                                    for u, t, m, n in acts], columns=["unit_id", "business_unit_id", "activity_type", "month", "n"]),
        "membership": pd.DataFrame([{"unit_id": u, "business_unit_id": "BU1", "months": k} for u, k in (members or {}).items()],
                                   columns=["unit_id", "business_unit_id", "months"]),
        "kpi": pd.DataFrame([{"business_unit_id": b, "months": k} for b, k in (kpi or {"BU1": 3}).items()],
                            columns=["business_unit_id", "months"]),
    }


def full(unit):
    """Everything the regulations ask of one branch in the quarter."""
    return [(unit, t, m, 1) for t in TYPES for m in (MONTHS if t in ("支部委员会", "党小组会", "主题党日") else MONTHS[:1])]


NO_KPI = pd.DataFrame(columns=["business_unit_id", "business_unit_name"])


def test_a_branch_that_did_everything_has_no_alert():
    got = quarter_alerts("2025Q4", reports(full("B1") + full("B2"), members={"B1": 3, "B2": 3}), requirements(), NO_KPI, {}, [])
    assert got.empty


def test_one_month_short_is_amber_two_or_none_is_red_and_nothing_at_all_is_one_alert():
    acts = [a for a in full("B1") if not (a[1] == "支部委员会" and a[2] == MONTHS[2])]  # one committee meeting short
    acts = [a for a in acts if not (a[1] == "主题党日" and a[2] != MONTHS[0])]  # theme day in one month only
    acts = [a for a in acts if a[1] != "党课"]  # no lecture this quarter
    got = quarter_alerts("2025Q4", reports(acts, members={"B1": 2}), requirements(), NO_KPI, {}, [])
    rows = {(r.unit_id, r.kind, r.subject if isinstance(r.subject, str) else None): (r.level, r.have, r.need)
            for r in got.itertuples()}
    assert rows[("B1", "activity", "支部委员会")] == ("amber", 2, 3)
    assert rows[("B1", "activity", "主题党日")] == ("red", 1, 3)
    assert rows[("B1", "activity", "党课")] == ("red", 0, 1)
    assert rows[("B1", "missing_membership", "membership")] == ("amber", 2, 3)
    # B2 recorded nothing at all: one alert (not held, or not reported), not one per activity type
    assert [k for k in rows if k[0] == "B2"] == [("B2", "no_activity", None), ("B2", "missing_membership", "membership")]
    assert rows[("B2", "missing_membership", "membership")] == ("red", 0, 3)
    assert list(got["level"]) == sorted(got["level"], key={"red": 0, "amber": 1}.get)  # worst first


def test_a_branch_founded_during_the_quarter_owes_only_its_months_and_one_founded_after_owes_nothing():
    acts = [("B1", t, m, 1) for t in TYPES for m in MONTHS[1:]]
    got = quarter_alerts("2025Q4", reports(acts, branches=[("B1", "BU1", "2025-11-15"), ("B2", "BU1", "2026-02-01")],
                                           members={"B1": 2}), requirements(), NO_KPI, {}, [])
    assert got.empty


def test_kpis_off_target_by_the_metrics_direction():
    rows = pd.DataFrame([{"business_unit_id": "BU1", "business_unit_name": "城东所", "rs1": 99.95, "complaints_per_10k": 0.6},
                         {"business_unit_id": "BU2", "business_unit_name": "城西所", "rs1": 99.80, "complaints_per_10k": 0.2}])
    targets = {"rs1": {"value": 99.9, "amber": 0.03}, "complaints_per_10k": {"value": 0.5, "amber": 0.15}}
    got = quarter_alerts("2025Q4", reports([], branches=[]), requirements(), rows, targets, ["rs1", "complaints_per_10k"])
    found = {(r.business_unit_id, r.subject): r.level for r in got.itertuples()}
    assert found == {("BU1", "complaints_per_10k"): "amber", ("BU2", "rs1"): "red"}
    assert status("complaints_per_10k", 0.66, targets["complaints_per_10k"]) == "red"
    assert status("rs1", 99.9, targets["rs1"]) == "green" and status("rs1", None, targets["rs1"]) is None


@settings(max_examples=60, deadline=None)
@given(held=st.lists(st.tuples(st.sampled_from(["B1", "B2", "B3"]), st.sampled_from(TYPES), st.sampled_from(MONTHS),
                               st.integers(1, 3)), max_size=40),
       members=st.dictionaries(st.sampled_from(["B1", "B2", "B3"]), st.integers(0, 3)))
def test_property_alerts_equal_an_independent_reading_of_the_regulations(held, members):
    branches = [("B1", "BU1", None), ("B2", "BU1", None), ("B3", "BU1", None)]
    got = quarter_alerts("2025Q4", reports(held, branches, members), requirements(), NO_KPI, {}, [])
    expect = set()
    for unit, _, _ in branches:
        mine = [h for h in held if h[0] == unit]
        if not mine:
            expect.add((unit, "no_activity", None, "red"))
        for req in requirements():
            of_type = [h for h in mine if h[1] == req["activity_type"]]
            if not mine:
                continue
            if req["every"] == "month":
                months = len({h[2] for h in of_type})
                if months < 3:
                    expect.add((unit, "activity", req["activity_type"], "amber" if months == 2 else "red"))
            elif sum(h[3] for h in of_type) == 0:
                expect.add((unit, "activity", req["activity_type"], "red"))
        k = members.get(unit, 0)
        if k < 3:
            expect.add((unit, "missing_membership", "membership", "amber" if k == 2 else "red"))
    assert {(r.unit_id, r.kind, r.subject if isinstance(r.subject, str) else None, r.level) for r in got.itertuples()} == expect
