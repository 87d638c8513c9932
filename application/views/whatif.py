"""情景模拟 What-if: what the fitted model predicts for the selected units if inputs change; two scenarios
side by side. The model is fitted on every unit over the selected period; each scenario starts from each
selected unit's latest period."""
from __future__ import annotations

from dataclasses import dataclass, field

from analytics.errors import AnalysisError
from analytics.panel import from_warehouse_frame
from application import statistics as stats
from application.context import Context, Outcome
from application.selection import Selection

SCENARIOS = ("sa", "sb")
# abs: every unit +n; pct: every unit +n%; median: the bottom quarter up to the median; required: every
# branch up to the frequency the branch work rules require (inputs that have one: REQUIRED)
MODES = ("abs", "pct", "median", "required")
SET_MODES = ("median", "required")  # modes without an amount
AMOUNT_RANGE = {"abs": (-5.0, 5.0), "pct": (-50, 100), "median": (0, 0), "required": (0, 0)}
AMOUNT_STEP = {"abs": 0.5, "pct": 5}
# first-visit change per input: scenario A a little, scenario B more
DEFAULT_AMOUNT = {("sa", "abs"): 1.0, ("sb", "abs"): 2.0, ("sa", "pct"): 10, ("sb", "pct"): 25}


@dataclass(frozen=True)
class Scenario:
    mode: str = "abs"
    amounts: tuple[tuple[str, float], ...] = ()  # (input, change); a zero change is no change

    def changes(self) -> dict[str, tuple[str, float]]:
        if self.mode in SET_MODES:  # every chosen input moves by the rule of the mode
            return {x: (self.mode, 0.0) for x, _ in self.amounts}
        return {x: (self.mode, float(a)) for x, a in self.amounts if a}


@dataclass(frozen=True)
class Params:
    y: str = field(default_factory=stats.default_kpi)
    xs: tuple[str, ...] = ("theme_days",)
    lag: int = 1
    a: Scenario = Scenario("abs", (("theme_days", 1.0),))
    b: Scenario = Scenario("abs", (("theme_days", 2.0),))


def __getattr__(name: str):
    """`DEFAULTS`: the first-visit parameters, which follow the active industry profile's defaults."""
    if name == "DEFAULTS":
        return Params()
    raise AttributeError(name)


@dataclass
class WhatIfView:
    params: Params
    model: Outcome | None  # None: no input chosen
    n_units: int = 0
    period: str | None = None
    scenarios: dict = field(default_factory=dict)  # "sa"/"sb" -> WhatIfResult | AnalysisError | None (no change)
    pending: list = field(default_factory=list)


def options(ctx: Context | None = None, sel: Selection | None = None) -> dict[str, list]:
    return {"y": stats.kpis(), "xs": stats.inputs(), "lag": list(range(stats.LAG_MAX + 1)), "mode": list(MODES)}


def amount_ok(mode: str, amount: float) -> bool:
    lo, hi = AMOUNT_RANGE[mode]
    return lo <= amount <= hi


def resolve(p: Params) -> Params:
    o = options()
    xs = tuple(x for x in p.xs if x in o["xs"])

    def scenario(s: Scenario) -> Scenario:
        mode = s.mode if s.mode in MODES else "abs"
        return Scenario(mode, tuple((x, a) for x, a in s.amounts if x in xs and amount_ok(mode, a)))

    return Params(p.y if p.y in o["y"] else Params().y, xs, p.lag if p.lag in o["lag"] else Params().lag,
                  scenario(p.a), scenario(p.b))


def jobs(ctx: Context, sel: Selection, p: Params) -> dict:
    p = resolve(p)
    return {"model": stats.job(stats.whatif_model, sel.whole_company(), p.y, p.xs, p.lag)} if p.xs else {}


# inputs with a frequency the 2018 branch work rules require, and that requirement for a business unit over
# one period: 主题党日 monthly in every branch; the meeting compliance rate at 100%
REQUIRED = {"theme_days": "per_branch_month", "meeting_compliance": 100.0}


def required_levels(ctx: Context, x: str, months: int) -> dict[str, float] | float:
    rule = REQUIRED[x]
    if rule == "per_branch_month":
        bus = ctx.snapshot.business_units()
        return {u: float(n) * months for u, n in zip(bus["business_unit_id"], bus["n_branches"]) if n == n}
    return float(rule)


def analysis_changes(ctx: Context, changes: dict, months: int) -> dict:
    """A scenario's changes as the analysis takes them: `required` becomes a level per unit (inputs without
    a requirement are left unchanged; none with one is an error the page shows)."""
    out = {}
    for x, (mode, amount) in changes.items():
        if mode == "required":
            if x in REQUIRED:
                out[x] = ("level", required_levels(ctx, x, months))
        else:
            out[x] = (mode, amount)
    if changes and not out:
        raise AnalysisError("所选投入指标没有规定频次；“达到规定频次”只适用于主题党日次数和三会一课达标率。"
                            "(no chosen input has a required frequency)")
    return out


def view(ctx: Context, sel: Selection, p: Params | None = None) -> WhatIfView:
    from analytics.whatif import what_if

    p = resolve(p or Params())
    if not p.xs:
        return WhatIfView(p, None)
    out = ctx.outcomes(jobs(ctx, sel, p))
    vm = WhatIfView(p, out["model"], pending=[o.job for o in out.values() if o.pending])
    if not vm.model.ok:
        return vm
    target = from_warehouse_frame(ctx.snapshot.latest(sel), sel.grain)
    vm.n_units = int(target.df["unit"].nunique())
    vm.period = target.df["period"].max() if len(target.df) else None
    for key, s in (("sa", p.a), ("sb", p.b)):
        changes = s.changes()
        if not changes:
            vm.scenarios[key] = None
            continue
        months = 3 if sel.grain == "quarter" else 1
        try:
            vm.scenarios[key] = what_if(vm.model.value, target, analysis_changes(ctx, changes, months), months=months)
        except AnalysisError as exc:
            vm.scenarios[key] = exc
    return vm
