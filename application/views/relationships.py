"""关联分析 Relationships: does an input go with a KPI within units, and does that survive correction?"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from application import statistics as stats
from application.context import Context, Outcome
from application.selection import Selection


@dataclass(frozen=True)
class Params:
    x: str = "theme_days"
    y: str = field(default_factory=stats.default_kpi)
    lag: int = 1


def __getattr__(name: str):
    """`DEFAULTS`: the first-visit parameters, which follow the active industry profile's defaults."""
    if name == "DEFAULTS":
        return Params()
    raise AttributeError(name)
MIN_POINTS = 10


@dataclass
class RelationshipsView:
    params: Params
    narrowed: bool
    points: Outcome
    correlations: Outcome
    quartiles: Outcome
    too_few: bool = False
    comparison: pd.DataFrame | None = None  # scope (pooled | within) -> r, ci, p, q, n, n_units
    warning: str | None = None  # sign_flip | pooled_only | None: the chosen pair's own p-values decide
    heat_r: pd.DataFrame | None = None  # input x kpi, within Pearson r
    heat_q: pd.DataFrame | None = None
    pending: list = field(default_factory=list)


def options(ctx: Context | None = None, sel: Selection | None = None) -> dict[str, list]:
    return {"x": stats.inputs(), "y": stats.kpis(), "lag": list(range(stats.LAG_MAX + 1))}


def resolve(p: Params) -> Params:
    o = options()
    return Params(p.x if p.x in o["x"] else Params().x, p.y if p.y in o["y"] else Params().y,
                  p.lag if p.lag in o["lag"] else Params().lag)


def jobs(ctx: Context, sel: Selection, p: Params) -> dict:
    p = resolve(p)
    return {"points": stats.job(stats.within_points, sel, p.x, p.y, p.lag),
            "correlations": stats.job(stats.corr_matrix, sel, p.lag),
            "quartiles": stats.job(stats.quartiles, sel, p.x, p.y, p.lag)}


def view(ctx: Context, sel: Selection, p: Params | None = None) -> RelationshipsView:
    p = resolve(p or Params())
    out = ctx.outcomes(jobs(ctx, sel, p))
    vm = RelationshipsView(p, sel.is_narrowed(), out["points"], out["correlations"], out["quartiles"],
                           pending=[o.job for o in out.values() if o.pending])
    if out["points"].ok and out["points"].value[3] < MIN_POINTS:
        vm.too_few = True
        return vm
    if not out["correlations"].ok:
        return vm
    table = out["correlations"].value.table
    t = table[(table.input == p.x) & (table.kpi == p.y) & (table.method == "pearson")].set_index("scope")
    vm.comparison = t.loc[["pooled", "within"], ["r", "ci_low", "ci_high", "p_value", "q_value", "n", "n_units"]]
    pooled_sig, within_sig = t.loc["pooled", "p_value"] < 0.05, t.loc["within", "p_value"] < 0.05
    if pooled_sig and within_sig and (t.loc["pooled", "r"] > 0) != (t.loc["within", "r"] > 0):
        vm.warning = "sign_flip"
    elif pooled_sig and not within_sig:
        vm.warning = "pooled_only"
    wt = table[(table.scope == "within") & (table.method == "pearson")]
    vm.heat_r = wt.pivot(index="input", columns="kpi", values="r").reindex(index=stats.inputs(), columns=stats.kpis())
    vm.heat_q = wt.pivot(index="input", columns="kpi", values="q_value").reindex(index=stats.inputs(), columns=stats.kpis())
    return vm
