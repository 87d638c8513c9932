"""Company (or any group) figures from business-unit rows, by each metric's catalogue `rollup` rule:
counts sum; rates are weighted by customers or members so that, e.g., the company's complaints per 10k
equals total complaints over total customers. A unit without a value (it did not report) is left out of
the sum, the weights and the mean alike — never counted as zero."""
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


def not_reporting(df: pd.DataFrame, by: list[str], ids: list[str]) -> pd.DataFrame:
    """Per group, how many units have no value of each metric (did not report it): shown beside a figure
    that leaves them out (missing is never counted as zero)."""
    cols = [m for m in ids if m in df]
    return df[cols].isna().groupby([df[b] for b in by]).sum().astype(int)
