"""Typed results. Computation fills them; analytics.summaries and the pages present them."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


PRETREND_ALPHA = 0.10
VERDICTS = {
    "event_study": ("effect", "no_clear_effect", "pretrend_problem", "insufficient_data"),
    "direction": ("forward", "backward", "both", "neither", "insufficient_data"),
    "association": ("association", "no_clear_association", "insufficient_data"),
    "whatif_counts": ("fewer", "more", "unclear"),
}


def association_verdict(ci_low: float, ci_high: float) -> str:
    """A fit's or correlation's verdict from its 95% interval (or q-value turned into one)."""
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "insufficient_data"
    return "no_clear_association" if ci_low <= 0 <= ci_high else "association"


@dataclass
class Estimate:
    name: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float | None = None
    std_effect: float | None = None  # effect of one within-unit SD of the input

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


@dataclass
class FitResult:
    method: str
    y: str
    x: list[str]
    lag: int
    fe: list[str]
    controls: list[str]
    grain: str
    n_obs: int
    n_units: int
    n_periods: int
    coefficients: list[Estimate]
    vcov_type: str
    small_sample: str
    r2_within: float | None
    settings: dict = field(default_factory=dict)
    x_ranges: dict = field(default_factory=dict)      # observed (min, max) of each regressor
    x_within_sd: dict = field(default_factory=dict)
    cov: pd.DataFrame | None = None                   # coefficient covariance (for what-if)
    fitted: np.ndarray | None = None
    residuals: np.ndarray | None = None

    @property
    def verdicts(self) -> dict[str, str]:
        """association | no_clear_association | insufficient_data, per regressor (its 95% CI vs 0)."""
        return {c.name: association_verdict(c.ci_low, c.ci_high) for c in self.coefficients}

    def coef(self, name: str) -> Estimate:
        for c in self.coefficients:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.coefficients])

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("cov", "fitted", "residuals")}
        verdicts = self.verdicts
        d["coefficients"] = [dict(asdict(c), verdict=verdicts[c.name]) for c in self.coefficients]
        d["verdict"] = verdicts[self.coefficients[0].name] if self.coefficients else "insufficient_data"
        return _clean(d)


@dataclass
class CorrelationResult:
    table: pd.DataFrame          # one row per (input, kpi, method, scope): r, n, p, q, ci
    simpson: pd.DataFrame        # pairs whose pooled and within correlations are both BH-significant, with opposite signs
    n_units: int
    n_periods: int
    grain: str
    lag: int
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return _clean({"method": "correlation", "grain": self.grain, "lag": self.lag, "n_units": self.n_units,
                       "n_periods": self.n_periods, "settings": self.settings,
                       "pairs": self.table.to_dict(orient="records"),
                       "simpson": self.simpson.to_dict(orient="records")})


@dataclass
class EventStudyResult:
    method: str
    y: str
    treatment: str
    grain: str
    n_obs: int
    n_units: int
    n_treated_units: int
    n_periods: int
    dynamic: list[Estimate]           # event time e (name "e=…"), post-treatment from the imputation estimator
    pre: list[Estimate]               # leads from the pre-trend regression on untreated observations
    pretrend_f: float | None
    pretrend_p: float | None
    att: Estimate
    naive_twfe: list[Estimate] = field(default_factory=list)  # plain TWFE event dummies, for comparison only
    cohorts: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def pretrend_passes(self) -> bool:
        """The pre-trend test ran and did not reject at 10% (no evidence of different pre-trends; its power
        is limited, so this is not evidence that the groups moved alike)."""
        return self.pretrend_p is not None and self.pretrend_p >= PRETREND_ALPHA

    @property
    def verdict(self) -> str:
        """effect | no_clear_effect | pretrend_problem | insufficient_data (see analytics/did.py)."""
        a = self.att
        if not (np.isfinite(a.ci_low) and np.isfinite(a.ci_high)):
            return "insufficient_data"
        if a.ci_low <= 0 <= a.ci_high:
            return "no_clear_effect"
        if self.pretrend_p is None:
            return "insufficient_data"  # an interval clear of zero, but no pre-period to check trends on
        return "effect" if self.pretrend_passes else "pretrend_problem"

    def to_frame(self) -> pd.DataFrame:
        rows = [dict(asdict(e), kind="pre") for e in self.pre] + [dict(asdict(e), kind="post") for e in self.dynamic]
        df = pd.DataFrame(rows)
        if not df.empty:
            df["event_time"] = df["name"].str.replace("e=", "", regex=False).astype(int)
        return df

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pretrend_passes"] = self.pretrend_passes
        d["verdict"] = self.verdict
        return _clean(d)


@dataclass
class ReverseResult:
    y: str
    x: str
    grain: str
    forward: Estimate            # x(t-1) -> y(t)
    backward: Estimate           # y(t-1) -> x(t)
    n_obs_forward: int
    n_obs_backward: int
    n_units: int
    verdict: str                 # forward | backward | both | neither | insufficient_data
    settings: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([dict(asdict(self.forward), direction="forward"),
                             dict(asdict(self.backward), direction="backward")])

    def to_dict(self) -> dict:
        return _clean(asdict(self))


@dataclass
class WhatIfResult:
    y: str
    changes: dict                 # input -> (mode, amount)
    per_unit: pd.DataFrame        # unit, name, baseline, delta, ci_low, ci_high
    total_delta: float            # change of the group figure (sum or weighted mean, see settings.total_rule)
    total_ci: tuple[float, float]
    mean_delta: float
    mean_ci: tuple[float, float]
    n_units: int
    # (string key, values) — data, not prose: summaries.whatif_warning writes it in either language
    warnings: list[tuple[str, dict]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    total_baseline: float | None = None  # the group figure before the change (same rule as total_delta)
    # the change in the KPI's countable units for the whole group over a quarter (complaints, customer-hours):
    # {"delta", "ci": (lo, hi), "baseline", "months"}; None when the KPI has no count behind it
    counts: dict | None = None

    @property
    def counts_verdict(self) -> str | None:
        """fewer | more | unclear (the interval holds 0) for the quarterly count; None without a count."""
        if not self.counts:
            return None
        lo, hi = self.counts["ci"]
        return "unclear" if lo <= 0 <= hi else ("fewer" if hi < 0 else "more")

    @property
    def total_pct(self) -> float | None:
        """The group figure's change as a share of its baseline, in %."""
        if self.total_baseline is None or not self.total_baseline:
            return None
        return 100.0 * self.total_delta / self.total_baseline

    def to_frame(self) -> pd.DataFrame:
        return self.per_unit

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "per_unit"}
        d["per_unit"] = self.per_unit.to_dict(orient="records")
        if d.get("counts"):
            d["counts"]["verdict"] = self.counts_verdict  # the sentence's verdict, as data
        d["total_pct"] = self.total_pct
        return _clean(d)


@dataclass
class QuartileResult:
    x: str
    y: str
    lag: int
    top_median: float
    bottom_median: float
    diff_pct: float
    ci_low: float
    ci_high: float
    n_top: int
    n_bottom: int
    n_boot: int
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _clean(asdict(self))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])


@dataclass
class Diagnostics:
    n_per_unit: pd.DataFrame
    missing_share: dict
    vif: dict
    resid_fitted: pd.DataFrame

    def to_dict(self) -> dict:
        return _clean({"missing_share": self.missing_share, "vif": self.vif,
                       "n_per_unit_min": int(self.n_per_unit["n"].min()) if len(self.n_per_unit) else 0,
                       "n_per_unit_median": float(self.n_per_unit["n"].median()) if len(self.n_per_unit) else 0})
