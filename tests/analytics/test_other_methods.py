"""Correlations, what-if, quartiles, reverse check, diagnostics, indices, roll-up, summaries: hand-checked."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analytics.correlate import correlate
from analytics.diagnostics import diagnose
from analytics.errors import AnalysisError
from analytics.fe import fit_twfe
from analytics.indices import compute_indices, quadrant_movers
from analytics.panel import Panel
from analytics.quartiles import quartile_compare
from analytics.reverse import reverse_check
from analytics.rollup import rollup
from analytics.summaries import summarize_event_study, summarize_fit, summarize_whatif
from analytics.whatif import what_if


def make_panel(n_units=20, n_t=24, seed=0, beta=-0.5):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_units):
        a = rng.normal(0, 3)
        size = 1000 * (i + 1)
        for t in range(n_t):
            x = rng.poisson(3) + (i % 3)
            rows.append((f"u{i:02d}", t, x, a + beta * x + rng.normal(), size, 10 + i % 4))
    df = pd.DataFrame(rows, columns=["unit", "t", "theme_days", "complaints_per_10k", "customers", "members"])
    df["period"] = df["t"].map(lambda t: f"{2020 + t // 12}-{t % 12 + 1:02d}")
    df["business_unit_name"] = df["unit"]
    return Panel(df, "month")


def test_correlation_matches_scipy_and_bh():
    p = make_panel()
    r = correlate(p, ["theme_days"], ["complaints_per_10k", "customers"])
    d = p.df
    pooled = r.table[(r.table.kpi == "complaints_per_10k") & (r.table.method == "pearson") & (r.table.scope == "pooled")].iloc[0]
    rr, pp = stats.pearsonr(d["theme_days"], d["complaints_per_10k"])
    assert pooled.r == pytest.approx(rr) and pooled.p_value == pytest.approx(pp, rel=1e-6)
    sp = r.table[(r.table.kpi == "complaints_per_10k") & (r.table.method == "spearman") & (r.table.scope == "pooled")].iloc[0]
    assert sp.r == pytest.approx(stats.spearmanr(d["theme_days"], d["complaints_per_10k"])[0])
    w = r.table[(r.table.method == "pearson") & (r.table.scope == "within")]
    assert w[w.kpi == "customers"].r.isna().all()  # constant within units: no within correlation, not a fake 0
    w = w[w.p_value.notna()]
    assert list(w.q_value) == pytest.approx(list(multipletests(w.p_value, method="fdr_bh")[1]))
    xw = d.theme_days - d.groupby("unit").theme_days.transform("mean")
    yw = d.complaints_per_10k - d.groupby("unit").complaints_per_10k.transform("mean")
    assert w[w.kpi == "complaints_per_10k"].r.iloc[0] == pytest.approx(np.corrcoef(xw, yw)[0, 1])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), holes=st.lists(st.floats(0, 0.4), min_size=4, max_size=4))
def test_correlation_matrix_equals_pair_by_pair(seed, holes):
    """The matrix computation (one product per missing-value pattern) equals scipy on each pair's own
    complete cases, pooled and within, Pearson and Spearman, with columns that miss different rows."""
    rng = np.random.default_rng(seed)
    p = make_panel(n_units=12, n_t=15, seed=seed % 50)
    d = p.df.copy()
    d["members"] = d["members"] + rng.poisson(2, len(d))
    for col, share in zip(["theme_days", "members", "complaints_per_10k", "customers"], holes):
        d.loc[rng.random(len(d)) < share, col] = np.nan
    r = correlate(Panel(d, "month"), ["theme_days", "members"], ["complaints_per_10k", "customers"]).table
    for x in ["theme_days", "members"]:
        for y in ["complaints_per_10k", "customers"]:
            s = d[["unit", x, y]].dropna()
            got = r[(r.input == x) & (r.kpi == y)].set_index(["method", "scope"])["r"]
            assert got[("pearson", "pooled")] == pytest.approx(stats.pearsonr(s[x], s[y])[0], abs=1e-12)
            assert got[("spearman", "pooled")] == pytest.approx(stats.spearmanr(s[x], s[y])[0], abs=1e-12)
            xw = s[x] - s.groupby("unit")[x].transform("mean")
            yw = s[y] - s.groupby("unit")[y].transform("mean")
            if yw.std() > 1e-9 and xw.std() > 1e-9:
                assert got[("pearson", "within")] == pytest.approx(np.corrcoef(xw, yw)[0, 1], abs=1e-12)
            else:
                assert np.isnan(got[("pearson", "within")])


def test_simpson_flag():
    """Across units x and y rise together; within each unit they move against each other."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(30):
        for t in range(20):
            x = i + rng.normal()
            rows.append((f"u{i}", t, x, 3 * i - 2 * (x - i) + rng.normal(0, 0.5)))
    df = pd.DataFrame(rows, columns=["unit", "t", "x", "y"])
    df["period"] = df["t"].astype(str)
    r = correlate(Panel(df, "month"), ["x"], ["y"])
    assert len(r.simpson) == 1 and r.simpson.iloc[0].r_pooled > 0 > r.simpson.iloc[0].r_within


def test_whatif_hand_computed():
    p = make_panel()
    fit = fit_twfe(p, "complaints_per_10k", ["theme_days"])
    b, se = fit.coefficients[0].estimate, fit.coefficients[0].std_error
    r = what_if(fit, p, {"theme_days": ("abs", 1.0)})
    assert r.n_units == 20
    assert r.per_unit["delta"].tolist() == pytest.approx([b] * 20)
    assert r.mean_delta == pytest.approx(b) and r.mean_ci[1] - r.mean_ci[0] == pytest.approx(2 * 1.959963984540054 * se)
    # group figure of a customer-weighted KPI moves by the weighted mean of unit changes
    assert r.total_delta == pytest.approx(b) and r.settings["total_rule"] == "wmean:customers"
    pct = what_if(fit, p, {"theme_days": ("pct", 10.0)})
    base = p.df[p.df.period == p.df.period.max()]
    assert pct.per_unit["delta"].to_numpy() == pytest.approx(b * base["theme_days"].to_numpy() * 0.1)


