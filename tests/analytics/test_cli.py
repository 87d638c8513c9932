"""`python -m analytics`: the issue's acceptance command, the other commands' JSON, and clear errors."""
import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "analytics", *args], capture_output=True, text=True)


def test_fit_json_covers_planted_value(demo_db, demo_manifest):
    out = run("fit", "--db", str(demo_db), "--y", "complaints_per_10k", "--x", "theme_days", "--lag", "1", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert {"method", "y", "n_obs", "n_units", "n_periods", "coefficients", "summary_zh", "summary_en"} <= set(d)
    c = d["coefficients"][0]
    assert {"name", "estimate", "std_error", "ci_low", "ci_high", "p_value"} <= set(c)
    truth = next(e for e in demo_manifest["effects"] if e["name"] == "theme_days_lowers_complaints")["true_effect"]
    assert c["ci_low"] <= truth <= c["ci_high"]


@pytest.mark.parametrize("cmd,extra,key", [
    ("correlate", ["--x", "theme_days,activities_total", "--y", "complaints_per_10k"], "pairs"),
    ("event-study", ["--y", "satisfaction", "--treatment", "demo_site"], "att"),
    ("reverse", ["--y", "saidi", "--x", "study_sessions"], "verdict"),
    ("whatif", ["--y", "complaints_per_10k", "--x", "theme_days", "--lag", "1", "--change", "theme_days=+1",
                "--region", "农村"], "per_unit"),
    ("quartiles", ["--y", "complaints_per_10k", "--x", "theme_days", "--lag", "1"], "diff_pct"),
])
def test_other_commands_json(demo_db, cmd, extra, key):
    out = run(cmd, "--db", str(demo_db), *extra, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert key in d and d["summary_zh"] and d["summary_en"]


def test_csv_panel_and_errors(tmp_path, demo_db):
    import duckdb

    con = duckdb.connect(str(demo_db), read_only=True)
    con.execute("COPY (SELECT business_unit_id, period, complaints_per_10k, theme_days FROM panel_month) "
                f"TO '{tmp_path / 'p.csv'}' (HEADER)")
    con.close()
    out = run("fit", "--csv", str(tmp_path / "p.csv"), "--entity", "business_unit_id", "--time", "period",
              "--y", "complaints_per_10k", "--x", "theme_days", "--lag", "1", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_units"] == 68
    bad = run("fit", "--db", str(demo_db), "--y", "nope", "--x", "theme_days")
    assert bad.returncode == 2 and "未知指标" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("fit", "--csv", str(tmp_path / "p.csv"), "--y", "complaints_per_10k", "--x", "theme_days")
    assert bad.returncode == 2 and "--entity" in bad.stderr


def page_link(demo_db, monkeypatch, page: str, params: dict) -> tuple[str, object]:
    """Run a dashboard page (AppTest) as a link opens it; return the link the page wrote back, and the run."""
    from urllib.parse import urlencode

    from tests.ui.test_pages import run_page

    at = run_page(demo_db, f"pages/{page}_page.py", monkeypatch=monkeypatch, params=params)
    assert not at.exception, [e.value for e in at.exception]
    qs = {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    return f"http://dashboard.example/{page.replace('_page', '')}?{urlencode(qs)}", at


@pytest.mark.parametrize("params", [
    {"grain": "month", "ts_y": "complaints_per_10k", "ts_x": "theme_days", "ts_lag": "1"},
    {"grain": "quarter", "from": "2022Q1", "to": "2025Q4", "region": "农村", "ts_y": "saidi", "ts_x": "pioneer_posts,theme_days",
     "ts_lag": "0", "ts_ctrl": "members"},
    {"grain": "month", "org": "P江北", "ts_y": "satisfaction", "ts_x": "study_sessions", "ts_lag": "2"},
])
def test_cli_from_a_dashboard_link_reproduces_the_page(demo_db, monkeypatch, params):
    """CLI = dashboard: the tests page's coefficient table for a link, and `fit --from-url` on the same link, give
    the same estimates (the sidebar's selection — period, area, organisation — and the page's picks)."""
    link, at = page_link(demo_db, monkeypatch, "tests", params)
    shown = list(at.dataframe[0].value.iloc[:, 1])  # the page's estimates, as it formats them
    out = run("fit", "--db", str(demo_db), "--from-url", link, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    from catalogue.formats import fmt_effect

    assert [fmt_effect(c["estimate"]) for c in d["coefficients"]] == shown
    explicit = json.loads(run("fit", "--db", str(demo_db), "--from-url", link, "--lag", "0", "--json").stdout)
    assert explicit["lag"] == 0  # an option given on the command line wins over the link's


def test_cli_whatif_from_a_link_in_decision_terms(demo_db, monkeypatch):
    link, at = page_link(demo_db, monkeypatch, "whatif", {"grain": "month", "sb_mode": "median"})
    out = run("whatif", "--db", str(demo_db), "--from-url", link, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    shown = [m.value for m in at.metric]
    from catalogue.formats import fmt_effect

    assert fmt_effect(d["mean_delta"]) == shown[0]  # scenario A's mean change, as the page shows it
    assert d["counts"]["months"] == 1 and f"{d['counts']['delta']:+,.0f}".replace("-", "−") == shown[1]
    from analytics.results import VERDICTS

    assert d["counts"]["verdict"] in VERDICTS["whatif_counts"]  # the sentence's verdict is in the JSON
    median = json.loads(run("whatif", "--db", str(demo_db), "--x", "theme_days", "--y", "complaints_per_10k",
                            "--change", "theme_days=median", "--json").stdout)
    assert median["counts"]["delta"] < 0
