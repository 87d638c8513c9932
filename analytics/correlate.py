"""Input x KPI correlation matrix: pooled and within-unit, Pearson and Spearman, BH q-values.

Within-unit correlation demeans both series by unit (the fixed-effects transformation), so a unit that
is simply bigger or more urban than another does not count as evidence. p-values for within
correlations use n - units - 1 degrees of freedom. Observations of one unit are not independent over
time, so these p-values are screening figures; the TWFE fit with clustered errors is the test."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.errors import AnalysisError
from analytics.panel import Panel, add_lag, check_columns, lag_name
from analytics.results import CorrelationResult

MIN_N = 10


def _r_test(r: float, df: int) -> tuple[float, float, float]:
    """p-value and Fisher-z 95% CI for a correlation with `df` residual degrees of freedom."""
    if df < 2 or not np.isfinite(r):
        return np.nan, np.nan, np.nan
    r = float(np.clip(r, -0.999999, 0.999999))
    t = r * np.sqrt(df / (1 - r * r))
    p = 2 * stats.t.sf(abs(t), df)
    z, se = np.arctanh(r), 1 / np.sqrt(max(df - 1, 1))
    return float(p), float(np.tanh(z - 1.96 * se)), float(np.tanh(z + 1.96 * se))


def _demean(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Subtract each unit's mean (bincount instead of a groupby: this runs for every pair)."""
    sums = np.bincount(codes, weights=values, minlength=n_groups)
    counts = np.bincount(codes, minlength=n_groups)
    return values - (sums / np.maximum(counts, 1))[codes]


def correlate(panel: Panel, inputs: list[str], kpis: list[str], lag: int = 0,
              methods: tuple[str, ...] = ("pearson", "spearman")) -> CorrelationResult:
    df = panel.df
    check_columns(df, inputs + kpis)
    for x in inputs:
        df = add_lag(df, x, lag)
    rows = []
    for x in inputs:
        xc = lag_name(x, lag)
        for y in kpis:
            d = df[["unit", xc, y]].dropna()
            n = len(d)
            codes, uniques = pd.factorize(d["unit"])
            units = len(uniques)
            for method in methods:
                xs, ys = (d[xc], d[y]) if method == "pearson" else (d[xc].rank(), d[y].rank())
                xv, yv = xs.to_numpy(dtype=float), ys.to_numpy(dtype=float)
                for scope in ("pooled", "within"):
                    if n < MIN_N or np.ptp(xv) == 0 or np.ptp(yv) == 0:
                        r, dof = np.nan, 0
                    elif scope == "pooled":
                        r, dof = float(np.corrcoef(xv, yv)[0, 1]), n - 2
                    else:
                        xw, yw = _demean(xv, codes, units), _demean(yv, codes, units)
                        ok = xw.std() > 1e-12 and yw.std() > 1e-12
                        r, dof = (float(np.corrcoef(xw, yw)[0, 1]) if ok else np.nan), n - units - 1
                    p, lo, hi = _r_test(r, dof)
                    rows.append(dict(input=x, kpi=y, method=method, scope=scope, r=r, n=n, n_units=units,
                                     p_value=p, ci_low=lo, ci_high=hi))
    table = pd.DataFrame(rows)
    if table.empty or table["r"].notna().sum() == 0:
        raise AnalysisError("所选范围内没有足够的数据计算相关系数（每对指标至少需要 10 个观测）。(not enough data)")
    table["q_value"] = np.nan
    for (_, _), grp in table.groupby(["method", "scope"]):
        ok = grp["p_value"].notna()
        if ok.any():
            table.loc[grp.index[ok], "q_value"] = multipletests(grp.loc[ok, "p_value"], method="fdr_bh")[1]
    wide = table[table.method == "pearson"].pivot_table(index=["input", "kpi"], columns="scope", values=["r", "q_value"])
    simpson = []
    for (x, y), row in wide.iterrows():
        rp, rw = row[("r", "pooled")], row[("r", "within")]
        qp, qw = row[("q_value", "pooled")], row[("q_value", "within")]
        # a real reversal: both directions hold after BH, with opposite signs
        if np.sign(rp) != np.sign(rw) and max(qp, qw) < 0.05:
            simpson.append(dict(input=x, kpi=y, r_pooled=rp, r_within=rw, q_pooled=qp, q_within=qw))
    return CorrelationResult(
        table=table, simpson=pd.DataFrame(simpson, columns=["input", "kpi", "r_pooled", "r_within", "q_pooled", "q_within"]),
        n_units=int(df["unit"].nunique()), n_periods=int(df["t"].nunique()), grain=panel.grain, lag=lag,
        settings={"multiple_testing": "Benjamini-Hochberg within each method x scope matrix",
                  "within": "unit-demeaned", "min_n": MIN_N},
    )
