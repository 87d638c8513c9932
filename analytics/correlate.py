"""Input x KPI correlation matrix: pooled and within, Pearson and Spearman, BH q-values, verdicts.

Within means within unit *and* period: both series are two-way demeaned (analytics/within.py, exact on
unbalanced panels), so neither a unit that is simply bigger or more urban nor a season or trend shared by
all units counts as evidence — the same variation the TWFE fit uses. Inference clusters by unit like the
fits: r is the slope of one standardised series on the other, its standard error the cluster-robust one
(CR1, G/(G-1)) with t(G-1) p-values. The q-values are Benjamini–Hochberg over every test in the result
(all pairs, both methods, both scopes: one family per view). A pair's verdict (`association`,
`no_clear_association`, `insufficient_data`) is Pearson's, from its q-value; Spearman is the robustness check:
its row reads `association` only when its own q-value and Pearson's (same pair and scope) both do — a rank
correlation alone never makes a discovery (on the demo it once did: one BH false discovery among 680 tests)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats
from statsmodels.stats.multitest import multipletests

from analytics.errors import AnalysisError
from analytics.panel import Panel, add_lag, check_columns, lag_name
from analytics.results import CorrelationResult
from analytics.within import demean_two_way

MIN_N = 10
MIN_CLUSTERS = 3
ALPHA = 0.05
VERDICTS = ("association", "no_clear_association", "insufficient_data")


def verdict_of(q: float | None) -> str:
    if q is None or not np.isfinite(q):
        return "insufficient_data"
    return "association" if q < ALPHA else "no_clear_association"


def _standardise(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean square 1 (already centred); and which columns have no variation."""
    ms = (M * M).mean(axis=0)
    flat = ms <= 1e-24
    return M / np.sqrt(np.where(flat, 1.0, ms)), flat


def _clustered_r(A: np.ndarray, B: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """r of every column pair of A and B (centred) with its cluster-robust standard error: r is the slope of
    b on a (both standardised), the score of cluster g is sum_g a*b - r * sum_g a*a."""
    n = len(A)
    A, flat_a = _standardise(A)
    B, flat_b = _standardise(B)
    r = (A.T @ B) / n
    codes, n_g = np.unique(clusters, return_inverse=True)[1], len(np.unique(clusters))
    ind = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_g, n))
    saa = np.asarray(ind @ (A * A))  # G x ka
    var = np.empty_like(r)
    for i in range(A.shape[1]):
        sab = np.asarray(ind @ (A[:, [i]] * B))  # G x kb
        score = sab - r[i][None, :] * saa[:, [i]]
        var[i] = (score * score).sum(axis=0) / (n * n)
    se = np.sqrt(var * n_g / max(n_g - 1, 1))
    bad = flat_a[:, None] | flat_b[None, :]
    return np.where(bad, np.nan, r), np.where(bad, np.nan, se), n_g


def _pair_block(xv: np.ndarray, yv: np.ndarray, unit: np.ndarray, period: np.ndarray, method: str):
    """(r, se) pooled and within for every (x column, y column) on one common sample, and the clusters."""
    if method == "spearman":
        xv, yv = stats.rankdata(xv, axis=0), stats.rankdata(yv, axis=0)
    pooled = _clustered_r(xv - xv.mean(axis=0), yv - yv.mean(axis=0), unit)
    within = _clustered_r(demean_two_way(xv, unit, period), demean_two_way(yv, unit, period), unit)
    return pooled, within


