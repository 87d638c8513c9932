"""What a reviewer asks for: observations per unit, missing shares, VIF, residuals vs fitted."""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.outliers_influence import variance_inflation_factor

from analytics.panel import Panel, add_lag, lag_name
from analytics.within import demean_two_way
from analytics.results import Diagnostics, FitResult


def diagnose(fit: FitResult, panel: Panel) -> Diagnostics:
    df = panel.df
    for x in fit.x:
        df = add_lag(df, x, fit.lag)
    xcols = [lag_name(x, fit.lag) for x in fit.x] + fit.controls
    cols = [fit.y, *xcols]
    missing = {c: float(df[c].isna().mean()) for c in cols}
    complete = df.dropna(subset=cols)
    n_per_unit = complete.groupby("unit").size().rename("n").reset_index()
    vif = {}
    if len(xcols) > 1:
        # VIF on the within-transformed regressors: collinearity that matters after fixed effects
        w = demean_two_way(complete[xcols].to_numpy(dtype=float), complete["unit"].to_numpy(), complete["t"].to_numpy())
        X = np.column_stack([np.ones(len(w)), w])
        vif = {c: float(variance_inflation_factor(X, i + 1)) for i, c in enumerate(xcols)}
    rf = pd.DataFrame({"fitted": fit.fitted, "residual": fit.residuals}) if fit.fitted is not None else pd.DataFrame()
    return Diagnostics(n_per_unit=n_per_unit, missing_share=missing, vif=vif, resid_fitted=rf)
