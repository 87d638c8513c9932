"""`make validate`: the standing Monte Carlo validation of every test the dashboard reports.

Each simulated company is a monthly panel of business units with what real data has: unit effects, a
seasonal cycle and a trend shared by all units, unit size, a confounder (bigger units both hold more
activities and have higher complaint *levels*, with no effect within units), a planted effect, a planted
null, a reverse link only (the KPI drives the input), and staggered designations with a heterogeneous,
growing effect on one KPI and none on another. Every test runs as the dashboard runs it, and the
verdicts are scored against the truth:

* coverage: the share of 95% intervals containing the planted value (target 93–97%);
* false positives: the share of planted nulls given a positive verdict (`association`, `effect`,
  `forward`; target ≤ 5%);
* power: the share of planted effects given the positive verdict;
* the pre-trend test's size (rejections at its nominal 10% when trends are parallel).

Results go to bench/validation.json and bench/VALIDATION.md (date, seeds, versions); the README
summarises them. Not part of the pass/fail suite's time budget: tests/analytics/test_verdicts.py runs a
reduced version of the same checks."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.correlate import correlate
from analytics.did import event_study
from analytics.errors import AnalysisError
from analytics.fe import fit_twfe
from analytics.panel import Panel
from analytics.reverse import reverse_check

HERE = Path(__file__).parent
BETA = -0.8  # planted: one more theme day goes with 0.8 fewer complaints per 10k customers, within units
ATT = (1.5, 0.15)  # planted designation effect on satisfaction: 1.5 at designation, +0.15 a month after
DRIFT = 0.03  # planted violation: units ever designated drift by this much a month more than the rest, no effect


def company(seed: int, n_units: int = 80, n_t: int = 48) -> tuple[Panel, dict]:
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0, 0.5, n_units)
    season = np.sin(np.arange(n_t) * 2 * np.pi / 12)
    trend = 0.02 * np.arange(n_t)
    g = rng.choice(np.r_[np.arange(12, 40), [-1] * 14], size=n_units)  # staggered, about a third never
    a_c, a_s, a_l = rng.normal(0, 1, n_units), rng.normal(0, 2, n_units), rng.normal(0, 1, n_units)
    # the differential-trend outcome draws from its own stream: adding it leaves every other outcome's draws as they were
    rng_d = np.random.default_rng([seed, 1])
    a_d = rng_d.normal(0, 1, n_units)
    rows, truth = [], []
    prev_loss = np.zeros(n_units)
    prev_x3 = np.zeros(n_units)
    for t in range(n_t):
        theme = rng.poisson(2 + size) + season[t]  # input with a planted effect; more in bigger units
        study = rng.normal(1.0 + 0.8 * size, 1) + 0.5 * season[t]  # planted null, confounded between units
        x3 = 0.5 * prev_x3 + 0.4 * prev_loss + rng.normal(0, 1, n_units)  # reverse link: input follows the KPI
        complaints = 30 + 5 * size + a_c + BETA * theme + 3 * season[t] + 10 * trend[t] + rng.normal(0, 1, n_units)
        loss = 0.5 * prev_loss + a_l + 0.5 * season[t] + rng.normal(0, 1, n_units)  # not driven by x3
        e = t - g
        on = (g >= 0) & (e >= 0)
        tau = np.where(on, ATT[0] + ATT[1] * e, 0.0)
        truth += [(int(k), float(v)) for k, v in zip(e[on], tau[on])]
        satisfaction = 80 + a_s + tau + season[t] + 5 * trend[t] + rng.normal(0, 1, n_units)
        sales = 100 * size * (1 + 0.2 * season[t]) + rng.normal(0, 5, n_units)  # no planted link
        # no effect, but parallel trends fail gradually: the units that will be designated drift apart all along
        drift = 95 + a_d + DRIFT * t * (g >= 0) + 0.3 * season[t] + rng_d.normal(0, 1, n_units)
        for i in range(n_units):
            rows.append((f"u{i:03d}", t, theme[i], study[i], x3[i], complaints[i], loss[i], satisfaction[i],
                         sales[i], drift[i], int(on[i])))
        prev_loss, prev_x3 = loss, x3
    df = pd.DataFrame(rows, columns=["unit", "t", "theme_days", "study_sessions", "proposals", "complaints_per_10k",
                                     "line_loss", "satisfaction", "sales_mwh", "bill_recovery", "demo_site"])
    df["period"] = df["t"].astype(str)
    att = float(np.mean([v for _, v in truth])) if truth else 0.0
    return Panel(df, "month"), {"att": att}


def one_company(seed: int) -> dict:
    panel, truth = company(seed)
    out: dict = {"seed": seed}
    fit = fit_twfe(panel, "complaints_per_10k", ["theme_days", "study_sessions"])
    eff, null = fit.coef("theme_days"), fit.coef("study_sessions")
    out["fit_effect_covered"] = eff.ci_low <= BETA <= eff.ci_high
    out["fit_effect_found"] = fit.verdicts["theme_days"] == "association"
    out["fit_null_covered"] = null.ci_low <= 0 <= null.ci_high
    out["fit_null_flagged"] = fit.verdicts["study_sessions"] == "association"
    corr = correlate(panel, ["theme_days", "study_sessions"], ["complaints_per_10k", "sales_mwh"], lag=0).table
    w = corr[(corr.scope == "within") & (corr.method == "pearson")].set_index(["input", "kpi"])["verdict"]
    pooled = corr[(corr.scope == "pooled") & (corr.method == "pearson")].set_index(["input", "kpi"])["verdict"]
    out["corr_effect_found"] = w[("theme_days", "complaints_per_10k")] == "association"
    out["corr_null_flagged"] = [w[("study_sessions", "complaints_per_10k")] == "association",
                                w[("theme_days", "sales_mwh")] == "association",
                                w[("study_sessions", "sales_mwh")] == "association"]
    out["corr_confounder_pooled_flagged"] = pooled[("study_sessions", "complaints_per_10k")] == "association"
    rev = reverse_check(panel, "line_loss", "proposals")  # truth: backward only
    out["direction_verdict"] = rev.verdict
    es = event_study(panel, "satisfaction", "demo_site", window=(6, 12), with_naive=False)
    out["es_att_covered"] = es.att.ci_low <= truth["att"] <= es.att.ci_high
    out["es_verdict"] = es.verdict
    out["es_pretrend_rejects"] = es.pretrend_p is not None and es.pretrend_p < 0.10
    try:
        null_es = event_study(panel, "line_loss", "demo_site", window=(6, 12), with_naive=False)
        out["es_null_verdict"] = null_es.verdict
        out["es_null_covered"] = null_es.att.ci_low <= 0 <= null_es.att.ci_high
        out["es_null_pretrend_rejects"] = null_es.pretrend_p is not None and null_es.pretrend_p < 0.10
    except AnalysisError as exc:
        out["es_null_verdict"] = f"error: {exc}"
    try:  # the pre-trend test's power, and what a gradual violation of parallel trends makes of the verdict
        drift_es = event_study(panel, "bill_recovery", "demo_site", window=(6, 12), with_naive=False)
        out["es_drift_verdict"] = drift_es.verdict
        out["es_drift_pretrend_rejects"] = drift_es.pretrend_p is not None and drift_es.pretrend_p < 0.10
    except AnalysisError as exc:
        out["es_drift_verdict"] = f"error: {exc}"
    return out


def summarise(runs: list[dict]) -> dict:
    df = pd.DataFrame(runs)
    corr_null = np.array([x for r in runs for x in r["corr_null_flagged"]])

    def share(s) -> float:
        return round(float(np.mean(s)), 4)

    return {
        "companies": len(runs),
        "twfe": {"coverage_planted_effect": share(df.fit_effect_covered), "coverage_planted_null": share(df.fit_null_covered),
                 "power": share(df.fit_effect_found), "null_called_association": share(df.fit_null_flagged)},
        "correlations_within": {"power": share(df.corr_effect_found), "null_called_association": share(corr_null),
                                "confounder_called_association_pooled": share(df.corr_confounder_pooled_flagged)},
        "direction_check_reverse_only": {k: share(df.direction_verdict == k)
                                         for k in ("forward", "backward", "both", "neither", "insufficient_data")},
        "event_study_planted": {"coverage_att": share(df.es_att_covered), "power_effect": share(df.es_verdict == "effect"),
                                "pretrend_rejects_at_10pct": share(df.es_pretrend_rejects)},
        "event_study_differential_trend": {
            "pretrend_rejects_at_10pct": share(df.es_drift_pretrend_rejects.fillna(False)),
            "called_effect": share(df.es_drift_verdict == "effect"),
            "called_pretrend_problem": share(df.es_drift_verdict == "pretrend_problem"),
            "verdicts": df.es_drift_verdict.value_counts().to_dict()},
        "event_study_null": {"called_effect": share(df.es_null_verdict == "effect"),
                             "coverage_zero": share(df.es_null_covered.fillna(False)),
                             "pretrend_rejects_at_10pct": share(df.es_null_pretrend_rejects.fillna(False)),
                             "verdicts": df.es_null_verdict.value_counts().to_dict()},
    }


def versions() -> dict:
    out = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    for pkg in ("numpy", "pandas", "scipy", "pyfixest", "statsmodels"):
        out[pkg] = metadata.version(pkg)
    return out


def write_markdown(path: Path, result: dict) -> None:
    s = result["summary"]
    lines = [
        "# Statistics validation (`make validate`)", "",
        f"Run {result['date']}, seeds {result['seeds'][0]}–{result['seeds'][-1]} ({s['companies']} simulated companies, "
        f"80 units × 48 months each), {result['seconds']:.0f} s. Versions: "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".", "",
        "| test | measure | result | target |", "| --- | --- | --- | --- |",
        f"| TWFE (clustered by unit) | 95% CI covers the planted effect | {s['twfe']['coverage_planted_effect']:.1%} | 93–97% |",
        f"| TWFE | 95% CI covers the planted null (0) | {s['twfe']['coverage_planted_null']:.1%} | 93–97% |",
        f"| TWFE | planted null called `association` | {s['twfe']['null_called_association']:.1%} | ≤ 5% |",
        f"| TWFE | planted effect found | {s['twfe']['power']:.1%} | high |",
        f"| correlations, within unit and period | null pairs called `association` | {s['correlations_within']['null_called_association']:.1%} | ≤ 5% |",
        f"| correlations, within | planted effect found | {s['correlations_within']['power']:.1%} | high |",
        f"| correlations, pooled | confounded null called `association` | {s['correlations_within']['confounder_called_association_pooled']:.1%} | (why pooled is not trusted) |",
        f"| direction check, reverse link only | verdict `forward` or `both` | {s['direction_check_reverse_only']['forward'] + s['direction_check_reverse_only']['both']:.1%} | ≤ 5% |",
        f"| direction check, reverse link only | verdict `backward` | {s['direction_check_reverse_only']['backward']:.1%} | high |",
        f"| event study, planted effect | 95% CI covers the true ATT | {s['event_study_planted']['coverage_att']:.1%} | 93–97% |",
        f"| event study, planted effect | verdict `effect` | {s['event_study_planted']['power_effect']:.1%} | high |",
        f"| event study, planted null | verdict `effect` | {s['event_study_null']['called_effect']:.1%} | ≤ 5% |",
        f"| event study, planted null | 95% CI covers 0 | {s['event_study_null']['coverage_zero']:.1%} | 93–97% |",
        f"| pre-trend test (parallel trends true) | rejects at nominal 10% | {s['event_study_null']['pretrend_rejects_at_10pct']:.1%} / {s['event_study_planted']['pretrend_rejects_at_10pct']:.1%} | ≈ 10% |",
        f"| pre-trend test, gradual differential trend ({DRIFT} a month, no effect) | rejects at 10% (power) | {s['event_study_differential_trend']['pretrend_rejects_at_10pct']:.1%} | high |",
        f"| event study, gradual differential trend, no effect | verdict `effect` | {s['event_study_differential_trend']['called_effect']:.1%} | ≤ 5% |",
        f"| event study, gradual differential trend, no effect | verdict `pretrend_problem` | {s['event_study_differential_trend']['called_pretrend_problem']:.1%} | high |",
        "",
        "The first pre-trend figure is on the null outcome, the second on the planted one. Raw per-company results "
        "are in `bench/validation.json`.",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.validate", description=__doc__.split("\n")[0])
    ap.add_argument("--companies", type=int, default=200)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.companies))
    started = time.perf_counter()
    runs = []
    for k, seed in enumerate(seeds, 1):
        runs.append(one_company(seed))
        if k % 20 == 0:
            print(f"{k}/{len(seeds)} companies", flush=True)
    result = {"date": dt.date.today().isoformat(), "seeds": seeds, "seconds": time.perf_counter() - started,
              "versions": versions(), "summary": summarise(runs), "runs": runs}
    out = Path(args.out)
    (out / "validation.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    write_markdown(out / "VALIDATION.md", result)
    print(json.dumps(result["summary"], ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
