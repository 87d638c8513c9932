"""Where a unit stands among its peers: tie-aware percentiles, never for a missing value.

The percentile is the mid-rank: the share of peers below the unit's value plus half the share equal to
it (the unit itself included), times 100. When every peer ties (all at 100% 电费回收率) each stands at the
50th percentile, not the 0th. Peers without a value are not counted; a unit without a value gets no
percentile. Direction-aware: for a lower-is-better metric the scale is turned over, so a high
percentile is always the good end."""
from __future__ import annotations

import numpy as np
import pandas as pd

from catalogue import metric

MIN_PEERS = 3


def mid_rank_percentile(values: pd.Series, value: float) -> float:
    v = values.dropna().to_numpy(dtype=float)
    return float(100.0 * ((v < value).sum() + 0.5 * (v == value).sum()) / len(v))


def peer_percentiles(peers: pd.DataFrame, unit: str, metric_ids: list[str], unit_col: str = "business_unit_id") -> pd.DataFrame:
    """One row per metric the unit reported with at least MIN_PEERS reporting peers: its value, the number
    of peers with a value and the direction-aware percentile (`standing` over the peers' values)."""
    mine = peers[peers[unit_col] == unit]
    if mine.empty:
        return standing({}, {})
    values = {m: [float(x) for x in peers[m].dropna() if np.isfinite(float(x))] for m in metric_ids if m in peers}
    return standing(values, {m: mine[m].iloc[0] for m in values})


def standing(peer_values: dict[str, list[float]], mine: dict[str, float | None]) -> pd.DataFrame:
    """The same table as peer_percentiles, from a unit's own values and its peers' bare values (no ids):
    one row per metric the unit reported with at least MIN_PEERS reporting peers."""
    rows = []
    for mid, values in peer_values.items():
        v = mine.get(mid)
        if v is None or pd.isna(v) or not np.isfinite(float(v)) or len(values) < MIN_PEERS:
            continue
        pct = mid_rank_percentile(pd.Series(values, dtype=float), float(v))
        rows.append({"metric": mid, "value": float(v), "n_peers": len(values),
                     "percentile": pct if metric(mid).direction != "lower" else 100.0 - pct})
    return pd.DataFrame(rows, columns=["metric", "value", "n_peers", "percentile"])
