"""Peer percentiles: mid-rank for ties, nothing for missing values, direction-aware; integers format."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from analytics.peers import mid_rank_percentile, peer_percentiles
from catalogue.formats import fmt_metric


def test_all_peers_tied_stand_at_the_median():
    """The issue's case: every peer at 100% bill recovery put the unit at the 0th percentile (strict <)."""
    peers = pd.DataFrame({"business_unit_id": list("abcde"), "bill_recovery": [100.0] * 5})
    pp = peer_percentiles(peers, "c", ["bill_recovery"])
    assert pp["percentile"].tolist() == [50.0]


def test_hand_computed_and_direction_aware():
    peers = pd.DataFrame({"business_unit_id": list("abcdef"),
                          "complaints_per_10k": [1.0, 2.0, 2.0, 3.0, np.nan, 5.0],  # lower is better
                          "satisfaction": [80.0, 85.0, 85.0, 90.0, 70.0, np.nan]})
    pp = peer_percentiles(peers, "b", ["complaints_per_10k", "satisfaction"]).set_index("metric")
    # complaints: 5 reporting peers, 1 below, 2 equal -> (1 + 1) / 5 = 40; lower is better -> 60
    assert pp.loc["complaints_per_10k", "percentile"] == pytest.approx(60.0)
    assert pp.loc["complaints_per_10k", "n_peers"] == 5
    # satisfaction: 5 reporting, 2 below (70, 80), 2 equal -> (2 + 1) / 5 = 60
    assert pp.loc["satisfaction", "percentile"] == pytest.approx(60.0)
    # a unit without a value gets no percentile
    assert "complaints_per_10k" not in set(peer_percentiles(peers, "e", ["complaints_per_10k"])["metric"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=3, max_size=30))
def test_mid_rank_matches_scipy_and_averages_to_fifty(values):
    from scipy import stats

    s = pd.Series(values, dtype=float)
    got = [mid_rank_percentile(s, v) for v in values]
    want = [stats.percentileofscore(values, v, kind="mean") for v in values]
    assert got == pytest.approx(want)
    assert np.mean(got) == pytest.approx(50.0)


def test_integer_counts_are_formatted():
    """The issue's case: a unit with 1 complaint showed '—' because numpy integers failed the formatter."""
    assert fmt_metric("complaints", np.int64(1), "zh") != "—"
    assert fmt_metric("complaints", np.int64(1), "zh").startswith("1")
    assert fmt_metric("complaints", True, "zh") == "—"
