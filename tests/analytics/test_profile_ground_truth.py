"""The statistics validation on each industry profile's demo (`etl demo --profile oilfield|plant`): the engine
recovers what the generator planted (manifest.json) — slopes, the staggered designation effect, the reverse
link — and calls no planted null an effect; the confounder fools the pooled view only. The power profile's
own demo is tests/analytics/test_ground_truth.py."""
import json

import pytest

import catalogue
from analytics.correlate import correlate
from analytics.did import event_study
from analytics.fe import fit_twfe
from analytics.reverse import reverse_check
from application import statistics as stats
from application.warehouse import read_panel

PROFILES = ["oilfield", "plant"]


@pytest.fixture(params=PROFILES)
def demo(request):
    """(panel, manifest) of one industry demo, with its catalogue active for the test."""
    db = request.getfixturevalue(f"{request.param}_db")
    manifest = json.loads((db.parent / "src" / "manifest.json").read_text(encoding="utf-8"))
    with catalogue.using(request.param):
        yield read_panel(db, "month"), manifest


def slopes(manifest):
    return [e for e in manifest["effects"] if e.get("kind") != "staggered_did"]


def test_the_manifest_describes_its_own_industry(demo):
    panel, man = demo
    assert man["synthetic"] is True and man["profile"] == catalogue.profile().id
    ids = set(catalogue.metrics())
    for group in ("effects", "nulls", "confounders", "implied"):
        for e in man[group]:
            assert {e["x"], e["y"]} <= ids, e
    assert {"saidi", "customers", "complaints_per_10k"}.isdisjoint(panel.df.columns)  # nothing of power supply


def test_planted_slopes_covered(demo):
    panel, man = demo
    assert len(slopes(man)) == 2
    for eff in slopes(man):
        c = fit_twfe(panel, eff["y"], [eff["x"]], lag=eff["lag"]).coefficients[0]
        assert c.ci_low <= eff["true_effect"] <= c.ci_high, eff["name"]
        assert c.p_value < 0.001


def test_planted_nulls_not_called_effects(demo):
    panel, man = demo
    res = correlate(panel, stats.inputs(), stats.kpis(), 1).table
    within = res[(res.scope == "within") & (res.method == "pearson")].set_index(["input", "kpi"])
    for null in man["nulls"]:
        assert within.loc[(null["x"], null["y"]), "verdict"] != "association", null
        r = fit_twfe(panel, null["y"], [null["x"]])
        assert r.coefficients[0].ci_low <= 0 <= r.coefficients[0].ci_high, null


def test_confounder_fools_pooled_not_within(demo):
    panel, man = demo
    conf = man["confounders"][0]
    t = correlate(panel, [conf["x"]], [conf["y"]]).table
    t = t[t.method == "pearson"].set_index("scope")
    assert t.loc["pooled", "r"] > 0.15 and t.loc["pooled", "q_value"] < 0.01
    assert abs(t.loc["within", "r"]) < 0.05 and t.loc["within", "verdict"] != "association"
    c = fit_twfe(panel, conf["y"], [conf["x"]]).coefficients[0]
    assert c.ci_low <= 0 <= c.ci_high


def test_reverse_link_detected(demo):
    panel, man = demo
    rev = man["reverse"][0]
    r = reverse_check(panel, rev["from"], rev["to"])
    assert r.verdict == "backward" and r.backward.estimate > 0


def test_event_study_recovers_the_designation_effect(demo):
    panel, man = demo
    eff = next(e for e in man["effects"] if e.get("kind") == "staggered_did")
    r = event_study(panel, eff["y"], eff["x"])
    assert r.att.ci_low <= eff["att_overall"] <= r.att.ci_high
    # the pre-trend test is a 5% test: on a correct demo it rejects 1 time in 20 (its size is checked by the
    # Monte Carlo in bench/validate.py); here it must not reject at 1%
    assert r.pretrend_p > 0.01
    truth = {int(k): v for k, v in eff["att_by_event_month"].items()}
    covered = sum(e.ci_low <= truth[int(e.name[2:])] <= e.ci_high for e in r.dynamic)
    assert covered >= len(r.dynamic) - 2


def test_default_view_finds_the_planted_and_little_else(demo):
    """The relationships page's default view (within unit and period, lag 1, BH over every test) finds every
    planted relation and calls no planted null. Benjamini–Hochberg bounds the expected share of false
    discoveries at 5%, so among the handful found one discovery outside the planted and implied relations is
    within its promise; two are not."""
    panel, man = demo
    t = correlate(panel, stats.inputs(), stats.kpis(), 1).table
    flagged = {(r.input, r.kpi) for r in t[(t.scope == "within") & (t.verdict == "association")].itertuples()}
    planted = {(e["x"], e["y"]) for e in man["effects"]}
    allowed = planted | {(e["x"], e["y"]) for e in man["implied"]}
    assert planted <= flagged
    assert not flagged & {(n["x"], n["y"]) for n in man["nulls"]}
    assert len(flagged - allowed) <= 1, sorted(flagged - allowed)


def documented_commands() -> list[list[str]]:
    """The README's manifest commands (Demo data and its ground truth), as argument lists."""
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- BEGIN MANIFEST COMMANDS -->")[1].split("<!-- END MANIFEST COMMANDS -->")[0]
    return [shlex.split(line) for line in block.splitlines() if line.startswith("python -m analytics")]


@pytest.mark.parametrize("args", documented_commands(), ids=lambda a: " ".join(a[3:8]))
def test_the_documented_commands_recover_the_manifest(request, args):
    """Each documented command, run as documented on the demo warehouse, answers what the manifest planted:
    a planted slope's interval covers it, a planted null's covers zero and is not called an association, the
    designation's ATT interval covers the planted ATT."""
    import subprocess
    import sys

    db_arg = args[args.index("--db") + 1]
    profile = "oilfield" if "oilfield" in db_arg else "plant"
    db = request.getfixturevalue(f"{profile}_db")
    run = [sys.executable, *args[1:]]
    run[run.index(db_arg)] = str(db)
    out = json.loads(subprocess.run(run, check=True, capture_output=True, text=True).stdout)
    man = json.loads((db.parent / "src" / "manifest.json").read_text(encoding="utf-8"))
    if args[3] == "event-study":
        eff = next(e for e in man["effects"] if e.get("kind") == "staggered_did" and e["y"] == out["y"])
        assert out["att"]["ci_low"] <= eff["att_overall"] <= out["att"]["ci_high"]
        return
    c = out["coefficients"][0]
    planted = {(e["x"], e["y"]): e for e in man["effects"]}
    nulls = {(n["x"], n["y"]) for n in man["nulls"]}
    key = (c["name"], out["y"])
    assert key in planted or key in nulls, key
    truth = planted[key]["true_effect"] if key in planted else 0.0
    assert c["ci_low"] <= truth <= c["ci_high"]
    assert (c["verdict"] == "association") == (key in planted)
