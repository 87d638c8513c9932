"""季度简报 Quarterly briefing: every number of the briefing for a quarter and the sidebar's units (every
quarter in the warehouse is offered: a briefing is about one quarter, whatever period the sidebar shows)."""
from __future__ import annotations

from dataclasses import dataclass

from application import statistics as stats
from catalogue import targets_digest
from application.context import Context, Outcome
from application.selection import Selection


@dataclass(frozen=True)
class Params:
    quarter: str | None = None  # None: the last quarter in the warehouse


DEFAULTS = Params()
# the initiatives the page's table lists (a group starts thousands a quarter: all of them were 1.9 MB a run);
# its CSV and the exports' own lists are unaffected
INITIATIVES_SHOWN = 200


@dataclass
class BriefingView:
    quarters: list[str]
    quarter: str | None
    result: Outcome | None  # a Briefing; None when the warehouse has no quarter


def options(ctx: Context, sel: Selection | None = None) -> dict[str, list]:
    return {"quarter": ctx.snapshot.periods("quarter")}


def resolve(ctx: Context, p: Params) -> Params:
    quarters = options(ctx)["quarter"]
    return p if p.quarter in quarters else Params(quarters[-1] if quarters else None)


def jobs(ctx: Context, sel: Selection, p: Params) -> dict:
    p = resolve(ctx, p)
    return {"briefing": stats.job(stats.briefing, p.quarter, sel.scope(), targets_digest())} if p.quarter else {}


def view(ctx: Context, sel: Selection, p: Params = DEFAULTS) -> BriefingView:
    p = resolve(ctx, p)
    j = jobs(ctx, sel, p)
    return BriefingView(options(ctx)["quarter"], p.quarter, ctx.outcomes(j)["briefing"] if j else None)
