"""Composite party-building and business indices, the 党建–业务 quadrant, and coupling coordination.

Each index is the mean, over the catalogue metrics tagged `index = "pb"` or `"biz"`, of the unit's
percentile rank among units in the same period (direction-aware: for lower-is-better metrics a low value
ranks high). 0-100; 50 is the median unit. The quadrant splits at 50 on both, so it is relative: 双强
means above the median unit on both, not good in any absolute sense."""
from __future__ import annotations

import numpy as np
import pandas as pd

from catalogue import metrics

QUADRANTS = ("both_strong", "pb_strong_biz_weak", "biz_strong_pb_weak", "both_weak")


def index_metrics(kind: str) -> list[str]:
    return [m.id for m in metrics().values() if m.index == kind]


def compute_indices(df: pd.DataFrame, scope: str = "period") -> pd.DataFrame:
    """Add pb_index, biz_index, quadrant and coupling (coordination degree D) to a panel frame.

    scope="period": ranks among units in the same period (for the quadrant: who is ahead now);
    scope="pooled": ranks among all unit-periods shown (for trends: is the company getting better)."""
    out = df.copy(deep=False)  # a new frame for the added columns; the data is shared (copy-on-write)
    keys = out["period"] if scope == "period" else pd.Series(0, index=out.index)
    for kind in ("pb", "biz"):
        ranks = []
        for mid in index_metrics(kind):
            if mid not in out or out[mid].notna().sum() == 0:
                continue
            r = out.groupby(keys)[mid].rank(pct=True)
            if metrics()[mid].direction == "lower":
                r = 1 - r + 1 / out.groupby(keys)[mid].transform("count")
            ranks.append(r)
        out[f"{kind}_index"] = 100 * pd.concat(ranks, axis=1).mean(axis=1) if ranks else np.nan
    pb, biz = out["pb_index"], out["biz_index"]
    out["quadrant"] = np.select(
        [(pb >= 50) & (biz >= 50), (pb >= 50) & (biz < 50), (pb < 50) & (biz >= 50), (pb < 50) & (biz < 50)],
        QUADRANTS, default=None)
    u1, u2 = pb / 100, biz / 100
    c = 2 * np.sqrt(u1 * u2) / (u1 + u2)
    out["coupling"] = np.sqrt(c * (u1 + u2) / 2)
    return out


def quadrant_movers(df: pd.DataFrame, period: str, previous: str) -> pd.DataFrame:
    """Units whose quadrant changed between two periods."""
    a = df[df["period"] == previous][["unit", "quadrant"]].rename(columns={"quadrant": "before"})
    b = df[df["period"] == period][["unit", "quadrant", "pb_index", "biz_index"]
                                  + [c for c in ("business_unit_name",) if c in df]].rename(columns={"quadrant": "after"})
    m = b.merge(a, on="unit")
    return m[m["before"] != m["after"]].reset_index(drop=True)
