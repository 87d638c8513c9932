"""What-if: the KPI change a fitted model predicts when inputs change, per unit and for the group.

The group figure follows the catalogue's roll-up of the KPI: summed for counts, customer- or
member-weighted for rates (the change in the company's complaints per 10k, not a sum of rates).

delta_i = sum_k beta_k * change_ik; its variance is c_i' V c_i with V the clustered coefficient
covariance and the interval uses t(G-1) like the fit, so it reflects estimation uncertainty only — not
whether the relation is causal.

Support: the model learns from how an input moves *within* a unit (unit and period effects removed), so a
change is judged against that within-unit SD, not the between-unit range: beyond MAX_WITHIN_SD typical
swings the scenario is refused, beyond one it carries a warning. A unit without the KPI in the baseline
period, or without the input for a percentage change, gets no prediction (and counts in no total). A
predicted value outside the metric's valid range (no negative rates, no rate above 100%) is cut to it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from scipy import stats

from analytics.errors import AnalysisError, NoChange, named
from analytics.panel import Panel, lag_name
from analytics.results import FitResult, WhatIfResult
from catalogue import metrics

TOLERANCE = 0.25  # a scenario may exceed the observed range by this share of the range, no more
MAX_WITHIN_SD = 3.0  # a change larger than this many within-unit SDs of the input is extrapolation


MODES = ("abs", "pct", "median", "level")


def change_of(mode: str, amount, cur: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Each unit's change of an input under a scenario mode: `abs` adds `amount`, `pct` adds `amount`% of
    the unit's own level, `median` brings the bottom quarter up to the median (the rest unchanged), `level`
    brings every unit below its level up to it (`amount`: one level for all, or unit -> level, e.g. the
    frequency the branch work rules require of a unit's branches). NaN where the baseline input is missing
    for a relative change."""
    if mode == "abs":
        return np.full(len(cur), float(amount))
    if mode == "pct":
        return cur * float(amount) / 100.0
    if mode == "median":
        q1, med = np.nanpercentile(cur, 25), np.nanmedian(cur)
        return np.where(np.isnan(cur), np.nan, np.where(cur <= q1, np.maximum(med - cur, 0.0), 0.0))
    if mode == "level":
        level = (np.array([amount.get(u, np.nan) for u in units], dtype=float) if isinstance(amount, dict)
                 else np.full(len(cur), float(amount)))
        return np.where(np.isnan(cur) | np.isnan(level), np.nan, np.maximum(level - cur, 0.0))
    raise AnalysisError("变化方式只能是 abs（绝对量）、pct（百分比）、median（后四分之一提到中位数）或 level（达到规定水平）。"
                        f"(mode must be one of {', '.join(MODES)})")


