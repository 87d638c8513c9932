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


def _corr_columns(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of A with every column of B (rows already aligned)."""
    A = A - A.mean(axis=0)
    B = B - B.mean(axis=0)
    na, nb = np.sqrt((A * A).sum(axis=0)), np.sqrt((B * B).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (A.T @ B) / np.outer(na, nb)


def _demean_columns(M: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    counts = np.maximum(np.bincount(codes, minlength=n_groups), 1)
    means = np.column_stack([np.bincount(codes, weights=M[:, j], minlength=n_groups) for j in range(M.shape[1])])
    return M - (means / counts[:, None])[codes]


def _pair_block(xv: np.ndarray, yv: np.ndarray, codes: np.ndarray, units: int, method: str):
    """r for every (x column, y column) on one common sample: pooled and within, with degeneracy masks."""
    if method == "spearman":
        xv, yv = stats.rankdata(xv, axis=0), stats.rankdata(yv, axis=0)
    flat = (np.ptp(xv, axis=0)[:, None] == 0) | (np.ptp(yv, axis=0)[None, :] == 0)
    pooled = np.where(flat, np.nan, _corr_columns(xv, yv))
    xw, yw = _demean_columns(xv, codes, units), _demean_columns(yv, codes, units)
    still = (xw.std(axis=0)[:, None] <= 1e-12) | (yw.std(axis=0)[None, :] <= 1e-12)
    within = np.where(flat | still, np.nan, _corr_columns(xw, yw))
    return pooled, within


def correlate(panel: Panel, inputs: list[str], kpis: list[str], lag: int = 0,
              methods: tuple[str, ...] = ("pearson", "spearman")) -> CorrelationResult:
    df = panel.df
    check_columns(df, inputs + kpis)
    for x in inputs:
        df = add_lag(df, x, lag)
    xcols = [lag_name(x, lag) for x in inputs]
    # pairs share a sample when their columns share a pattern of missing values: one matrix product per
    # pattern pair instead of one pass per input x KPI pair
    X = df[xcols].to_numpy(dtype=float)
    Y = df[kpis].to_numpy(dtype=float)
    unit_codes = pd.factorize(df["unit"])[0]
    x_pat = pd.factorize(pd.Series([np.isnan(X[:, j]).tobytes() for j in range(X.shape[1])], dtype=object))[0]
    y_pat = pd.factorize(pd.Series([np.isnan(Y[:, j]).tobytes() for j in range(Y.shape[1])], dtype=object))[0]
    cells = {}
    for px in np.unique(x_pat):
        for py in np.unique(y_pat):
            xi, yi = np.flatnonzero(x_pat == px), np.flatnonzero(y_pat == py)
            rows_ok = ~np.isnan(X[:, xi[0]]) & ~np.isnan(Y[:, yi[0]])
            n = int(rows_ok.sum())
            codes, uniques = pd.factorize(unit_codes[rows_ok])
            units = len(uniques)
            xv, yv = X[rows_ok][:, xi], Y[rows_ok][:, yi]
            for method in methods:
                if n < MIN_N:
                    pooled = within = np.full((len(xi), len(yi)), np.nan)
                else:
                    pooled, within = _pair_block(xv, yv, codes, units, method)
                for a, i in enumerate(xi):
                    for b, j in enumerate(yi):
                        cells[(i, j, method)] = (n, units, pooled[a, b], within[a, b])
    rows = []
    for i, x in enumerate(inputs):
        for j, y in enumerate(kpis):
            for method in methods:
                n, units, r_pooled, r_within = cells[(i, j, method)]
                for scope, r, dof in (("pooled", r_pooled, n - 2), ("within", r_within, n - units - 1)):
                    r = float(r)
                    dof = dof if np.isfinite(r) else 0
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
