"""The within transformation: each series minus its unit and period effects, exactly.

On an unbalanced panel, subtracting unit means and then period means (one pass) does not remove both
effects; the exact two-way residual needs the alternating projections to converge. pyfixest's compiled
demeaning does that; the tolerance here is far below anything a figure shows (checked against a dense
least-squares projection in tests/analytics/test_within.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyfixest.estimation import demean

from analytics.errors import AnalysisError

TOL = 1e-10
MAX_ITER = 100_000


def demean_two_way(M: np.ndarray, unit: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Residuals of each column of M (n x k, no missing values) on unit and period effects."""
    M = np.asarray(M, dtype=float)
    if len(unit) == 0:
        return M.reshape(0, M.shape[1] if M.ndim == 2 else 1)
    M = M.reshape(len(unit), -1)
    # the alternating projections stop on an absolute change, so each column is scaled to about unit
    # spread first (scaling commutes with the projection), so that the tolerance means the same for a rate
    # near 1 and for ranks in the millions (a 1.4 M-row column of ranks never met it and ran to MAX_ITER);
    # the spread of about 20,000 rows across the column is enough for that (any positive scale is exact)
    sample = M[:: max(1, len(M) // 20_000)]
    spread = sample.std(axis=0) if len(sample) > 1 else np.ones(M.shape[1])
    spread = np.where(spread > 0, spread, np.maximum(np.abs(sample).max(axis=0, initial=0.0), 1.0))
    Z = np.ascontiguousarray(M / spread)
    flist = np.column_stack([pd.factorize(unit)[0], pd.factorize(period)[0]]).astype(np.uint64)
    out, converged = demean(Z, flist, np.ones(len(Z)), tol=TOL, maxiter=MAX_ITER)
    if not converged:
        raise AnalysisError("单位与时期效应的剔除未收敛，请缩小范围后重试。(two-way demeaning did not converge)")
    return np.asarray(out) * spread


def demean_one_way(M: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Residuals of each column of M on one set of group effects (exact in one pass)."""
    M = np.asarray(M, dtype=float)
    if len(codes) == 0:
        return M.reshape(0, M.shape[1] if M.ndim == 2 else 1)
    M = M.reshape(len(codes), -1)
    codes = np.unique(codes, return_inverse=True)[1]
    n = codes.max() + 1 if len(codes) else 0
    counts = np.maximum(np.bincount(codes, minlength=n), 1)
    means = np.column_stack([np.bincount(codes, weights=M[:, j], minlength=n) for j in range(M.shape[1])])
    return M - (means / counts[:, None])[codes]
