"""Event study for staggered initiatives (党建示范点 designation, 书记项目 start).

Estimator: the imputation / two-stage DiD of Gardner (2021), equivalent in point estimates to
Borusyak, Jaravel & Spiess (2024), computed by analytics/twostage.py (pyfixest.did2s gives the same
numbers but builds dense dummy matrices that do not fit in memory at group scale). Unit and period effects are fitted on untreated
observations only (never-treated units and not-yet-treated periods), treated outcomes are compared with
their imputed untreated values, and the effects are averaged by event time. Unlike plain TWFE event
dummies it is not biased when effects differ across cohorts or grow over time. Standard errors are the
GMM-corrected, unit-clustered ones of Gardner (2021).

Pre-trends are tested as BJS recommend: on untreated observations only, regress the outcome on lead
dummies (K periods before designation) with unit and period effects, and test the leads jointly (F).

Treatment is taken as absorbing: a unit counts as treated from the first period its indicator is
positive. Units treated in their first observed period have no pre-period and are left out."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
from scipy import stats

from analytics.errors import AnalysisError
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
    d = d[d[y].notna()]
    first_t = d.groupby("unit")["t"].min()
    treated_t = d[d[treatment].fillna(0) > 0].groupby("unit")["t"].min()
    d["g"] = d["unit"].map(treated_t)
    always = treated_t[treated_t <= first_t.reindex(treated_t.index)].index
    d = d[~d["unit"].isin(always)].copy()
    d["rel"] = d["t"] - d["g"]
    d["D"] = (d["rel"] >= 0).astype(int)
    info = {"always_treated_dropped": len(always), "cohorts": d.dropna(subset=["g"]).groupby("g")["unit"].nunique().to_dict()}
    return d, info


def event_study(panel: Panel, y: str, treatment: str = "demo_site", window: tuple[int, int] | None = None,
                with_naive: bool = True) -> EventStudyResult:
    K, L = window or DEFAULT_WINDOW.get(panel.grain, (4, 6))
    d, info = event_frame(panel, y, treatment)
    n_treated = int(d.loc[d["g"].notna(), "unit"].nunique())
    n_never = int(d.loc[d["g"].isna(), "unit"].nunique())
    if n_treated == 0:
        raise AnalysisError(f"所选范围内没有单位在观察期内开始「{treatment}」，无法做事件研究。(no treated units)")
    if n_never + n_treated < 3 or d["t"].nunique() < 3:
        raise AnalysisError("事件研究至少需要 3 个单位和 3 个时期。(need at least 3 units and 3 periods)")
    if n_never == 0:
        raise AnalysisError("所有单位最终都被处理，缺少从未处理的对照组；请扩大范围。(no never-treated comparison units)")
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

    # pre-trend test on untreated observations
    pre_cols = []
    u = d.loc[d["D"] == 0, ["unit", "t", "rel", y]]
    for e in range(-K, 0):
        u[_ev(e)] = (u["rel"] == e).astype(int)
        if u[_ev(e)].sum() > 0:
            pre_cols.append(_ev(e))
    pre, f_stat, f_p = [], None, None
    if pre_cols:
        fit_pre = pf.feols(f"{y} ~ {' + '.join(pre_cols)} | unit + t", data=u[[y, "unit", "t", *pre_cols]],
                           vcov={"CRV1": "unit"}, ssc=pf.ssc(**SSC))
        pre = _rename(estimates_from(fit_pre))
        wt = fit_pre.wald_test()
        f_stat, f_p = float(wt["statistic"]), float(wt["pvalue"])

    naive = naive_event_twfe(d, y, K, L) if with_naive else []
    return EventStudyResult(
        method="did2s (Gardner 2021; imputation, BJS 2024)", y=y, treatment=treatment, grain=panel.grain,
        n_obs=int(len(d)), n_units=int(d["unit"].nunique()), n_treated_units=n_treated, n_periods=int(d["t"].nunique()),
        dynamic=dynamic, pre=sorted(pre, key=lambda e: int(e.name[2:])), pretrend_f=f_stat, pretrend_p=f_p, att=att,
        naive_twfe=naive, cohorts={str(k): int(v) for k, v in info["cohorts"].items()},
        settings={"window": [-K, L], "never_treated_units": n_never,
                  "always_treated_dropped": info["always_treated_dropped"], "library": f"analytics.twostage (GMM variance, absorbed effects); pyfixest {pf.__version__} for the pre-trend and naive fits",
                  "pretrend_test": "BJS: leads on untreated observations, unit+period FE, joint F, clustered by unit"},
    )


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

