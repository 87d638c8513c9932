"""Benchmark runner: generate data at several scales with the demo generator, time every step in its own
process (median of --repeat runs), and write a Markdown table and JSON under bench/results/.

Scales (branches x years): demo 120 x 5, province 2,000 x 10, group 20,000 x 10."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALES = {"demo": (120, 5), "province": (2000, 10), "group": (20000, 10)}
# the benchmark's files are far above the upload limits the dashboard enforces
STEP_ENV = {**os.environ, "PBKPI_MAX_UPLOAD_MB": "100000", "PBKPI_MAX_ROWS": str(10**9)}


def run_step(step: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.steps", step, *map(str, args)], cwd=ROOT, capture_output=True,
                         text=True, timeout=7200, env=STEP_ENV)
    if out.returncode != 0:
        raise RuntimeError(f"{step} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(step: str, repeat: int, *args) -> dict:
    runs = [run_step(step, *args) for _ in range(repeat)]
    best = dict(runs[0])
    best["seconds"] = statistics.median(r["seconds"] for r in runs)
    for k in [k for k in best if k.endswith("_seconds") and isinstance(best[k], (int, float))]:
        best[k] = statistics.median(r[k] for r in runs)
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


def bench_scale(scale: str, repeat: int, with_pages: bool, resume: bool = False) -> dict:
    """Generate, then run every step. Each finished step is saved to <scale>/partial.json, so that
    `--resume` continues a long run (a group-scale run takes about an hour) where it stopped."""
    work = ROOT / "bench" / "results" / scale
    partial = work / "partial.json"
    res = json.loads(partial.read_text()) if resume and partial.exists() else None
    if res is None:
        work.mkdir(parents=True, exist_ok=True)
        for old in work.glob("*.duckdb*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        gen = generate(scale, work)
        res = {"scale": scale, "when": time.strftime("%Y-%m-%d %H:%M"), "generate": {"seconds": gen["seconds"]},
               "rows": {k: gen[k] for k in ("activities", "outages", "business_units")},
               "paths": gen["paths"], "clean_csv": gen["clean_csv"]}
        partial.write_text(json.dumps(res, ensure_ascii=False))
    paths = res["paths"]
    org = [p for p in paths if "组织机构" in p]
    acts = [p for p in paths if "党建活动" in p]
    outs = [p for p in paths if "停电事件" in p]
    xlsx = [p for p in paths if p.endswith(".xlsx") and p not in org]
    db = work / "w.duckdb"
    template = work / "org_only.duckdb"

    def step(name, fn):
        if name not in res:
            out = fn()
            res.update(out) if name.startswith("+") else res.__setitem__(name, out)
            res[name] = res.get(name) or True
            partial.write_text(json.dumps(res, ensure_ascii=False, default=str))

    step("load_org", lambda: run_step("etl_load", db, *org))
    step("template", lambda: shutil.copyfile(db, template) and {})
    step("etl_activities", lambda: run_step("etl_load", db, *acts))
    step("etl_outages", lambda: run_step("etl_load", db, *outs))
    step("etl_xlsx", lambda: run_step("etl_load", db, *xlsx))
    step("load_rest", lambda: run_step("etl_load", db, *[p for p in paths if p not in org + acts + outs + xlsx]))
    step("mark_synthetic", lambda: run_step("mark_synthetic", db))
    step("etl_clean", lambda: median_of("etl_clean", repeat, template, work / "clean.duckdb", res["clean_csv"]))
    step("bare_duckdb", lambda: median_of("bare_duckdb", repeat, work / "bare.duckdb", res["clean_csv"]))
    step("pandas_script", lambda: run_step("pandas_script", work / "pandas.duckdb", res["clean_csv"]))
    for f in ("clean.duckdb", "bare.duckdb", "pandas.duckdb"):
        (work / f).unlink(missing_ok=True)
    step("+phases", lambda: extra_steps(scale, "phases"))
    step("+xlsx", lambda: extra_steps(scale, "xlsx"))
    step("panel_refresh", lambda: median_of("panel_refresh", repeat, db))
    step("panel_month_load", lambda: median_of("panel_month_load", repeat, db, work))
    step("twfe", lambda: median_of("twfe", repeat, db))
    step("correlate", lambda: median_of("correlate", repeat, db))
    step("event_study", lambda: median_of("event", repeat, db))
    if with_pages:
        step("+pages", lambda: extra_steps(scale, "pages"))
    return res


def extra_steps(scale: str, which: str, repeat: int = 3) -> dict:
    """Steps that run on what bench_scale left behind (generated files, the loaded warehouse)."""
    work = ROOT / "bench" / "results" / scale
    if which == "etl":  # the clean-CSV load and its bare-DuckDB baseline, side by side again
        out = {"etl_clean": median_of("etl_clean", repeat, work / "org_only.duckdb", work / "clean.duckdb",
                                      work / "activities_clean.csv"),
               "bare_duckdb": median_of("bare_duckdb", repeat, work / "bare.duckdb", work / "activities_clean.csv")}
        (work / "bare.duckdb").unlink(missing_ok=True)
        return out | extra_steps(scale, "phases")
    if which == "pages":
        return {"pages": pages_of(work / "w.duckdb")}
    if which == "stats":
        db = work / "w.duckdb"
        return {"panel_refresh": median_of("panel_refresh", repeat, db),
                "panel_month_load": median_of("panel_month_load", repeat, db, work), "twfe": median_of("twfe", repeat, db),
                "correlate": median_of("correlate", repeat, db), "event_study": median_of("event", repeat, db)}
    if which == "excel":  # the source workbooks again (their keys are replaced, so the warehouse is unchanged)
        books = [str(p) for p in sorted((work / "src").glob("*.xlsx")) if "组织机构" not in p.name]
        return {"etl_xlsx": run_step("etl_load", work / "w.duckdb", *books)}
    if which == "phases":
        return {"etl_phases": run_step("etl_phases", work / "org_only.duckdb", work / "clean.duckdb",
                                       work / "activities_clean.csv")}
    outage_csv = sorted((work / "src").glob("停电事件_*.csv"))[0]
    return {"etl_xlsx_same": run_step("etl_xlsx_same", work / "org_only.duckdb", work / "clean.duckdb",
                                      work / "activities_clean.csv", outage_csv, work)}


def pages_of(db: Path) -> dict:
    """Warm the disk caches as `python -m application.warm` does after a load, then time every page. Results kept by
    an earlier run are removed first, so that the warm-up and the uncached combination really compute."""
    shutil.rmtree(str(db) + ".cache", ignore_errors=True)
    warm = run_step("warm", db)
    timed = run_step("pages", db)
    out = timed["pages"]
    out["_warm_seconds"], out["_pages_peak_mb"] = warm["seconds"], timed["peak_mb"]
    out["_warm_peak_mb"] = max(warm["peak_mb"], warm.get("children_peak_mb", 0))
    return out


STEPS = [("etl_clean", "ETL, clean CSV (validated; panel rebuild not included)"), ("bare_duckdb", "bare DuckDB, same CSV"),
         ("pandas_script", "pandas script, same CSV"), ("etl_activities", "ETL, activity CSVs as sent (GBK, names)"),
         ("etl_outages", "ETL, outage CSVs as sent (GBK)"), ("etl_xlsx", "ETL, Excel workbooks"),
         ("panel_refresh", "panel refresh, whole (after an organisation change)"),
         ("panel_month_load", "panel refresh after next month's KPI file (incremental)"), ("twfe", "TWFE fit"), ("correlate", "correlation matrix"),
         ("event_study", "event study")]


def markdown(all_res: list[dict], env: dict) -> str:
    lines = [f"Machine: {env['machine']}; Python {env['python']}; DuckDB {env['duckdb']}; pyfixest {env['pyfixest']}. "
             f"Medians of {env['repeat']} runs for the ETL-on-clean-CSV, baselines, panel and statistics steps; "
             "each step in its own process (peak MB = that process's maximum resident set).", "",
             "| scale (run) | business units | activities | outages | step | seconds | rows/s | peak MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in all_res:
        head = (f"| {r['scale']} ({r.get('when', env['when'])}) | {r['rows']['business_units']:,} | "
                f"{r['rows']['activities']:,} | {r['rows']['outages']:,} ")
        reruns = ", ".join(f"{k[:-5]} {v}" for k, v in sorted(r.items()) if k.endswith("_when") and isinstance(v, str))
        if reruns:
            lines.append(f"{head}| steps re-run later with `--only` (their rows below are from then) | {reruns} | | |")
        for step, label in STEPS:
            s = r.get(step)
            if not s:
                continue
            rate = f"{s['rows'] / s['seconds']:,.0f}" if s.get("rows") else ""
            lines.append(f"{head}| {label} | {s['seconds']:.2f} | {rate} | {s['peak_mb']:.0f} |")
            if "from_facts_seconds" in s:
                lines.append(f"{head}| panel refresh with the month aggregates rebuilt from every fact row (first load, new "
                             f"definition) | {s['from_facts_seconds']:.2f} | | |")
        a, b, p = r["etl_clean"], r["bare_duckdb"], r["pandas_script"]
        lines.append(f"{head}| **ETL ÷ bare DuckDB** (clean CSV, per row) | {(a['seconds'] / a['rows']) / (b['seconds'] / b['rows']):.1f}× | | |")
        lines.append(f"{head}| ETL ÷ pandas script (clean CSV, per row) | {(a['seconds'] / a['rows']) / (p['seconds'] / p['rows']):.2f}× | | |")
        for name, part in ((r.get("etl_xlsx_same") or {}).get("parts") or {}).items():
            lines.append(f"{head}| ETL, {name} as one Excel workbook ({part['rows']:,} rows) | {part['seconds']:.2f} | "
                         f"{part['rows'] / part['seconds']:,.0f} | |")
            if part.get("bare_calamine_seconds"):
                bare = part["bare_calamine_seconds"]
                lines.append(f"{head}| bare calamine → DuckDB, same workbook (cells as text, nothing checked) | {bare:.2f} | "
                             f"{part['rows'] / bare:,.0f} | |")
                lines.append(f"{head}| **Excel ETL throughput ÷ bare calamine** ({name}) | {bare / part['seconds']:.2f}× | | |")
        ph = (r.get("etl_phases") or {}).get("phases")
        if ph:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(ph.items(), key=lambda kv: -kv[1]) if v >= 0.005)
            lines.append(f"{head}| ETL clean CSV by phase, s (one run) | {parts} | | |")
        pages = r.get("pages") or {}
        if "_warm_seconds" in pages:
            lines.append(f"{head}| cache warm-up after a load (`python -m application.warm --slices all,regions`) | "
                         f"{pages['_warm_seconds']:.1f} | | {pages.get('_warm_peak_mb', float('nan')):.0f} |")
            lines.append(f"{head}| all page timings below, one server process | | | {pages.get('_pages_peak_mb', float('nan')):.0f} |")
        for page, v in pages.items():
            if not page.startswith("_"):
                result = f" (statistics shown after {v['uncached_result']:.2f})" if "uncached_result" in v else ""
                lines.append(f"{head}| page {page}: cold / warm / filter change / uncached filter | "
                             f"{v['cold']:.2f} / {v['warm']:.2f} / {v['filter_change']:.2f} / "
                             f"{v.get('filter_uncached', float('nan')):.2f}{result} | | |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--scales", default="demo,province")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pages", default="demo,province,group", help="scales at which to time the pages")
    ap.add_argument("--only", default=None, choices=["etl", "excel", "pages", "phases", "stats", "xlsx"],
                    help="re-run one group of steps on the files and warehouses a previous run left under bench/results/")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted run from <scale>/partial.json")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md and growth.png from results.json")
    args = ap.parse_args(argv)
    import duckdb
    import pyfixest

    env = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
           "python": platform.python_version(), "duckdb": duckdb.__version__, "pyfixest": pyfixest.__version__,
           "when": time.strftime("%Y-%m-%d %H:%M"), "repeat": args.repeat}
    store = ROOT / "bench" / "results.json"
    previous = {r["scale"]: r for r in json.loads(store.read_text())["results"]} if store.exists() else {}
    if args.render:
        results = [previous[s] for s in SCALES if s in previous]
        (ROOT / "bench" / "RESULTS.md").write_text(markdown(results, json.loads(store.read_text())["env"]), encoding="utf-8")
        from bench.growth import plot

        plot(results, ROOT / "bench" / "growth.png")
        return 0
    for scale in args.scales.split(","):
        print(f"== {scale}", flush=True)
        if args.only:
            previous[scale].update(extra_steps(scale, args.only, args.repeat))
            # a re-run says when and on which DuckDB (the other rows keep the versions they were measured on)
            for part in [args.only] + (["phases"] if args.only == "etl" else []):  # `etl` re-runs the phases too
                previous[scale][f"{part}_when"] = f"{env['when']} (DuckDB {env['duckdb']})"
            if store.exists():
                env = json.loads(store.read_text())["env"]
        else:
            previous[scale] = bench_scale(scale, args.repeat, scale in args.pages.split(","), args.resume)
        results = [previous[s] for s in SCALES if s in previous]
        store.write_text(json.dumps({"env": env, "results": results}, ensure_ascii=False, indent=1, default=str))
        md = markdown(results, env)
        (ROOT / "bench" / "RESULTS.md").write_text(md, encoding="utf-8")
        print(md, flush=True)
    from bench.growth import plot

    plot(results, ROOT / "bench" / "growth.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
