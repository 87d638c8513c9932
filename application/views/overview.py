"""总览 Overview: the quarter's headline cards, the index trend, the quadrant with movers, the funnel.

It works on quarters: the sidebar's period widened to whole quarters, its types and areas. It always
compares every business unit of that scope (the quadrant is a comparison of units); with one unit chosen
in the sidebar the page says so."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analytics.periods import quarter_of, shift_quarter
from application import statistics as stats
from application.context import Context, Outcome
from application.selection import Selection
from analytics.indices import QUADRANTS
from catalogue import profile, target_status, targets, targets_digest

SPARK_QUARTERS = 8  # the cards' sparklines: two years


def cards() -> list[str]:
    """The overview's headline cards (the active industry profile's)."""
    return list(profile().defaults["cards"])


def funnel_spec() -> dict:
    """The funnel plot's rate = per × count / exposure (the active industry profile's)."""
    return profile().defaults["funnel"]


@dataclass(frozen=True)
class Params:
    quarter: str | None = None  # None: the quarter holding the selection's end (else the last one)


DEFAULTS = Params()


@dataclass(frozen=True)
class Card:
    metric: str
    value: float | None
    prev: float | None
    yoy: float | None
    status: str  # green | amber | red | "" (no target or no value)
    not_reporting: int  # units of the scope without a value this quarter (left out of the figure)
    target: float | None = None  # the target in force (targets(): the company's own over the defaults)
    amber: float | None = None  # how far on the wrong side still counts as near
    spark: tuple = ()  # the last quarters' values up to this one, oldest first (missing quarters left out)

    @property
    def delta(self) -> float | None:
        return None if self.value is None or self.prev is None else self.value - self.prev

    @property
    def delta_yoy(self) -> float | None:
        return None if self.value is None or self.yoy is None else self.value - self.yoy


@dataclass
class OverviewView:
    quarters: list[str]
    quarter: str | None
    unit_scope: bool  # a single unit is chosen in the sidebar: the overview still compares the scope's units
    result: Outcome | None = None
    cards: list[Card] = field(default_factory=list)
    trend: pd.DataFrame | None = None
    event_quarters: list = field(default_factory=list)  # quarter starts with major-event outages
    now: pd.DataFrame | None = None
    quadrant_counts: dict = field(default_factory=dict)
    movers: pd.DataFrame | None = None
    funnel: pd.DataFrame | None = None
    funnel_overall: float | None = None
    alerts: pd.DataFrame | None = None  # 预警: analytics.alerts.quarter_alerts rows, worst first


def options(ctx: Context, sel: Selection) -> dict[str, list]:
    q = sel.quarterly()
    quarters = [p for p in ctx.snapshot.periods("quarter", q.unit_types, q.regions)
                if (not q.start or p >= q.start) and (not q.end or p <= q.end)]
    return {"quarter": quarters}


def resolve(ctx: Context, sel: Selection, p: Params) -> Params:
    quarters = options(ctx, sel)["quarter"]
    if p.quarter in quarters or not quarters:
        return p if quarters else Params(None)
    end_q = quarter_of(sel.end)
    return Params(end_q if end_q in quarters else quarters[-1])


def jobs(ctx: Context, sel: Selection, p: Params) -> dict:
    p = resolve(ctx, sel, p)
    if not p.quarter:
        return {}
    return {"overview": stats.job(stats.overview, sel.quarterly(), p.quarter),
            "alerts": stats.job(stats.alerts, sel.quarterly(), p.quarter, targets_digest())}


def _val(s: pd.Series, key) -> float | None:
    v = s.get(key)
    return None if v is None or pd.isna(v) else float(v)


def view(ctx: Context, sel: Selection, p: Params = DEFAULTS) -> OverviewView:
    quarters = options(ctx, sel)["quarter"]
    p = resolve(ctx, sel, p)
    vm = OverviewView(quarters, p.quarter, unit_scope=bool(sel.unit))
    if not p.quarter:
        return vm
    outcomes = ctx.outcomes(jobs(ctx, sel, p))
    vm.result = outcomes["overview"]
    if not vm.result.ok:
        return vm
    if outcomes["alerts"].ok:
        vm.alerts = outcomes["alerts"].value
    ov, q = vm.result.value, p.quarter
    totals, missing = ov["totals"], ov["not_reporting"]
    in_force = targets()
    for mid in cards():
        value = _val(totals[mid], q)
        tg = in_force.get(mid)
        spark = tuple(float(v) for k, v in totals[mid].dropna().items() if shift_quarter(q, SPARK_QUARTERS) < k <= q)
        vm.cards.append(Card(mid, value, _val(totals[mid], shift_quarter(q, 1)), _val(totals[mid], shift_quarter(q, 4)),
                             target_status(mid, value), int(missing[mid].get(q, 0)) if mid in missing else 0,
                             None if tg is None else float(tg["value"]), None if tg is None else float(tg["amber"]),
                             spark))
    vm.trend = ov["trend"]
    events = ctx.snapshot.major_event_months()
    if not events.empty:
        vm.event_quarters = list(pd.to_datetime(events["month"]).dt.to_period("Q").dt.start_time.drop_duplicates())
    vm.now = ov["now"]
    counts = vm.now["quadrant"].value_counts()
    vm.quadrant_counts = {k: int(counts.get(k, 0)) for k in QUADRANTS}
    vm.movers = ov["movers"]
    vm.funnel = ov["funnel"]
    if len(vm.funnel):
        fn = funnel_spec()
        vm.funnel_overall = float(fn["per"] * vm.funnel[fn["count"]].sum() / vm.funnel[fn["exposure"]].sum())
    return vm


