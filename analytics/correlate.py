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
from scipy import stats
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


def _scales(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Root mean square of each column (already centred), 1 where a column has no variation; and which."""
    ms = np.einsum("ij,ij->j", M, M) / len(M)
    flat = ms <= 1e-24
    return np.sqrt(np.where(flat, 1.0, ms)), flat


class _Clusters:
    """The rows of one sample grouped by cluster, to form every cluster's cross-products at once: rows are
    laid out as a zero-padded (cluster x slot) grid, so that sum over a cluster's rows of a b' is one
    batched matrix product (a panel is nearly balanced: the padding is small)."""

    CHUNK_CELLS = 2_000_000  # grid cells per batch (rows x columns): bounds the memory of the padded copies

    def __init__(self, clusters: np.ndarray):
        codes = np.unique(clusters, return_inverse=True)[1]
        self.n, self.g = len(codes), int(codes.max()) + 1 if len(codes) else 0
        self.order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=self.g)
        self.width = int(sizes.max()) if self.g else 0
        self.starts = np.concatenate([[0], np.cumsum(sizes)])  # cluster c: sorted rows starts[c]..starts[c+1]-1
        sorted_codes = codes[self.order]
        self.codes, self.slot = sorted_codes, np.arange(self.n) - self.starts[sorted_codes]

    def _grid(self, M: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Clusters lo..hi-1 of M (rows in the caller's order) as a (clusters x slot x column) array."""
        out = np.zeros((hi - lo, self.width, M.shape[1]))
        rows = slice(self.starts[lo], self.starts[hi])
        out[self.codes[rows] - lo, self.slot[rows]] = M[self.order[rows]]
        return out

    def cross(self, A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For every cluster, the sum over its rows of a b' (G x ka x kb) and of a*a (G x ka)."""
        ab = np.empty((self.g, A.shape[1], B.shape[1]))
        aa = np.empty((self.g, A.shape[1]))
        step = max(1, self.CHUNK_CELLS // max(1, self.width * (A.shape[1] + B.shape[1])))
        for lo in range(0, self.g, step):
            hi = min(self.g, lo + step)
            a = self._grid(A, lo, hi)
            ab[lo:hi] = np.matmul(a.transpose(0, 2, 1), self._grid(B, lo, hi))
            aa[lo:hi] = np.einsum("gsi,gsi->gi", a, a)
        return ab, aa


def _clustered_r(A: np.ndarray, B: np.ndarray, clusters: _Clusters) -> tuple[np.ndarray, np.ndarray, int]:
    """r of every column pair of A and B (centred) with its cluster-robust standard error: r is the slope of
    b on a (both standardised), the score of cluster g is sum_g a*b - r * sum_g a*a. The sums are formed on
    the unscaled columns and scaled afterwards (the same numbers, without two scaled copies of the data)."""
    n = len(A)
    sa, flat_a = _scales(A)
    sb, flat_b = _scales(B)
    scale = np.outer(sa, sb)
    r = (A.T @ B) / n / scale
    ab, aa = clusters.cross(A, B)
    score = ab / scale[None] - r[None, :, :] * (aa / (sa * sa)[None])[:, :, None]  # G x ka x kb
    var = np.einsum("gij,gij->ij", score, score) / (n * n)
    n_g = clusters.g
    se = np.sqrt(var * n_g / max(n_g - 1, 1))
    bad = flat_a[:, None] | flat_b[None, :]
    return np.where(bad, np.nan, r), np.where(bad, np.nan, se), n_g


def _sort_order(col: np.ndarray) -> np.ndarray:
    """The order that sorts a column, missing values last. Counts (meetings, posts, violations: whole
    numbers in a small range) are sorted as 16-bit integers, which numpy sorts by radix in one pass."""
    ok = ~np.isnan(col)
    vals = col[ok]
    if len(vals) and np.all(vals == np.round(vals)) and vals.min() >= -30_000 and vals.max() <= 30_000:
        keys = np.full(len(col), 32_000, dtype=np.int16)
        keys[ok] = vals.astype(np.int16)
        return np.argsort(keys, kind="stable")
    return np.argsort(col)


def _ranks(M: np.ndarray, orders: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties shared, as scipy's rankdata) within the sample `rows` (a mask over M's
    rows) of each column of M; `orders` holds each column's sort order over all rows, computed once, so
    that every sample a column enters is ranked without sorting again."""
    position = np.cumsum(rows) - 1  # a kept row's place in the sample
    n = int(rows.sum())
    out = np.empty((n, M.shape[1]))
    for j, order in enumerate(orders):
        kept = order[rows[order]]
        s = M[kept, j]
        new = np.empty(n, bool)
        new[:1] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        average = (starts + np.append(starts[1:], n) + 1) / 2.0
        out[position[kept], j] = average[np.cumsum(new) - 1]
    return out


def _pair_block(xv: np.ndarray, yv: np.ndarray, unit: np.ndarray, period: np.ndarray):
    """(r, se) pooled and within for every (x column, y column) on one common sample."""
    clusters = _Clusters(unit)
    pooled = _clustered_r(xv - xv.mean(axis=0), yv - yv.mean(axis=0), clusters)
    both = demean_two_way(np.hstack([xv, yv]), unit, period)  # one pass for both sides
    k = xv.shape[1]
    within = _clustered_r(both[:, :k], both[:, k:], clusters)
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
    # each column sorted once (missing values last) for the rank correlations of every sample it enters
    x_order = [_sort_order(X[:, j]) for j in range(X.shape[1])] if "spearman" in methods else []
    y_order = [_sort_order(Y[:, j]) for j in range(Y.shape[1])] if "spearman" in methods else []
    cells = {}
    for px in np.unique(x_pat):
        for py in np.unique(y_pat):
            xi, yi = np.flatnonzero(x_pat == px), np.flatnonzero(y_pat == py)
            rows_ok = ~np.isnan(X[:, xi[0]]) & ~np.isnan(Y[:, yi[0]])
            n = int(rows_ok.sum())
            units = len(np.unique(unit_codes[rows_ok]))
            for method in methods:
                if n < MIN_N:
                    nan = np.full((len(xi), len(yi)), np.nan)
                    pooled = within = (nan, nan, units)
                else:
                    if method == "spearman":
                        xv = _ranks(X[:, xi], [x_order[i] for i in xi], rows_ok)
                        yv = _ranks(Y[:, yi], [y_order[j] for j in yi], rows_ok)
                    else:
                        xv, yv = X[np.ix_(rows_ok, xi)], Y[np.ix_(rows_ok, yi)]
                    pooled, within = _pair_block(xv, yv, unit_codes[rows_ok], period_codes[rows_ok])
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
