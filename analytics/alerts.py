"""预警: the branches and business units falling behind in a quarter — activities held less often than the
branch work regulations require, reports that did not arrive, KPIs off their targets.

Machine-readable rows (level, kind, subject, have, need, value, target); the sentences a leader reads are
made from them by the page and the briefing. Missing is never zero: a branch with no activity record at all
in the quarter gets one alert saying exactly that (not held, or not reported — the data cannot tell), not
five alerts claiming nothing was held."""
from __future__ import annotations

import pandas as pd

from analytics.periods import first_month, last_month

COLUMNS = ["level", "kind", "business_unit_id", "business_unit_name", "unit_id", "unit_name", "subject", "have",
           "need", "value", "target"]
LEVEL_ORDER = {"red": 0, "amber": 1}
KIND_ORDER = {"no_activity": 0, "activity": 1, "missing_membership": 2, "missing_kpi": 3, "kpi": 4}


def _months_open(founded, quarter: str) -> int:
    """Months of the quarter a branch existed in (3, fewer when it was founded during the quarter, 0 after)."""
    q0 = pd.Timestamp(f"{first_month(quarter)}-01")
    q_end = pd.Timestamp(f"{last_month(quarter)}-01")
    if founded is None or pd.isna(founded):
        return 3
    start = pd.Timestamp(founded).to_period("M").to_timestamp()
    if start > q_end:
        return 0
    return 3 if start <= q0 else (q_end.year - start.year) * 12 + q_end.month - start.month + 1


def _level(have: float, need: float) -> str | None:
    if have >= need:
        return None
    return "amber" if need - have <= 1 and have > 0 else "red"


def status(mid: str, value, target: dict | None) -> str | None:
    """red / amber / green of a value against one target {"value", "amber"} (catalogue.target_status's rule)."""
    from catalogue import target_status

    if target is None or value is None or pd.isna(value):
        return None
    return target_status(mid, float(value), {mid: target})


def quarter_alerts(quarter: str, reports: dict[str, pd.DataFrame], requirements: list[dict],
                   kpi_rows: pd.DataFrame, targets: dict[str, dict], kpis: list[str]) -> pd.DataFrame:
    """Every alert of a quarter, worst first.

    reports: Snapshot.quarter_reports(quarter). requirements: catalogue.requirements(). kpi_rows: the
    quarter's panel rows per business unit (business_unit_id, business_unit_name and metric columns).
    targets: the targets in force; kpis: the metrics whose targets a business unit is held to."""
    out: list[dict] = []
    branches, acts = reports["branches"], reports["activities"]
    members = dict(zip(reports["membership"]["unit_id"], reports["membership"]["months"])) if len(reports["membership"]) else {}
    kpi_months = dict(zip(reports["kpi"]["business_unit_id"], reports["kpi"]["months"])) if len(reports["kpi"]) else {}
    held = {}
    if len(acts):
        for (unit, kind), grp in acts.groupby(["unit_id", "activity_type"]):
            held[(unit, kind)] = (int(grp["month"].nunique()), int(grp["n"].sum()))
    has_any = set(acts["unit_id"]) if len(acts) else set()

    def add(level, kind, row, subject, have=None, need=None, value=None, target=None, branch=True):
        out.append({"level": level, "kind": kind, "business_unit_id": row["business_unit_id"],
                    "business_unit_name": row["business_unit_name"], "unit_id": row["unit_id"] if branch else None,
                    "unit_name": row["unit_name"] if branch else None, "subject": subject, "have": have, "need": need,
                    "value": value, "target": target})

    for _, b in branches.iterrows():
        months = _months_open(b.get("founded"), quarter)
        if months == 0:
            continue
        if b["unit_id"] not in has_any:
            add("red", "no_activity", b, None, 0, months)
        else:
            for req in requirements:
                months_held, count = held.get((b["unit_id"], req["activity_type"]), (0, 0))
                have, need = (months_held, months) if req["every"] == "month" else (count, 1)
                level = _level(have, need) if req["every"] == "month" else ("red" if count == 0 else None)
                if level:
                    add(level, "activity", b, req["activity_type"], have, need)
        got = int(members.get(b["unit_id"], 0))
        if (level := _level(got, months)) is not None:
            add(level, "missing_membership", b, "membership", got, months)
    units = branches.drop_duplicates("business_unit_id")
    for _, u in units.iterrows():
        got = int(kpi_months.get(u["business_unit_id"], 0))
        if (level := _level(got, 3)) is not None:
            add(level, "missing_kpi", u, "kpi_monthly", got, 3, branch=False)
    for _, r in kpi_rows.iterrows():
        for mid in kpis:
            level = status(mid, r.get(mid), targets.get(mid))
            if level in ("red", "amber"):
                add(level, "kpi", {**r.to_dict(), "unit_id": None, "unit_name": None}, mid,
                    value=float(r[mid]), target=float(targets[mid]["value"]), branch=False)
    df = pd.DataFrame(out, columns=COLUMNS)
    if df.empty:
        return df
    df["_l"], df["_k"] = df["level"].map(LEVEL_ORDER), df["kind"].map(KIND_ORDER)
    return df.sort_values(["_l", "_k", "business_unit_id", "unit_id"], na_position="first").drop(columns=["_l", "_k"]) \
        .reset_index(drop=True)


def alerts_for(quarter: str, reports: dict[str, pd.DataFrame], business_units: set, rows: pd.DataFrame) -> pd.DataFrame:
    """quarter_alerts for a set of business units — those that reported nothing this quarter included (a
    missing report is what it is about) — against the regulations' frequencies and the targets in force.
    The overview (application.statistics.alerts) and the briefing (briefing.content) both read it."""
    from catalogue import metric_ids, requirements, targets

    reports = {k: (v[v["business_unit_id"].isin(business_units)] if "business_unit_id" in v else v)
               for k, v in reports.items()}
    rows = rows[rows["business_unit_id"].isin(business_units)] if len(rows) else rows
    return quarter_alerts(quarter, reports, requirements(), rows, targets(), metric_ids("kpi"))
