"""支部画像 Unit profile: one business unit's branches, people, activity, initiatives, KPIs and where it
stands among the units of its type. Its rows follow the sidebar's grain and period."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analytics.peers import standing
from application.context import Context
from application.selection import Selection
from catalogue import metric_ids, profile


def trend_kpis() -> list[str]:
    """The KPIs the unit's trend offers (the active industry profile's)."""
    return list(profile().defaults["trend"])

MARKED_INITIATIVES = ("党建示范点", "书记项目")  # drawn as markers on the KPI trend
MAX_MARKERS = 12


@dataclass(frozen=True)
class Params:
    unit: str | None = None  # None: the sidebar's unit, else the first
    kpi: str = field(default_factory=lambda: trend_kpis()[0])


def __getattr__(name: str):
    """`DEFAULTS`: the first-visit parameters, which follow the active industry profile's defaults."""
    if name == "DEFAULTS":
        return Params()
    raise AttributeError(name)


@dataclass
class ProfileView:
    units: list[str]
    names: dict[str, str]
    params: Params
    unit_type: str | None = None
    region: str | None = None
    n_branches: int = 0
    rows: pd.DataFrame | None = None  # the unit's panel rows in the selected period
    branches: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None  # month, activity_type, n
    initiatives: pd.DataFrame | None = None
    markers: list | None = None  # (start, kind) on the KPI trend
    assessments: pd.DataFrame | None = None
    peers: pd.DataFrame | None = None  # metric, value, n_peers, percentile
    n_peers: int = 0
    peer_period: str | None = None


def options(ctx: Context, sel: Selection | None = None) -> dict[str, list]:
    return {"unit": ctx.snapshot.business_units()["business_unit_id"].tolist(), "kpi": trend_kpis()}


def resolve(ctx: Context, sel: Selection, p: Params) -> Params:
    units = options(ctx)["unit"]
    unit = p.unit if p.unit in units else (sel.unit if sel.unit in units else (units[0] if units else None))
    return Params(unit, p.kpi if p.kpi in trend_kpis() else Params().kpi)


def view(ctx: Context, sel: Selection, p: Params | None = None) -> ProfileView:
    snap = ctx.snapshot
    p = resolve(ctx, sel, p or Params())
    vm = ProfileView(options(ctx)["unit"], snap.unit_names(), p)
    if p.unit is None:
        return vm
    row = snap.business_units().set_index("business_unit_id").loc[p.unit]
    vm.unit_type, vm.region, vm.n_branches = row["unit_type"], row["region"], int(row["n_branches"])
    mine = Selection(sel.grain, sel.start, sel.end, unit=p.unit)
    vm.rows = snap.rows(mine, with_unit=True)
    vm.branches = snap.branches(p.unit)
    vm.activities = snap.activities_by_type(p.unit)
    vm.initiatives = snap.initiatives(p.unit)
    vm.markers = [(r.start, r.kind) for r in vm.initiatives.itertuples() if r.kind in MARKED_INITIATIVES][:MAX_MARKERS]
    vm.assessments = snap.assessments(p.unit)
    periods = snap.periods(sel.grain)
    vm.peer_period = vm.rows["period"].max() if len(vm.rows) else (periods[-1] if periods else None)
    # peers are every unit of the type company-wide, as bare values (no names): a scoped user sees where
    # their unit stands without seeing any other unit
    ids = tuple(metric_ids("kpi") + metric_ids("input"))
    values = snap.peer_values(sel.grain, vm.peer_period, vm.unit_type, ids) if vm.peer_period else {}
    mine = vm.rows[vm.rows["period"] == vm.peer_period]
    vm.n_peers = max((len(v) for v in values.values()), default=0)
    vm.peers = standing(values, {m: (mine[m].iloc[0] if len(mine) and m in mine else None) for m in ids})
    return vm
