"""On the demo warehouse the engine recovers what the demo generator planted (manifest.json)."""
import json

import pytest

from analytics.correlate import correlate
from analytics.did import event_study
from analytics.fe import fit_twfe
from analytics.reverse import reverse_check
from application.warehouse import read_panel
from catalogue import metric_ids
from tests.conftest import build_once


@pytest.fixture(scope="module")
def panel(demo_db):
    return read_panel(demo_db, "month")


def planted(manifest, name):
    return next(e for e in manifest["effects"] if e["name"] == name)


@pytest.mark.parametrize("name", ["theme_days_lowers_complaints", "pioneer_posts_lower_saidi"])
def test_planted_slopes_covered(panel, demo_manifest, name):
    eff = planted(demo_manifest, name)
    r = fit_twfe(panel, eff["y"], [eff["x"]], lag=eff["lag"])
    c = r.coefficients[0]
    assert c.ci_low <= eff["true_effect"] <= c.ci_high
    assert c.p_value < 0.05


def test_planted_nulls_not_significant_after_bh(panel, demo_manifest):
    res = correlate(panel, metric_ids("input"), metric_ids("kpi"))
    within = res.table[(res.table.scope == "within") & (res.table.method == "pearson")].set_index(["input", "kpi"])
    for null in demo_manifest["nulls"]:
        assert within.loc[(null["x"], null["y"]), "q_value"] >= 0.05, null
        r = fit_twfe(panel, null["y"], [null["x"]])
        assert r.coefficients[0].ci_low <= 0 <= r.coefficients[0].ci_high


def test_confounder_fools_pooled_not_within(panel, demo_manifest):
    conf = demo_manifest["confounders"][0]
    res = correlate(panel, [conf["x"]], [conf["y"]])
    t = res.table[res.table.method == "pearson"].set_index("scope")
    # pooled: significant even with unit-clustered inference (the between-unit confounding is real)
    assert t.loc["pooled", "r"] > 0.15 and t.loc["pooled", "q_value"] < 0.01
    assert t.loc["within", "r"] < 0.05 and t.loc["within", "verdict"] != "association"
    r = fit_twfe(panel, conf["y"], [conf["x"]])
    assert r.coefficients[0].ci_low < 0.01 and r.coefficients[0].estimate < 0.005


def test_reverse_link_detected(panel, demo_manifest):
    rev = demo_manifest["reverse"][0]
    r = reverse_check(panel, rev["from"], rev["to"])
    assert r.verdict == "backward"
    assert r.backward.estimate > 0


def test_event_study_recovers_designation_effect(panel, demo_manifest):
    eff = planted(demo_manifest, "demo_site_raises_satisfaction")
    r = event_study(panel, "satisfaction", "demo_site")
    assert r.pretrend_passes
    assert r.att.ci_low <= eff["att_overall"] <= r.att.ci_high
    truth = {int(k): v for k, v in eff["att_by_event_month"].items()}
    covered = sum(e.ci_low <= truth[int(e.name[2:])] <= e.ci_high for e in r.dynamic)
    assert covered >= len(r.dynamic) - 2  # 13 intervals at 95%: a miss or two is chance


def test_coverage_across_seeds(tmp_path_factory, demo_db, demo_manifest):
    """Each planted effect's 95% CI, over three independently generated companies: 9 intervals, expect
    ~8.5 to cover; 6 or fewer would happen with probability < 0.001 if the CIs were right."""
    dbs = [demo_db] + [build_once(tmp_path_factory, f"demo_seed{s}", seed=s) for s in (7, 11)]
    covered = 0
    for db in dbs:
        man = json.loads((db.parent / "src" / "manifest.json").read_text(encoding="utf-8"))
        p = read_panel(db, "month")
        for name in ("theme_days_lowers_complaints", "pioneer_posts_lower_saidi"):
            eff = planted(man, name)
            c = fit_twfe(p, eff["y"], [eff["x"]], lag=eff["lag"]).coefficients[0]
            covered += c.ci_low <= eff["true_effect"] <= c.ci_high
        att = event_study(p, "satisfaction", "demo_site", with_naive=False).att
        covered += att.ci_low <= planted(man, "demo_site_raises_satisfaction")["att_overall"] <= att.ci_high
    assert covered >= 7


def test_default_view_flags_only_what_the_demo_plants(panel, demo_manifest):
    """#14's done-when: the relationships page's default view (within unit and period, lag 1, one BH family over
    every test) calls `association` only for relations the manifest plants, or that follow from a planted one
    through how the metrics are built (`implied`: activities_total counts theme days; RS-1, SAIFI and CAIDI share
    SAIDI's outages). The heatmap and the page's sentence use these Pearson verdicts."""
    from application import statistics as stats

    res = correlate(panel, stats.inputs(), stats.kpis(), 1)  # the page's lists: rates, never size-scaled totals
    t = res.table
    # every method: Spearman (the robustness check) confirms, it never discovers on its own
    flagged = {(r.input, r.kpi) for r in t[(t.scope == "within") & (t.verdict == "association")].itertuples()}
    allowed = {(e["x"], e["y"]) for e in demo_manifest["effects"]} | {(e["x"], e["y"]) for e in demo_manifest["implied"]}
    assert flagged, "the planted effects are found"
    assert flagged <= allowed, sorted(flagged - allowed)
    assert not flagged & {(n["x"], n["y"]) for n in demo_manifest["nulls"]}
