"""Which way does the data point? A panel Granger-style check.

forward:  y(t) ~ y(t-1) + x(t-1) | unit + period   — does last period's input predict the KPI?
backward: x(t) ~ x(t-1) + y(t-1) | unit + period   — does last period's KPI predict the input?
Both with unit-clustered errors. A branch that steps up its activity *because* a KPI went bad shows up
as a backward link. With T periods per unit the lagged-outcome term has a Nickell bias of order 1/T;
with five years of months it is small, with a few quarters it is not (the summary says so)."""
from __future__ import annotations

import pyfixest as pf

from analytics.errors import AnalysisError
from analytics.fe import SSC, estimates_from
from analytics.panel import Panel, add_lag, check_columns, lag_name
from analytics.results import ReverseResult

ALPHA = 0.05


def _fit(df, dep: str, own_lag: str, cross_lag: str):
    d = df[["unit", "t", dep, own_lag, cross_lag]].dropna()
    if d["unit"].nunique() < 3 or d["t"].nunique() < 3:
        raise AnalysisError("方向检验至少需要 3 个单位、3 个时期的连续数据。(need 3 units and 3 consecutive periods)")
    for c in (dep, cross_lag):
        if d[c].nunique() <= 1:
            raise AnalysisError(f"指标 {c} 为常数，无法做方向检验。(constant series)")
    fit = pf.feols(f"{dep} ~ {own_lag} + {cross_lag} | unit + t", data=d, vcov={"CRV1": "unit"}, ssc=pf.ssc(**SSC))
    est = {e.name: e for e in estimates_from(fit)}
    return est[cross_lag], len(d), d["unit"].nunique()


def reverse_check(panel: Panel, y: str, x: str) -> ReverseResult:
    df = panel.df
    check_columns(df, [y, x])
    df = add_lag(add_lag(df, x, 1), y, 1)
    fwd, n_f, units = _fit(df, y, lag_name(y, 1), lag_name(x, 1))
    bwd, n_b, _ = _fit(df, x, lag_name(x, 1), lag_name(y, 1))
    f_sig, b_sig = fwd.p_value < ALPHA, bwd.p_value < ALPHA
    verdict = "both" if f_sig and b_sig else "forward" if f_sig else "backward" if b_sig else "neither"
    return ReverseResult(y=y, x=x, grain=panel.grain, forward=fwd, backward=bwd, n_obs_forward=n_f,
                         n_obs_backward=n_b, n_units=int(units), verdict=verdict,
                         settings={"alpha": ALPHA, "spec": "own lag + cross lag, unit and period FE, cluster(unit)"})