def test_whatif_refuses_far_extrapolation():
    p = make_panel()
    fit = fit_twfe(p, "complaints_per_10k", ["theme_days"])
    with pytest.raises(AnalysisError, match="超出了模型见过的数据范围"):
        what_if(fit, p, {"theme_days": ("abs", 50.0)})
    with pytest.raises(AnalysisError, match="模型中没有"):
        what_if(fit, p, {"pioneer_posts": ("abs", 1.0)})


def test_quartiles_and_bootstrap():
    p = make_panel(beta=0)
    df = p.df.copy()
    df["complaints_per_10k"] = df["unit"].str[1:].astype(int) + 10.0  # unit level rises with unit index
    df["theme_days"] = df["unit"].str[1:].astype(int)
    r = quartile_compare(Panel(df, "month"), "theme_days", "complaints_per_10k", n_boot=200)
    top, bottom = np.median([25, 26, 27, 28, 29]), np.median([10, 11, 12, 13, 14])
    assert r.top_median == top and r.bottom_median == bottom
    assert r.diff_pct == pytest.approx(100 * (top - bottom) / bottom)
    assert r.ci_low <= r.diff_pct <= r.ci_high


def test_reverse_check_detects_direction():
    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        y_prev = 0.0
        for t in range(30):
            x = 0.8 * y_prev + rng.normal()  # input follows last period's KPI
            y = rng.normal()                  # KPI does not follow the input
            rows.append((f"u{i}", t, x, y))
            y_prev = y
    df = pd.DataFrame(rows, columns=["unit", "t", "x", "y"])
    df["period"] = df["t"].astype(str)
    r = reverse_check(Panel(df, "month"), "y", "x")
    assert r.verdict == "backward" and r.backward.estimate == pytest.approx(0.8, abs=0.1)


def test_diagnostics_vif_and_missing():
    p = make_panel()
    df = p.df.copy()
    df["pioneer_posts"] = df["theme_days"] * 2 + np.random.default_rng(1).normal(0, 0.5, len(df))
    df.loc[df.index[:10], "complaints_per_10k"] = np.nan
    panel = Panel(df, "month")
    fit = fit_twfe(panel, "complaints_per_10k", ["theme_days", "pioneer_posts"])
    d = diagnose(fit, panel)
    assert d.missing_share["complaints_per_10k"] == pytest.approx(10 / len(df))
    assert d.vif["theme_days"] > 5 and d.vif["pioneer_posts"] > 5
    assert len(d.resid_fitted) == fit.n_obs and d.n_per_unit["n"].sum() == fit.n_obs


def test_indices_quadrants_and_movers():
    df = pd.DataFrame({"unit": list("abcd") * 2, "period": ["q1"] * 4 + ["q2"] * 4,
                       "pb_score": [90, 80, 70, 60, 60, 70, 80, 90], "complaints_per_10k": [1, 2, 3, 4, 1, 2, 3, 4],
                       "business_unit_name": list("ABCD") * 2})
    out = compute_indices(df)
    q1 = out[out.period == "q1"].set_index("unit")
    assert q1.loc["a", "quadrant"] == "both_strong" and q1.loc["d", "quadrant"] == "both_weak"
    moved = quadrant_movers(out, "q2", "q1")
    assert set(moved.unit) == {"a", "b", "c", "d"} - {u for u in "abcd" if q1.loc[u, "quadrant"] == out[(out.period == "q2") & (out.unit == u)].quadrant.iloc[0]}
    assert out["coupling"].between(0, 1).all()


def test_rollup_rules():
    df = pd.DataFrame({"period": ["p", "p"], "complaints": [3, 1], "customers": [1000, 3000],
                       "complaints_per_10k": [30.0, 10.0 / 3], "members": [10, 30], "pb_score": [90, 80]})
    r = rollup(df, ["period"]).iloc[0]
    assert r["complaints"] == 4 and r["customers"] == 4000
    assert r["complaints_per_10k"] == pytest.approx(10_000 * 4 / 4000)
    assert r["pb_score"] == pytest.approx((90 * 10 + 80 * 30) / 40)


def test_summaries_never_claim_cause():
    p = make_panel()
    fit = fit_twfe(p, "complaints_per_10k", ["theme_days"])
    for lang, phrase in (("zh", "不是因果证明"), ("en", "not proof of cause")):
        s = summarize_fit(fit, lang)
        assert phrase in s and "95%" in s
        assert ("导致" not in s) if lang == "zh" else ("causes" not in s.replace("not proof of cause", ""))
    w = what_if(fit, p, {"theme_days": ("abs", 1.0)})
    assert "相关关系" in summarize_whatif(w, "zh")


def test_event_study_summary_depends_on_pretrend():
    from tests.analytics.test_did import staggered_panel
    from analytics.did import event_study

    ok = event_study(staggered_panel()[0], "y", "treat", window=(4, 6), with_naive=False)
    bad = event_study(staggered_panel(pre_trend=0.3)[0], "y", "treat", window=(4, 6), with_naive=False)
    assert "与存在效应一致" in summarize_event_study(ok, "zh")
    assert "consistent with an effect" in summarize_event_study(ok, "en")
    assert "不能把实施后的差异归因" in summarize_event_study(bad, "zh")
    assert "consistent with an effect" not in summarize_event_study(bad, "en")
