"""mpdta (Callaway & Sant'Anna's minimum-wage panel, tests/analytics/data): the imputation event study
against an exact dense least-squares computation, and the pre-trend leads as estimated."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.did import event_study
from analytics.panel import Panel
from tests.analytics.test_twostage import dense_imputation_att

DATA = Path(__file__).parent / "data" / "mpdta.csv"


@pytest.fixture(scope="module")
def mpdta() -> Panel:
    df = pd.read_csv(DATA)
    df = df.rename(columns={"countyreal": "unit", "year": "t"})
    df["unit"] = df["unit"].astype(str)
    df["treat_post"] = ((df["first.treat"] > 0) & (df["t"] >= df["first.treat"])).astype(int)
    df["period"] = df["t"].astype(str)
    return Panel(df, "year")


def test_shape(mpdta):
    assert len(mpdta.df) == 2500 and mpdta.df["unit"].nunique() == 500


def test_att_equals_dense_imputation(mpdta):
    r = event_study(mpdta, "lemp", "treat_post", window=(4, 3))
    d = mpdta.df
    exact = dense_imputation_att(pd.factorize(d["unit"])[0], pd.factorize(d["t"])[0], d["lemp"].to_numpy(float),
                                 d["treat_post"].to_numpy().astype(bool))
    assert r.att.estimate == pytest.approx(exact, abs=1e-8)
    # the audit's figures (hand-written BJS imputation: ATT -0.0477, clustered SE 0.0135)
    assert r.att.estimate == pytest.approx(-0.0477, abs=5e-5)
    assert r.att.std_error == pytest.approx(0.0135, abs=5e-4)
    # each event time against the dense computation restricted to that event time
    rel = d["t"] - d["first.treat"].where(d["first.treat"] > 0)
    for est in r.dynamic:
        e = int(est.name[2:])
        keep = ~((d["treat_post"] == 1) & (rel != e)).to_numpy()
        sub = d[keep]
        exact_e = dense_imputation_att(pd.factorize(sub["unit"])[0], pd.factorize(sub["t"])[0],
                                       sub["lemp"].to_numpy(float), sub["treat_post"].to_numpy().astype(bool))
        assert est.estimate == pytest.approx(exact_e, abs=1e-8), e


def test_leads_reported_as_estimated(mpdta):
    """Audit defect: with leads covering every pre-period the e = -1 lead was silently dropped as collinear.
    The window is cut so a reference period exists; every lead that is reported was estimated."""
    r = event_study(mpdta, "lemp", "treat_post", window=(4, 3))
    names = [e.name for e in r.pre]
    assert "e=-1" in names
    assert r.settings["leads_estimated"] == len(names) == 3
    assert all(np.isfinite(e.std_error) for e in r.pre)
    assert r.pretrend_p is not None and r.verdict in ("effect", "pretrend_problem")


def test_cross_check_with_pyfixest_did2s(mpdta):
    """The audit's cross-check: pyfixest.did2s on mpdta itself fails (0.60: its first stage drops the 2004 cohort's
    units, whose unit effect rests on one untreated year, as singletons, and then multiplies arrays of 2,400 and
    2,500 rows). On mpdta without those units both implementations must agree: the static ATT and its GMM
    standard error, clustered by county."""
    import pyfixest as pf

    from analytics.twostage import two_stage_did

    d = mpdta.df
    untreated = d[d["treat_post"] == 0].groupby("unit").size()
    sub = d[d["unit"].isin(untreated[untreated > 1].index)].reset_index(drop=True)
    assert sub["unit"].nunique() < d["unit"].nunique()  # the 2004 cohort left out
    ours = two_stage_did(pd.factorize(sub["unit"])[0], pd.factorize(sub["t"])[0], sub["lemp"].to_numpy(float),
                         sub["treat_post"].to_numpy().astype(bool), sub[["treat_post"]].to_numpy(float))
    ref = pf.did2s(sub.copy(), yname="lemp", first_stage="~ 0 | unit + t", second_stage="~ 0 + treat_post",
                   treatment="treat_post", cluster="unit").tidy()
    assert ours.beta[0] == pytest.approx(ref["Estimate"].iloc[0], rel=1e-6)
    assert np.sqrt(ours.vcov[0, 0]) == pytest.approx(ref["Std. Error"].iloc[0], rel=1e-5)
    exact = dense_imputation_att(pd.factorize(sub["unit"])[0], pd.factorize(sub["t"])[0], sub["lemp"].to_numpy(float),
                                 sub["treat_post"].to_numpy().astype(bool))
    assert ours.beta[0] == pytest.approx(exact, abs=1e-8)
