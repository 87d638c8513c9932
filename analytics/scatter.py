"""What a scatter of two within-unit series is summarised by: its OLS line and its bin means, computed on
every point (the chart may draw a sample)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def fit_line(x: pd.Series, y: pd.Series) -> pd.DataFrame | None:
    """The OLS line of y on x over the x range, as 50 points (None when it is undefined)."""
    ok = x.notna() & y.notna()
    if ok.sum() <= 2 or not x[ok].std() > 0:
        return None
    b, a = np.polyfit(x[ok], y[ok], 1)
    xs = np.linspace(x[ok].min(), x[ok].max(), 50)
    return pd.DataFrame({"x": xs, "y": a + b * xs})


def bin_means(x: pd.Series, y: pd.Series, bins: int = 20) -> pd.DataFrame:
    """Mean y (with its standard error) in equal-count bins of x."""
    d = pd.DataFrame({"x": x, "y": y}).dropna()
    if len(d) < 2:  # nothing to bin: an empty frame the chart draws as "no data"
        return pd.DataFrame({"x": [], "y": [], "se": [], "n": []})
    d["bin"] = pd.qcut(d["x"].rank(method="first"), q=min(bins, max(2, len(d) // 10)), labels=False)
    return d.groupby("bin").agg(x=("x", "mean"), y=("y", "mean"), se=("y", "sem"), n=("y", "size"))
