"""统计检验 Statistical tests: the two-way fixed-effects fit with diagnostics, the event study, and the
direction check of the first input."""
from __future__ import annotations

from dataclasses import dataclass, field

from application import statistics as stats
from application.context import Context, Outcome
from application.selection import Selection


@dataclass(frozen=True)
class Params:
    y: str = field(default_factory=stats.default_kpi)
    xs: tuple[str, ...] = ("theme_days",)
    lag: int = 1
    controls: tuple[str, ...] = ()
    treatment: str = stats.TREATMENTS[0]
    event_y: str = field(default_factory=stats.default_event_kpi)


def __getattr__(name: str):
    """`DEFAULTS`: the first-visit parameters, which follow the active industry profile's defaults."""
    if name == "DEFAULTS":
        return Params()
    raise AttributeError(name)


@dataclass
class TestsView:
    params: Params
    narrowed: bool
    fit: Outcome  # (FitResult, Diagnostics)
    event: Outcome
    direction: Outcome | None  # of the first input; None without one
    pending: list = field(default_factory=list)


def options(ctx: Context | None = None, sel: Selection | None = None, xs: tuple = ()) -> dict[str, list]:
    return {"y": stats.kpis(), "xs": stats.inputs(), "lag": list(range(stats.LAG_MAX + 1)),
            "controls": [c for c in stats.controls() if c not in xs], "treatment": list(stats.TREATMENTS),
            "event_y": stats.kpis()}


def resolve(p: Params) -> Params:
    o = options(xs=p.xs)
    xs = tuple(x for x in p.xs if x in o["xs"])
    return Params(p.y if p.y in o["y"] else Params().y, xs, p.lag if p.lag in o["lag"] else Params().lag,
                  tuple(c for c in p.controls if c in options(xs=xs)["controls"]),
                  p.treatment if p.treatment in o["treatment"] else Params().treatment,
                  p.event_y if p.event_y in o["event_y"] else Params().event_y)


def jobs(ctx: Context, sel: Selection, p: Params) -> dict:
    p = resolve(p)
    # with no input the fit still runs: its error tells the analyst to choose one
    out = {"fit": stats.job(stats.fit, sel, p.y, p.xs, p.lag, p.controls)}
    out["event"] = stats.job(stats.event, sel, p.event_y, p.treatment)
    if p.xs:
        out["direction"] = stats.job(stats.direction, sel, p.y, p.xs[0])
    return out


def view(ctx: Context, sel: Selection, p: Params | None = None) -> TestsView:
    p = resolve(p or Params())
    out = ctx.outcomes(jobs(ctx, sel, p))
    return TestsView(p, sel.is_narrowed(), out["fit"], out["event"], out.get("direction"),
                     pending=[o.job for o in out.values() if o.pending])
