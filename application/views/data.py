"""数据管理 Data: what was loaded, what was rejected and why, and which units reported which source."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from application.context import Context

COVERAGE_ROWS = 80  # business units in the coverage heatmap; beyond this it is unreadable


@dataclass
class DataView:
    has_data: bool
    history: pd.DataFrame | None = None
    rejects: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None  # business unit x month: how many of the three sources reported
    coverage_units: int = 0  # business units in the warehouse (the heatmap may show the worst only)


def view(ctx: Context) -> DataView:
    snap = ctx.snapshot
    if not snap.has_data():
        return DataView(False)
    cov = snap.coverage()
    n_units = cov["business_unit_id"].nunique()
    if n_units > COVERAGE_ROWS:  # a group has thousands of units: show where reports are missing most
        gaps = (cov["sources"] < 3).groupby(cov["business_unit_id"]).sum()
        cov = cov[cov["business_unit_id"].isin(gaps.nlargest(COVERAGE_ROWS).index)]
    return DataView(True, snap.load_history(), snap.rejects(), cov, n_units)
