"""TWFE against published numbers (Grunfeld, Baltagi Tables 2.1/3.1) and a second library."""
import numpy as np
import pandas as pd
import pytest
from statsmodels.datasets import grunfeld

from analytics.errors import AnalysisError
from analytics.fe import fit_twfe
from analytics.panel import Panel, add_lag, analysis_frame


@pytest.fixture(scope="module")
def grun() -> Panel:
    df = grunfeld.load_pandas().data
    df = df[df.firm != "American Steel"].copy()  # the classic 10-firm panel
    df["unit"] = df["firm"].astype(str)
    df["t"] = df["year"].astype(int)
    df["period"] = df["t"].astype(str)
    return Panel(df.reset_index(drop=True), "custom")


def test_grunfeld_within_matches_baltagi(grun):
    # Baltagi, Econometric Analysis of Panel Data, Table 2.1 (within): value 0.1101238, capital 0.3100653
    r = fit_twfe(grun, "invest", ["value", "capital"], fe="unit")
    assert r.coef("value").estimate == pytest.approx(0.1101238, abs=1e-6)
    assert r.coef("capital").estimate == pytest.approx(0.3100653, abs=1e-6)
    assert (r.n_obs, r.n_units, r.n_periods) == (200, 10, 20)


def test_grunfeld_two_way_matches_baltagi(grun):
    # Baltagi Table 3.1 (two-way within): value 0.1177159, capital 0.3579163
    r = fit_twfe(grun, "invest", ["value", "capital"], fe="unit,period")
    assert r.coef("value").estimate == pytest.approx(0.1177159, abs=1e-6)
    assert r.coef("capital").estimate == pytest.approx(0.3579163, abs=1e-6)


def test_agrees_with_linearmodels(grun):
    from linearmodels.panel import PanelOLS

    r = fit_twfe(grun, "invest", ["value", "capital"], fe="unit,period")
    d = grun.df.set_index(["unit", "t"])
    lm = PanelOLS(d["invest"], d[["value", "capital"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, group_debias=True)
    for name in ("value", "capital"):
        assert r.coef(name).estimate == pytest.approx(lm.params[name], abs=1e-6)
        # the libraries' small-sample corrections differ by a few percent (README: methods)
        assert r.coef(name).std_error == pytest.approx(lm.std_errors[name], rel=0.05)


def test_clustered_se_matches_hand_computed_crv1(grun):
    """CRV1 by hand on the two-way demeaned data: V = G/(G-1) (N-1)/(N-K) (X'X)^-1 sum_g X_g'e_g e_g'X_g (X'X)^-1,
    K = 2 slopes + 20 year effects (the firm effects are nested in the firm clusters and not counted)."""
    df = grun.df

    def dm(c):
        s = df[c]
        return s - df.groupby("unit")[c].transform("mean") - df.groupby("t")[c].transform("mean") + s.mean()

    X = np.column_stack([dm("value"), dm("capital")])
    y = dm("invest").to_numpy()
    bread = np.linalg.inv(X.T @ X)
    e = y - X @ (bread @ X.T @ y)
    meat = sum(np.outer(X[m].T @ e[m], X[m].T @ e[m]) for m in [(df["unit"] == u).to_numpy() for u in df["unit"].unique()])
    n, g, k = 200, 10, 22
    se = np.sqrt(np.diag(bread @ meat @ bread) * g / (g - 1) * (n - 1) / (n - k))
    r = fit_twfe(grun, "invest", ["value", "capital"], fe="unit,period")
    assert [c.std_error for c in r.coefficients] == pytest.approx(se, rel=1e-6)


def test_lags_follow_the_calendar_not_the_rows():
    df = pd.DataFrame({"unit": ["a"] * 4 + ["b"] * 3, "t": [1, 2, 4, 5, 1, 2, 3], "x": [1, 2, 4, 5, 10, 20, 30]})
    out = add_lag(df, "x", 1).sort_values(["unit", "t"])
    assert out["x_lag1"].tolist()[:4] == [None, 1, None, 4] or np.isnan(out["x_lag1"].iloc[0])
    got = out["x_lag1"].tolist()
    assert np.isnan(got[0]) and got[1] == 1 and np.isnan(got[2]) and got[3] == 4  # gap at t=3 gives NaN
    assert np.isnan(got[4]) and got[5:] == [10, 20]  # never borrows from the previous unit
    lead = add_lag(df, "x", -1).sort_values(["unit", "t"])["x_lead1"].tolist()
    assert lead[0] == 2 and np.isnan(lead[1])


def _panel(n_units=10, n_t=12, seed=0, **cols):
    rng = np.random.default_rng(seed)
    rows = [(f"u{i}", t) for i in range(n_units) for t in range(n_t)]
    df = pd.DataFrame(rows, columns=["unit", "t"])
    df["period"] = df["t"].astype(str)
    df["x"] = rng.normal(size=len(df))
    df["y"] = 2 * df["x"] + rng.normal(size=len(df))
    for k, v in cols.items():
        df[k] = v(df) if callable(v) else v
    return Panel(df, "month")


@pytest.mark.parametrize("kwargs,match", [
    (dict(x=["const"]), "没有变化"),
    (dict(x=["x"], y="allnan"), "全部缺失"),
    (dict(x=["nope"]), "未知指标"),
    (dict(x=[]), "至少选择"),
])
def test_bad_inputs_give_clear_errors(kwargs, match):
    p = _panel(const=1.0, allnan=np.nan)
    with pytest.raises(AnalysisError, match=match):
        fit_twfe(p, kwargs.get("y", "y"), kwargs["x"])


def test_single_unit_and_too_few_periods():
    with pytest.raises(AnalysisError, match="只有一个单位"):
        fit_twfe(_panel(n_units=1), "y", ["x"])
    with pytest.raises(AnalysisError, match="至少需要 3 个"):
        fit_twfe(_panel(n_t=2), "y", ["x"])


def test_unit_constant_input_is_refused():
    p = _panel(unit_level=lambda d: d["unit"].str[1:].astype(float))
    with pytest.raises(AnalysisError, match="没有变化"):
        analysis_frame(p, "y", ["unit_level"])


def test_standardised_effect_is_slope_times_within_sd():
    r = fit_twfe(_panel(n_units=20, n_t=20), "y", ["x"])
    c = r.coef("x")
    assert c.estimate == pytest.approx(2.0, abs=0.15)
    assert c.std_effect == pytest.approx(c.estimate * r.x_within_sd["x"])


def test_ci_coverage_monte_carlo():
    """Clustered CIs cover the true slope at about the nominal rate when errors are correlated within units."""
    rng = np.random.default_rng(42)
    covered, reps = 0, 60
    for rep in range(reps):
        n, t_ = 30, 24
        u = np.repeat(np.arange(n), t_)
        tt = np.tile(np.arange(t_), n)
        alpha = rng.normal(0, 2, n)[u]
        x = alpha * 0.5 + rng.normal(size=n * t_)
        e = np.zeros(n * t_)
        for i in range(n):  # AR(1) errors within unit
            eps = rng.normal(size=t_)
            for s in range(1, t_):
                eps[s] += 0.5 * eps[s - 1]
            e[i * t_:(i + 1) * t_] = eps
        y = 1.0 + alpha + 0.3 * x + 0.1 * np.sin(tt) + e
        df = pd.DataFrame({"unit": u.astype(str), "t": tt, "x": x, "y": y, "period": tt.astype(str)})
        c = fit_twfe(Panel(df, "month"), "y", ["x"]).coef("x")
        covered += c.ci_low <= 0.3 <= c.ci_high
    assert 0.85 <= covered / reps <= 1.0
