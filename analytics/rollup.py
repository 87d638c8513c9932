"""Company (or any group) figures from business-unit rows, by each metric's catalogue `rollup` rule:
counts sum; rates are weighted by customers or members so that, e.g., the company's complaints per 10k
equals total complaints over total customers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from catalogue import metrics


def rollup(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    out = {}
    groups = df.groupby(by, sort=True)
    for m in metrics().values():
        if m.id not in df:
            continue
        if m.rollup == "sum":
            out[m.id] = groups[m.id].sum(min_count=1)
        elif m.rollup.startswith("wmean:"):
            w = m.rollup.split(":", 1)[1]
            ok = df[m.id].notna() & df[w].notna()
            num = (df[m.id].where(ok) * df[w].where(ok)).groupby([df[b] for b in by]).sum(min_count=1)
            den = df[w].where(ok).groupby([df[b] for b in by]).sum(min_count=1)
            out[m.id] = num / den.replace(0, np.nan)
        else:
            out[m.id] = groups[m.id].mean()
    res = pd.DataFrame(out)
    res["n_units"] = groups.size()
    return res.reset_index()
