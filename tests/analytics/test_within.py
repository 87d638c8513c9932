"""The within transformation against a dense least-squares projection on unit and period dummies."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.within import demean_two_way


def dense_residuals(M: np.ndarray, unit: np.ndarray, period: np.ndarray) -> np.ndarray:
    u = np.unique(unit, return_inverse=True)[1]
    t = np.unique(period, return_inverse=True)[1]
    D = np.column_stack([np.eye(u.max() + 1)[u], np.eye(t.max() + 1)[t][:, 1:]])
    return M - D @ np.linalg.lstsq(D, M, rcond=None)[0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_units=st.integers(2, 25), n_t=st.integers(2, 30), holes=st.floats(0, 0.5),
       scale=st.sampled_from([1e-6, 1.0, 1e3, 1e6]))
def test_equals_dense_projection_on_unbalanced_panels_at_any_scale(seed, n_units, n_t, holes, scale):
    """Exact on unbalanced panels, and as exact for a column of ranks in the millions or of rates near 1e-6
    as for one near 1: the tolerance is relative to the column's spread (ranks of 1.4 M rows once never
    converged)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_t)
    period = np.tile(np.arange(n_t), n_units)
    keep = rng.random(len(unit)) >= holes
    keep[:: n_t] = True  # every unit keeps a row
    unit, period = unit[keep], period[keep]
    M = scale * (rng.normal(size=(len(unit), 3)) + unit[:, None] * 0.7 + np.sin(period)[:, None])
    M[:, 2] = scale * 5.0  # a constant: its residual is zero
    got = demean_two_way(M, unit, period)
    want = dense_residuals(M, unit, period)
    assert got == pytest.approx(want, abs=1e-8 * scale)
    assert np.abs(got[:, 2]).max() <= 1e-9 * scale
