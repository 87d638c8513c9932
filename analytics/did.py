"""Event study for staggered initiatives (党建示范点 designation, 书记项目 start).

Estimator: the imputation / two-stage DiD of Gardner (2021), equivalent in point estimates to
Borusyak, Jaravel & Spiess (2024), computed by analytics/twostage.py (pyfixest.did2s gives the same
numbers but builds dense dummy matrices that do not fit in memory at group scale). Unit and period effects are fitted on untreated
observations only (never-treated units and not-yet-treated periods), treated outcomes are compared with
their imputed untreated values, and the effects are averaged by event time. Unlike plain TWFE event
dummies it is not biased when effects differ across cohorts or grow over time. Standard errors are the
GMM-corrected, unit-clustered ones of Gardner (2021).

Pre-trends are tested as BJS recommend: on untreated observations only, regress the outcome on lead
dummies with unit and period effects, and test the leads jointly: Wald statistic from the unit-clustered
covariance, F(q, G-1) — the small-sample reference that keeps the test near its nominal size with few
clusters (the asymptotic chi-square/q over-rejects). Leads run from -K to -1 but never cover every
pre-period of every treated unit: the periods before the window are the reference, so no lead is
silently dropped as collinear; the leads estimated are reported as such.

Treatment timing is a unit's first period with the indicator positive, read before any row is dropped
for a missing outcome, and is absorbing from then on (a 书记项目 that pauses each January counts from the
first start). Units treated in their first observed period have no pre-period and are left out. No
never-treated group is needed: treated observations in periods with no untreated observation left are
dropped by the imputation (nothing to impute from).

The verdict (`effect | no_clear_effect | pretrend_problem | insufficient_data`) is data: an ATT interval
that spans zero is `no_clear_effect` whatever the pre-trend test says; an interval clear of zero is an
`effect` only if the pre-trend test ran and did not reject at 10%."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats

from analytics.errors import AnalysisError, InsufficientData, named
from analytics.fe import SSC, estimates_from
from analytics.panel import Panel, check_columns
from analytics.results import Estimate, EventStudyResult
from analytics.twostage import TwoStageFit, two_stage_did

DEFAULT_WINDOW = {"month": (6, 12), "quarter": (4, 6)}


def _ev(e: int) -> str:
    return f"ev_m{-e}" if e < 0 else f"ev_p{e}"


def _rename(est: list[Estimate]) -> list[Estimate]:
    for e in est:
        n = e.name
        e.name = f"e={-int(n[4:])}" if n.startswith("ev_m") else f"e={int(n[4:])}"
    return est


def _estimates(fit: TwoStageFit, names: list[str]) -> list[Estimate]:
    """Estimates with t(G-1) inference, as for the TWFE fits (pyfixest.did2s uses t(N-k): the same to
    three decimals with more than a few dozen units)."""
    se = np.sqrt(np.diag(fit.vcov))
    df = max(fit.n_clusters - 1, 1)
    crit = stats.t.ppf(0.975, df)
    out = []
    for name, b, s in zip(names, fit.beta, se):
        p = float(2 * stats.t.sf(abs(b / s), df)) if s > 0 else float("nan")
        out.append(Estimate(name=name, estimate=float(b), std_error=float(s), ci_low=float(b - crit * s),
                            ci_high=float(b + crit * s), p_value=p))
    return out


def event_frame(panel: Panel, y: str, treatment: str) -> tuple[pd.DataFrame, dict]:
    df = panel.df
    check_columns(df, [y, treatment])
    d = df[["unit", "t", y, treatment]].copy()
    # timing from every observed period: a month without the KPI must not move the start date
    on = d[treatment].fillna(0) > 0
    treated_t = d[on].groupby("unit")["t"].min()
    first_t = d.groupby("unit")["t"].min()
    switched_off = int(d[~on & d["unit"].map(treated_t).le(d["t"])]["unit"].nunique())
    d = d[d[y].notna()]
    d["g"] = d["unit"].map(treated_t).astype(float)  # NaN: never treated (float even when nobody is)
    always = treated_t[treated_t <= first_t.reindex(treated_t.index)].index
    d = d[~d["unit"].isin(always)].copy()
    d["rel"] = d["t"] - d["g"]
    d["D"] = (d["rel"] >= 0).astype(int)
    info = {"always_treated_dropped": len(always), "switched_off_units": switched_off,
            "cohorts": d.dropna(subset=["g"]).groupby("g")["unit"].nunique().to_dict()}
    return d, info


def event_study(panel: Panel, y: str, treatment: str = "demo_site", window: tuple[int, int] | None = None,
                with_naive: bool = True) -> EventStudyResult:
    K, L = window or DEFAULT_WINDOW.get(panel.grain, (4, 6))
    d, info = event_frame(panel, y, treatment)
    n_treated = int(d.loc[d["g"].notna(), "unit"].nunique())
    n_never = int(d.loc[d["g"].isna(), "unit"].nunique())
    if n_treated == 0:
        raise InsufficientData(f"所选范围内没有单位在观察期内开始{named(treatment)}，无法做事件研究。(no treated units)")
    if n_never + n_treated < 3 or d["t"].nunique() < 3:
        raise InsufficientData("事件研究至少需要 3 个单位和 3 个时期。(need at least 3 units and 3 periods)")
    untreated_periods = d.loc[d["D"] == 0, "t"].unique()
    if not ((d["D"] == 1) & d["t"].isin(untreated_periods)).any():
        raise InsufficientData("实施后的各期没有尚未实施的单位可作比较（所有单位同时开始）；请扩大范围。"
                               "(no untreated comparison in the treated periods)")
    post = list(range(0, L + 1))
    for e in post:
        d[_ev(e)] = ((d["D"] == 1) & (d["rel"] == e)).astype(int)
    post_cols = [_ev(e) for e in post if d[_ev(e)].sum() > 0]
    unit_codes = pd.factorize(d["unit"])[0]
    t_codes = pd.factorize(d["t"])[0]
    yv, treated = d[y].to_numpy(dtype=float), d["D"].to_numpy().astype(bool)
    try:
        fit_dyn = two_stage_did(unit_codes, t_codes, yv, treated, d[post_cols].to_numpy(dtype=float))
        fit_att = two_stage_did(unit_codes, t_codes, yv, treated, d[["D"]].to_numpy(dtype=float))
    except (AnalysisError, np.linalg.LinAlgError) as exc:
        raise AnalysisError(f"事件研究无法估计：{exc}。(event study could not be estimated)") from exc
    dynamic = _rename(_estimates(fit_dyn, post_cols))
    att = _estimates(fit_att, ["ATT"])[0]

    pre, f_stat, f_p, K_used = pretrend_test(d, y, K)
    naive = naive_event_twfe(d, y, K, L) if with_naive else []
    return EventStudyResult(
        method="did2s (Gardner 2021; imputation, BJS 2024)", y=y, treatment=treatment, grain=panel.grain,
        n_obs=int(len(d)), n_units=int(d["unit"].nunique()), n_treated_units=n_treated, n_periods=int(d["t"].nunique()),
        dynamic=dynamic, pre=pre, pretrend_f=f_stat, pretrend_p=f_p, att=att,
        naive_twfe=naive, cohorts={str(k): int(v) for k, v in info["cohorts"].items()},
        settings={"window": [-K, L], "leads_estimated": K_used, "never_treated_units": n_never,
                  "always_treated_dropped": info["always_treated_dropped"],
                  "switched_off_units": info["switched_off_units"],
                  "dropped_without_untreated_period": int(fit_att.dropped), "library": f"analytics.twostage (GMM variance, absorbed effects); pyfixest {pf.__version__} for the pre-trend and naive fits",
                  "pretrend_test": "BJS: leads on untreated observations, unit+period FE, clustered by unit; Wald/q ~ F(q, G-1)",
                  "treatment_timing": "first period with the indicator positive; absorbing from then on"},
    )


def pretrend_test(d: pd.DataFrame, y: str, K: int) -> tuple[list[Estimate], float | None, float | None, int]:
    """Leads -K..-1 on untreated observations with unit and period effects; joint Wald test, F(q, G-1).
    K is cut so that some treated unit has an untreated period before the window (the reference):
    otherwise the leads of every treated unit would sum to its unit effect and one would be dropped."""
    u = d.loc[d["D"] == 0, ["unit", "t", "rel", y]].copy()
    deepest = int(-u["rel"].min()) if u["rel"].notna().any() else 0  # most pre-periods of any treated unit
    K = min(K, deepest - 1)
    cols = []
    for e in range(-K, 0):
        u[_ev(e)] = (u["rel"] == e).astype(int)
        if u[_ev(e)].sum() > 0:
            cols.append(_ev(e))
    if not cols:
        return [], None, None, 0
    fit = pf.feols(f"{y} ~ {' + '.join(cols)} | unit + t", data=u[[y, "unit", "t", *cols]],
                   vcov={"CRV1": "unit"}, ssc=pf.ssc(**SSC))
    pre = _rename(estimates_from(fit))
    names = list(fit._coefnames)
    b = np.asarray(fit.coef().reindex(names), dtype=float)
    V = np.asarray(fit._vcov, dtype=float)
    q = len(names)
    G = int(u["unit"].nunique())
    try:
        wald = float(b @ np.linalg.solve(V, b))
    except np.linalg.LinAlgError:
        return sorted(pre, key=lambda e: int(e.name[2:])), None, None, len(cols)
    f_stat = wald / q
    f_p = float(stats.f.sf(f_stat, q, max(G - 1, 1)))
    return sorted(pre, key=lambda e: int(e.name[2:])), f_stat, f_p, len(cols)


def naive_event_twfe(d: pd.DataFrame, y: str, K: int, L: int) -> list[Estimate]:
    """Plain TWFE with binned event dummies (reference e=-1). Biased under staggered adoption with
    heterogeneous effects; computed only to show the difference."""
    x = d[["unit", "t", y]].copy(deep=False)
    rel = d["rel"].clip(-K, L)
    cols = []
    for e in list(range(-K, -1)) + list(range(0, L + 1)):
        x[_ev(e)] = ((rel == e) & d["g"].notna()).astype(int)
        if x[_ev(e)].sum() > 0:
            cols.append(_ev(e))
    try:
        fit = pf.feols(f"{y} ~ {' + '.join(cols)} | unit + t", data=x, vcov={"CRV1": "unit"}, ssc=pf.ssc(**SSC))
    except Exception:
        return []
    return _rename(estimates_from(fit))

