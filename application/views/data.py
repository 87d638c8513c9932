"""数据管理 Data: what was loaded, what was rejected and why, and which units reported which source."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from application.context import Context
from catalogue import defined_metrics, metrics, shared_metric_ids
from etl.definitions import undefined

COVERAGE_ROWS = 80  # business units in the coverage heatmap; beyond this it is unreadable


@dataclass
class DataView:
    has_data: bool
    history: pd.DataFrame | None = None
    rejects: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None  # business unit x month: how many of the three sources reported
    coverage_units: int = 0  # business units in the warehouse (the heatmap may show the worst only)
    metrics: pd.DataFrame | None = None  # the business metrics: id, names, unit, direction, kind, by (profile | admin)
    undefined: pd.DataFrame | None = None  # KPI file columns kept by header that no metric reads yet
    headers: list[str] | None = None  # every KPI file column kept by header (a definition's possible sources)


def metric_catalogue() -> pd.DataFrame:
    """The business metrics of the active catalogue, with who defined them (the industry profile or an
    administrator in the app) and how each adds up."""
    shared = set(shared_metric_ids())
    mine = {b["metric"]["id"]: b for b in defined_metrics()}
    rows = [dict(id=m.id, zh=m.zh, en=m.en, unit_zh=m.unit_zh, unit_en=m.unit_en, role=m.role, direction=m.direction,
                 rollup=m.rollup, aggregation=m.aggregation, by="admin" if m.id in mine else "profile")
            for m in metrics().values() if m.id not in shared]
    return pd.DataFrame(rows)


def view(ctx: Context) -> DataView:
    snap = ctx.snapshot
    if not snap.has_data():
        return DataView(False)
    cov = snap.coverage()
    n_units = cov["business_unit_id"].nunique()
    if n_units > COVERAGE_ROWS:  # a group has thousands of units: show where reports are missing most
        gaps = (cov["sources"] < 3).groupby(cov["business_unit_id"]).sum()
        cov = cov[cov["business_unit_id"].isin(gaps.nlargest(COVERAGE_ROWS).index)]
    headers = snap.kpi_headers()
    return DataView(True, snap.load_history(), snap.rejects(), cov, n_units, metric_catalogue(), undefined(headers),
                    headers["header"].tolist())


def upload_provinces(ctx: Context, nodes: frozenset[str] | None) -> list[str]:
    """On a lake, the provinces an upload of this user may go to: those whose org tree (at the published
    snapshot) has a business unit at or beneath one of the user's scope nodes (the group's root and the
    levels above a province are listed by several provinces' files); every province for the whole company
    (None)."""
    from etl.lake import PROVINCE_NAME, RESERVED

    snap = ctx.snapshot
    wh = snap.warehouse
    if not wh.is_lake:
        return []
    found = wh.query("SELECT schema_name FROM information_schema.schemata WHERE catalog_name = current_database() "
                     "ORDER BY schema_name", version=snap.version)
    provs = [p for p in found["schema_name"] if p not in RESERVED and PROVINCE_NAME.fullmatch(p)] if len(found) else []
    if nodes is None or not provs:
        return provs
    holding = wh.query(" UNION ALL ".join(f"""
        SELECT '{p}' AS province FROM (
            WITH RECURSIVE down(unit_id) AS (
                SELECT unit_id FROM {p}.dim_units WHERE unit_id IN (SELECT unnest(?::VARCHAR[]))
                UNION SELECT d.unit_id FROM {p}.dim_units d JOIN down ON d.parent_id = down.unit_id)
            SELECT 1 FROM {p}.dim_units WHERE unit_id IN (SELECT unit_id FROM down) AND business_unit_id IS NOT NULL LIMIT 1)"""
                                          for p in provs), [sorted(nodes)] * len(provs), version=snap.version)
    return sorted(set(holding["province"])) if len(holding) else []
