"""Executive framing: units in the top quarter of an input vs the bottom quarter, median KPI difference
in percent, with a percentile bootstrap CI resampling units. Unit averages over the chosen periods,
the KPI taken `lag` periods after the input. Descriptive: it does not control for anything."""
from __future__ import annotations

import numpy as np

from analytics.errors import AnalysisError, named
from analytics.panel import Panel, add_lag, check_columns, lag_name
from analytics.results import QuartileResult


def quartile_compare(panel: Panel, x: str, y: str, lag: int = 0, n_boot: int = 2000, seed: int = 0) -> QuartileResult:
    df = panel.df
    check_columns(df, [x, y])
    df = add_lag(df, x, lag)
    xc = lag_name(x, lag)
    per_unit = df[["unit", xc, y]].dropna().groupby("unit").mean()
    if len(per_unit) < 8:
        raise AnalysisError("四分位比较至少需要 8 个单位。(need at least 8 units)")
    q1, q3 = per_unit[xc].quantile([0.25, 0.75])
    top = per_unit.loc[per_unit[xc] >= q3, y].to_numpy()
    bot = per_unit.loc[per_unit[xc] <= q1, y].to_numpy()
    if q1 == q3 or len(top) < 2 or len(bot) < 2:
        raise AnalysisError(f"{named(x)}在单位之间差别太小，无法分出高低四分位。(input barely varies across units)")

    def pct(t, b):
        mb = np.median(b)
        return 100.0 * (np.median(t) - mb) / abs(mb) if mb != 0 else np.nan

    rng = np.random.default_rng(seed)
    boots = np.array([pct(rng.choice(top, len(top)), rng.choice(bot, len(bot))) for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan))
    return QuartileResult(x=x, y=y, lag=lag, top_median=float(np.median(top)), bottom_median=float(np.median(bot)),
                          diff_pct=float(pct(top, bot)), ci_low=float(lo), ci_high=float(hi), n_top=len(top),
                          n_bottom=len(bot), n_boot=n_boot, settings={"bootstrap": "percentile, units resampled", "seed": seed,
                                                         "grain": panel.grain, "kind": "descriptive, between units (levels)"})