def _r_test(r: float, se: float, n_clusters: int) -> tuple[float, float, float]:
    """p-value and 95% CI from the clustered standard error, t(G-1)."""
    if not (np.isfinite(r) and np.isfinite(se)) or se <= 0 or n_clusters < MIN_CLUSTERS:
        return np.nan, np.nan, np.nan
    df = n_clusters - 1
    p = 2 * stats.t.sf(abs(r / se), df)
    crit = stats.t.ppf(0.975, df)
    return float(p), float(max(r - crit * se, -1.0)), float(min(r + crit * se, 1.0))


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
    period_codes = pd.factorize(df["t"])[0]
    x_pat = pd.factorize(pd.Series([np.isnan(X[:, j]).tobytes() for j in range(X.shape[1])], dtype=object))[0]
    y_pat = pd.factorize(pd.Series([np.isnan(Y[:, j]).tobytes() for j in range(Y.shape[1])], dtype=object))[0]
    cells = {}
    for px in np.unique(x_pat):
        for py in np.unique(y_pat):
            xi, yi = np.flatnonzero(x_pat == px), np.flatnonzero(y_pat == py)
            rows_ok = ~np.isnan(X[:, xi[0]]) & ~np.isnan(Y[:, yi[0]])
            n = int(rows_ok.sum())
            units = len(np.unique(unit_codes[rows_ok]))
            xv, yv = X[rows_ok][:, xi], Y[rows_ok][:, yi]
            for method in methods:
                if n < MIN_N:
                    nan = np.full((len(xi), len(yi)), np.nan)
                    pooled = within = (nan, nan, units)
                else:
                    pooled, within = _pair_block(xv, yv, unit_codes[rows_ok], period_codes[rows_ok], method)
                for a, i in enumerate(xi):
                    for b, j in enumerate(yi):
                        cells[(i, j, method)] = (n, units, pooled[0][a, b], pooled[1][a, b],
                                                 within[0][a, b], within[1][a, b])
    rows = []
    for i, x in enumerate(inputs):
        for j, y in enumerate(kpis):
            for method in methods:
                n, units, r_pooled, se_pooled, r_within, se_within = cells[(i, j, method)]
                for scope, r, se in (("pooled", r_pooled, se_pooled), ("within", r_within, se_within)):
                    p, lo, hi = _r_test(float(r), float(se), units)
                    rows.append(dict(input=x, kpi=y, method=method, scope=scope, r=float(r), std_error=float(se),
                                     n=n, n_units=units, p_value=p, ci_low=lo, ci_high=hi))
    table = pd.DataFrame(rows)
    if table.empty or table["r"].notna().sum() == 0:
        raise AnalysisError("所选范围内没有足够的数据计算相关系数（每对指标至少需要 10 个观测）。(not enough data)")
    table["q_value"] = np.nan
    ok = table["p_value"].notna()
    if ok.any():  # one family: every test in this result
        table.loc[ok, "q_value"] = multipletests(table.loc[ok, "p_value"], method="fdr_bh")[1]
    table["verdict"] = [verdict_of(q) for q in table["q_value"]]
    primary = dict(zip(zip(table["input"], table["kpi"], table["scope"], table["method"]), table["verdict"]))
    table["verdict"] = [v if m != "spearman" or v != "association" or primary.get((x, y, s, "pearson")) == "association"
                        else "no_clear_association"
                        for x, y, s, m, v in zip(table["input"], table["kpi"], table["scope"], table["method"], table["verdict"])]
    # every pair has both scopes (NaN where undefined): unstack keeps them, where pivot_table would drop them
    wide = table[table.method == "pearson"].set_index(["input", "kpi", "scope"])[["r", "q_value"]].unstack("scope")
    simpson = []
    for (x, y), row in wide.iterrows():
        rp, rw = row[("r", "pooled")], row[("r", "within")]
        qp, qw = row[("q_value", "pooled")], row[("q_value", "within")]
        # a real reversal: both directions hold after BH, with opposite signs
        if verdict_of(qp) == verdict_of(qw) == "association" and np.sign(rp) != np.sign(rw):
            simpson.append(dict(input=x, kpi=y, r_pooled=rp, r_within=rw, q_pooled=qp, q_within=qw))
    return CorrelationResult(
        table=table, simpson=pd.DataFrame(simpson, columns=["input", "kpi", "r_pooled", "r_within", "q_pooled", "q_within"]),
        n_units=int(df["unit"].nunique()), n_periods=int(df["t"].nunique()), grain=panel.grain, lag=lag,
        settings={"multiple_testing": "Benjamini-Hochberg over every test in this result (pairs x methods x scopes)",
                  "n_tests": int(ok.sum()), "within": "two-way demeaned (unit and period effects removed)",
                  "inference": "cluster(unit) CR1, t(G-1)", "min_n": MIN_N},
    )
