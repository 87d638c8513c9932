"""Benchmark runner: generate data at several scales with the demo generator, time every step in its own
process (median of --repeat runs), and write a Markdown table and JSON under bench/results/.

Scales (branches x years): demo 120 x 5, province 2,000 x 10, group 20,000 x 10."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALES = {"demo": (120, 5), "province": (2000, 10), "group": (20000, 10)}


def run_step(step: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.steps", step, *map(str, args)], cwd=ROOT, capture_output=True,
                         text=True, timeout=7200)
    if out.returncode != 0:
        raise RuntimeError(f"{step} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(step: str, repeat: int, *args) -> dict:
    runs = [run_step(step, *args) for _ in range(repeat)]
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    best["peak_mb"] = max(r["peak_mb"] for r in runs)
    best["runs"] = [round(r["seconds"], 3) for r in runs]
    return best


def generate(scale: str, work: Path) -> dict:
    from etl.demo import simulate, write_sources

    n, years = SCALES[scale]
    t = time.perf_counter()
    sim = simulate(seed=1, n_units=n, years=years, end_year=2025)
    paths = write_sources(sim, work / "src", seed=1)
    # the same activity rows as one clean UTF-8 CSV, for the bare-DuckDB and pandas baselines
    act = sim["frames"]["activities"]
    clean = work / "activities_clean.csv"
    act[["activity_id", "unit_id", "date", "activity_type", "participants", "expected", "hours", "topic"]].to_csv(clean, index=False)
    return {"seconds": time.perf_counter() - t, "paths": [str(p) for p in paths], "clean_csv": str(clean),
            "activities": len(act), "outages": len(sim["frames"]["outages"]), "business_units": int(sim["manifest"]["n_business_units"])}


def bench_scale(scale: str, repeat: int, with_pages: bool) -> dict:
    work = ROOT / "bench" / "results" / scale
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.duckdb*"):
        old.unlink()
    gen = generate(scale, work)
    paths = gen["paths"]
    org = [p for p in paths if "组织机构" in p]
    acts = [p for p in paths if "党建活动" in p]
    outs = [p for p in paths if "停电事件" in p]
    db = work / "w.duckdb"
    res = {"scale": scale, "generate": {"seconds": gen["seconds"]}, "rows": {k: gen[k] for k in ("activities", "outages", "business_units")}}
    res["load_org"] = run_step("etl_load", db, *org)
    res["etl_activities"] = run_step("etl_load", db, *acts)
    res["etl_outages"] = run_step("etl_load", db, *outs)
    res["load_rest"] = run_step("etl_load", db, *[p for p in paths if p not in org + acts + outs])
    res["bare_duckdb"] = median_of("bare_duckdb", repeat, work / "bare.duckdb", gen["clean_csv"])
    res["pandas_script"] = run_step("pandas_script", work / "pandas.duckdb", gen["clean_csv"])
    res["panel_refresh"] = median_of("panel_refresh", repeat, db)
    res["twfe"] = median_of("twfe", repeat, db)
    res["correlate"] = median_of("correlate", repeat, db)
    res["event_study"] = median_of("event", repeat, db)
    if with_pages:
        res["pages"] = run_step("pages", db)["pages"]
    return res


def markdown(all_res: list[dict], env: dict) -> str:
    lines = [f"Machine: {env['machine']}; Python {env['python']}; DuckDB {env['duckdb']}; pyfixest {env['pyfixest']}; "
             f"run {env['when']}. Medians of {env['repeat']} runs where marked.", "",
             "| scale | business units | activities | outages | step | seconds | rows/s | peak MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in all_res:
        head = f"| {r['scale']} | {r['rows']['business_units']:,} | {r['rows']['activities']:,} | {r['rows']['outages']:,} "
        for step in ("etl_activities", "etl_outages", "bare_duckdb", "pandas_script", "panel_refresh", "twfe", "correlate", "event_study"):
            s = r[step]
            rate = f"{s['rows'] / s['seconds']:,.0f}" if s.get("rows") else ""
            lines.append(f"{head}| {step} | {s['seconds']:.2f} | {rate} | {s['peak_mb']:.0f} |")
        a, b, p = r["etl_activities"], r["bare_duckdb"], r["pandas_script"]
        lines.append(f"{head}| ETL ÷ bare DuckDB (activities, per row) | {(a['seconds'] / a['rows']) / (b['seconds'] / b['rows']):.1f}× | | |")
        lines.append(f"{head}| ETL ÷ pandas script (activities, per row) | {(a['seconds'] / a['rows']) / (p['seconds'] / p['rows']):.2f}× | | |")
        for page, v in (r.get("pages") or {}).items():
            lines.append(f"{head}| page {page}: cold / warm / filter change | {v['cold']:.2f} / {v['warm']:.2f} / {v['filter_change']:.2f} | | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--scales", default="demo,province")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pages", default="demo,province", help="scales at which to time the pages")
    args = ap.parse_args(argv)
    import duckdb
    import pyfixest

    env = {"machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, {platform.platform()}",
           "python": platform.python_version(), "duckdb": duckdb.__version__, "pyfixest": pyfixest.__version__,
           "when": time.strftime("%Y-%m-%d %H:%M"), "repeat": args.repeat}
    results = []
    for scale in args.scales.split(","):
        print(f"== {scale}", flush=True)
        results.append(bench_scale(scale, args.repeat, scale in args.pages.split(",")))
        md = markdown(results, env)
        out = ROOT / "bench" / "results"
        (out / "bench.md").write_text(md, encoding="utf-8")
        (out / "bench.json").write_text(json.dumps({"env": env, "results": results}, ensure_ascii=False, indent=2, default=str))
        print(md, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
