"""The one selection type: what the sidebar chose, in ids and period labels, never in shown labels.

Every page, view, statistic and export reads the same `Selection`, so a selection means the same on each
of them and switching language cannot change it."""
from __future__ import annotations

from dataclasses import dataclass

from analytics.panel import PanelFilter
from analytics.periods import GRAINS, quarter_of



def vocabulary(kind: str) -> tuple[str, ...]:
    """The values of `unit_type` or `region` in the active industry profile's order (its vocabulary)."""
    from catalogue import profile

    return tuple(v["zh"] for v in profile().values(kind))


@dataclass(frozen=True)
class Selection:
    """Business units by type, area or one unit, a grain, and an inclusive period range (None: open)."""
    grain: str = "month"
    start: str | None = None
    end: str | None = None
    unit_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    unit: str | None = None
    # an organisation of the org tree (a 党委 node): every page rolls up beneath it. Applied where the run's
    # context is made (Context.narrowed, as a user's data permission is), not by each statistic
    org: str | None = None

    def __post_init__(self):
        if self.grain not in GRAINS:
            raise ValueError(f"grain must be one of {GRAINS}, got {self.grain!r}")
        if self.start and self.end and self.start > self.end:  # a reversed range means the same range
            start, end = self.end, self.start
            object.__setattr__(self, "start", start)
            object.__setattr__(self, "end", end)

    def units(self) -> tuple[str, ...]:
        return (self.unit,) if self.unit else ()

    def panel_filter(self, with_unit: bool = False) -> PanelFilter:
        """Rows of the selection; the unit only `with_unit` (statistics compare the units of a scope)."""
        return PanelFilter(unit_types=self.unit_types, regions=self.regions,
                           units=self.units() if with_unit else (), start=self.start, end=self.end)

    def scope(self) -> PanelFilter:
        """Which units, over every period (the briefing chooses its own quarter)."""
        return PanelFilter(unit_types=self.unit_types, regions=self.regions, units=self.units())

    def is_narrowed(self) -> bool:
        return bool(self.unit_types or self.regions or self.unit or self.org)

    def quarterly(self) -> Selection:
        """The same units over the quarters that hold the period range, every unit of the scope."""
        return Selection("quarter", quarter_of(self.start), quarter_of(self.end), self.unit_types, self.regions, None,
                         self.org)

    def whole_company(self) -> Selection:
        """Every unit (of the organisation chosen) over the same period and grain (a model fitted on all units)."""
        return Selection(self.grain, self.start, self.end, org=self.org)


UNIT_MATCHES = 50  # the units a unit search lists at once (settings: PBKPI_UNIT_LIST_MAX says when a list is searched)


def find_units(names: dict[str, str], query: str | None, limit: int = UNIT_MATCHES) -> tuple[list[str], int]:
    """The units whose code or name holds every word of `query` (case-insensitive), a code equal to the
    query first, then in code order: the first `limit` of them, and how many there are. An empty query
    matches every unit."""
    words = (query or "").lower().split()
    if not words:
        return list(names)[:limit], len(names)
    found = [u for u, name in names.items() if all(w in f"{u} {name}".lower() for w in words)]
    exact = [u for u in found if u.lower() == " ".join(words)]
    found = exact + [u for u in found if u not in exact]
    return found[:limit], len(found)
