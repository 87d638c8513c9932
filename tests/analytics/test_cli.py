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