def what_if(fit: FitResult, panel: Panel, changes: dict[str, tuple[str, float]], period: str | None = None,
            months: int | None = None) -> WhatIfResult:
    """changes: input metric id -> (mode, amount), see `change_of`. `panel` is already filtered to the units
    the scenario covers; `period` picks the baseline period (default: the latest); `months` the months one
    period spans (1 monthly, 3 quarterly; read from the panel's grain when not given), for the quarterly
    counts."""
    if not changes:
        raise AnalysisError("请至少设置一个投入指标的变化量。(no change given)")
    df = panel.df
    if df.empty:
        raise AnalysisError("筛选条件下没有单位，请放宽筛选。(no units match the filter)")
    period = period or df["period"].max()
    base = df[df["period"] == period]
    if base.empty:
        raise AnalysisError(f"时期 {period} 没有数据。(no data in that period)")
    names = [c.name for c in fit.coefficients]
    cvec = np.zeros((len(base), len(names)))
    warnings = []
    for x, (mode, amount) in changes.items():
        col = lag_name(x, fit.lag)
        if col not in names:
            raise AnalysisError(f"模型中没有投入指标{named(x)}；请先用包含它的模型拟合。(input not in model)")
        cur = base[x].astype(float)
        if cur.isna().all():
            raise AnalysisError(f"时期 {period} 所选单位的{named(x)}全部缺失。(baseline missing)")
        delta = change_of(mode, amount, cur.to_numpy(), base["unit"].to_numpy())
        sd = float(fit.x_within_sd.get(col) or 0.0)
        typical = float(np.nanmedian(np.abs(delta))) if np.isfinite(delta).any() else 0.0
        if sd > 0 and typical > MAX_WITHIN_SD * sd:
            raise AnalysisError(
                f"情景变化过大：{named(x)}每个单位约变化 {typical:.2f}，而模型所依据的单位内部波动（1 个标准差）只有 {sd:.2f}；"
                f"超过 {MAX_WITHIN_SD:g} 个标准差的变化没有数据支撑，请缩小变化幅度。"
                f"(change is {typical / sd:.1f} within-unit SDs; the model supports at most {MAX_WITHIN_SD:g})")
        if sd > 0 and typical > sd:
            warnings.append(("whatif.warn.beyond_sd", {"x": x, "sd": round(typical / sd, 1)}))
        new = cur.to_numpy() + delta
        lo, hi = fit.x_ranges[col]
        span = max(hi - lo, 1e-9)
        outside = (new < lo - TOLERANCE * span) | (new > hi + TOLERANCE * span)
        if np.nanmean(outside) > 0.5:
            raise AnalysisError(
                f"情景超出了模型见过的数据范围：{named(x)}将变为 {np.nanmin(new):.1f}–{np.nanmax(new):.1f}，"
                f"而历史观测范围是 {lo:.1f}–{hi:.1f}。外推没有依据，请缩小变化幅度。(scenario far outside observed range)")
        if outside.any():
            warnings.append(("whatif.warn.outside_range", {"x": x, "n": int(outside.sum())}))
        cvec[:, names.index(col)] = delta  # NaN where a percentage change has no baseline input
    if all(mode in ("median", "level") for mode, _ in changes.values()) and np.nan_to_num(cvec).max(initial=0) <= 0:
        raise NoChange(f"时期 {period} 所选单位都已达到该情景要求的水平，情景没有改变任何单位。"
                       "(every selected unit already meets the level the scenario asks for)")
    # units without the KPI or without a defined change are left out of every figure
    has = np.isfinite(base[fit.y].to_numpy(dtype=float)) & np.isfinite(cvec).all(axis=1)
    if not has.any():
        raise AnalysisError(f"时期 {period} 所选单位都没有{named(fit.y)}的数据，无法模拟。(no unit has the KPI in that period)")
    base, cvec = base[has], cvec[has]
    crit = float(stats.t.ppf(0.975, max(fit.n_units - 1, 1)))
    b = np.array([c.estimate for c in fit.coefficients])
    V = fit.cov.loc[names, names].to_numpy()
    d = cvec @ b
    se = np.sqrt(np.einsum("ij,jk,ik->i", cvec, V, cvec))
    lo_b, hi_b = metrics()[fit.y].bounds if fit.y in metrics() else (-np.inf, np.inf)
    baseline = base[fit.y].to_numpy(dtype=float)
    new = np.clip(baseline + d, lo_b, hi_b)
    cut = int((new != baseline + d).sum())
    if cut:
        warnings.append(("whatif.warn.clipped", {"y": fit.y, "n": cut}))
    per_unit = pd.DataFrame({
        "unit": base["unit"].to_numpy(),
        "name": base["business_unit_name"].to_numpy() if "business_unit_name" in base else base["unit"].to_numpy(),
        "baseline": baseline, "delta": new - baseline,
        "ci_low": np.clip(baseline + d - crit * se, lo_b, hi_b) - baseline,
        "ci_high": np.clip(baseline + d + crit * se, lo_b, hi_b) - baseline,
    })
    per_unit["new"] = new
    # the group figure moves as the catalogue rolls the KPI up: a sum, or a customer/member-weighted mean
    rule = metrics()[fit.y].rollup if fit.y in metrics() else "sum"
    if rule.startswith("wmean:") and rule[6:] in base and base[rule[6:]].notna().all() and base[rule[6:]].sum() > 0:
        w = base[rule[6:]].to_numpy(dtype=float)
        ctot = (cvec * (w / w.sum())[:, None]).sum(axis=0)
    elif rule == "sum":
        ctot = cvec.sum(axis=0)
    else:
        rule = "mean"
        ctot = cvec.mean(axis=0)
    tot, tot_se = float(ctot @ b), float(np.sqrt(ctot @ V @ ctot))
    cm = cvec.mean(axis=0)
    mean, mean_se = float(cm @ b), float(np.sqrt(cm @ V @ cm))
    if rule.startswith("wmean:"):
        total_baseline = float(np.average(baseline, weights=base[rule[6:]].to_numpy(dtype=float)))
    else:
        total_baseline = float(baseline.sum() if rule == "sum" else baseline.mean())
    months = months or (3 if str(period)[4:5] == "Q" else 1)
    return WhatIfResult(
        y=fit.y, changes={k: list(v) for k, v in changes.items()}, per_unit=per_unit, total_delta=tot,
        total_ci=(tot - crit * tot_se, tot + crit * tot_se), mean_delta=mean,
        mean_ci=(mean - crit * mean_se, mean + crit * mean_se), n_units=len(base), warnings=warnings,
        settings={"baseline_period": period, "lag": fit.lag, "total_rule": rule, "t_critical": crit,
                  "units_without_data": int((~has).sum()), "max_within_sd": MAX_WITHIN_SD},
        total_baseline=total_baseline, counts=_counts(fit.y, base, baseline, cvec, b, V, crit, months),
    )


def _counts(y: str, base: pd.DataFrame, baseline: np.ndarray, cvec: np.ndarray, b: np.ndarray, V: np.ndarray,
            crit: float, months: int) -> dict | None:
    """The group's change in the KPI's countable units over one quarter: a rate per `count_per` of its
    weight (complaints per 10k customers → complaints; hours per customer → customer-hours), summed over the
    units, scaled from the panel's period to a quarter. Linear in the coefficients, so its interval is exact
    under the model's covariance (the rates' cut to their valid range is not applied to counts)."""
    m = metrics().get(y)
    if m is None or not m.count_per or not m.rollup.startswith("wmean:") or m.rollup[6:] not in base:
        return None
    w = base[m.rollup[6:]].to_numpy(dtype=float)
    if not np.isfinite(w).all():
        return None
    scale = (3 / months) * w / float(m.count_per)  # per unit: rate -> count per quarter
    c = (cvec * scale[:, None]).sum(axis=0)
    delta, se = float(c @ b), float(np.sqrt(c @ V @ c))
    return {"delta": delta, "ci": (delta - crit * se, delta + crit * se), "baseline": float((baseline * scale).sum()),
            "months": months}
