"""Gardner's (2021) two-stage difference-in-differences with its GMM-corrected cluster-robust variance,
computed with the unit and period effects absorbed instead of as dummy columns.

pyfixest.did2s builds the first stage's unit and period dummies as a dense n x (units + periods) matrix
to compute the variance: 1.5 GB at 1,170 units x 120 months, 130 GB at group scale. The same numbers
follow from the normal equations of the two-way layout, which only need per-unit and per-period sums
and one periods x periods matrix (the Schur complement after eliminating the unit block):

    stage 1   y = a_unit + b_period + e1        on untreated observations
    stage 2   y - (a_unit + b_period) = X2 beta + e2   on all observations
    V = (X2'X2)^-1 [sum_g w_g w_g'] (X2'X2)^-1,   w_g = X2_g'e2_g - Gamma' X10_g'e1_g,
    Gamma = (X10'X10)^- X1'X2   (X1: the effects' design on all observations, X10: on untreated ones)

X1 Gamma is the same for any generalised inverse (the design's only null direction, +1 on every unit
and -1 on every period, is shared by X1 and X10), so the singular periods block is solved with a
pseudo-inverse. tests/analytics/test_twostage.py pins estimates and standard errors to pyfixest.did2s."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analytics.errors import AnalysisError


PINV_RTOL = 1e-10


@dataclass
class TwoStageFit:
    beta: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int
    dropped: int  # observations whose unit or period has no untreated observation (nothing to impute from)


class _TwoWay:
    """Solver for the normal equations X10'X10 [a; b] = [r_unit; r_period] of the unit + period layout
    restricted to untreated observations."""

    def __init__(self, unit: np.ndarray, period: np.ndarray, n_units: int, n_periods: int):
        self.n_u = np.bincount(unit, minlength=n_units).astype(float)
        n_t = np.bincount(period, minlength=n_periods).astype(float)
        self.C = sparse.csr_matrix((np.ones(len(unit)), (unit, period)), shape=(n_units, n_periods))
        d_inv = sparse.diags(1.0 / self.n_u)
        schur = np.diag(n_t) - (self.C.T @ d_inv @ self.C).toarray()
        # the layout's one null direction gives an eigenvalue at rounding level (1e-13 relative), which the
        # default cutoff keeps and then inverts: cut at 1e-10 so the solve is exact (tested against a dense
        # least-squares imputation to 1e-8 in tests/analytics/test_twostage.py)
        self.schur_pinv = np.linalg.pinv(schur, rtol=PINV_RTOL, hermitian=True)

    def solve(self, r_u: np.ndarray, r_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = r_u / self.n_u[:, None]
        b = self.schur_pinv @ (r_t - self.C.T @ scaled)
        a = scaled - (self.C @ b) / self.n_u[:, None]
        return a, b


def _group_sum(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Column sums of `values` (n_obs x k) by group: a sparse indicator product, no Python loop."""
    ind = sparse.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))), shape=(n, len(codes)))
    return np.asarray(ind @ values)


def two_stage_did(unit: np.ndarray, period: np.ndarray, y: np.ndarray, treated: np.ndarray, X2: np.ndarray,
                  cluster: np.ndarray | None = None) -> TwoStageFit:
    """unit, period: integer codes; treated: bool (D_it); X2: second-stage regressors (n x k, e.g. event-
    time dummies, no intercept); cluster: integer codes (default: unit)."""
    cluster = unit if cluster is None else cluster
    X2 = np.asarray(X2, dtype=float).reshape(len(y), -1)
    untreated = ~np.asarray(treated, dtype=bool)
    # units and periods with no untreated observation cannot be imputed: drop their observations
    ok_u = np.bincount(unit[untreated], minlength=unit.max() + 1) > 0
    ok_t = np.bincount(period[untreated], minlength=period.max() + 1) > 0
    keep = ok_u[unit] & ok_t[period] & np.isfinite(y)
    dropped = int((~keep).sum())
    unit, period, y, untreated, X2, cluster = (np.unique(unit[keep], return_inverse=True)[1],
                                               np.unique(period[keep], return_inverse=True)[1],
                                               y[keep], untreated[keep], X2[keep], cluster[keep])
    cluster = np.unique(cluster, return_inverse=True)[1]
    n_u, n_t, n_g = unit.max() + 1, period.max() + 1, cluster.max() + 1
    if untreated.sum() == 0 or n_g < 2:
        raise AnalysisError("没有足够的未处理观测或聚类来估计两阶段 DiD。(not enough untreated observations or clusters)")
    layout = _TwoWay(unit[untreated], period[untreated], n_u, n_t)

    # stage 1: unit and period effects from untreated observations, residuals for all
    y0 = y[untreated][:, None]
    a, b = layout.solve(_group_sum(unit[untreated], y0, n_u), _group_sum(period[untreated], y0, n_t))
    e1 = y - (a[unit, 0] + b[period, 0])

    # stage 2: imputed effects on the regressors
    xtx = X2.T @ X2
    if np.linalg.matrix_rank(xtx) < X2.shape[1]:
        raise AnalysisError("第二阶段回归变量共线或没有观测。(second-stage regressors are collinear or empty)")
    xtx_inv = np.linalg.inv(xtx)
    beta = xtx_inv @ (X2.T @ e1)
    e2 = e1 - X2 @ beta

    # GMM correction for the estimated first stage (Gardner 2021, eq. 6)
    ga, gb = layout.solve(_group_sum(unit, X2, n_u), _group_sum(period, X2, n_t))
    fitted_gamma = ga[unit] + gb[period]  # X1 Gamma, n x k
    contrib = X2 * e2[:, None] - np.where(untreated, e1, 0.0)[:, None] * fitted_gamma
    scores = _group_sum(cluster, contrib, n_g) @ xtx_inv
    return TwoStageFit(beta=beta, vcov=scores.T @ scores, n_obs=int(len(y)), n_clusters=int(n_g), dropped=dropped)
