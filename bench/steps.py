"""One benchmark step per process, so that peak memory (ru_maxrss) belongs to that step alone.
Usage: python -m bench.steps STEP ARGS... ; prints one JSON line {"seconds": …, "rows": …}."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def etl_load(db: str, *files: str) -> dict:
    from etl.load import load_files

    t = time.perf_counter()
    res = load_files([Path(f) for f in files], Path(db))
    return {"seconds": time.perf_counter() - t, "rows": sum(r.rows_loaded + r.rows_rejected for r in res),
            "errors": [r.error for r in res if r.error]}


def mark_synthetic(db: str) -> dict:
    """The benchmark's warehouses hold generated data, like the demo's: every page and export says so."""
    from etl import warehouse

    con = warehouse.connect(db)
    try:
        warehouse.set_meta(con, "synthetic_demo", "true")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"seconds": 0.0}


def etl_clean(template_db: str, db: str, csv: str) -> dict:
    """The validated load of the same clean CSV the bare-DuckDB baseline reads, into a fresh copy of a
    warehouse that holds only the organisation table (references must resolve)."""
    import shutil

    from etl.load import load_files

    shutil.copyfile(template_db, db)
    timings = {}
    t = time.perf_counter()
    (res,) = load_files([Path(csv)], Path(db), timings=timings)
    total = time.perf_counter() - t
    # the panel rebuild at the end of the command is the separate "panel refresh" step
    return {"seconds": total - timings.get("panels", 0.0), "with_panels": total, "rows": res.rows_loaded + res.rows_rejected,
            "errors": [res.error] if res.error else []}


PHASES = [("read_csv(", "read as text + look flags (one regex per row)"), (" AS col, c", "NFKC of flagged rows"),
          ("TEMP TABLE raw_skip", "blank/summary/note rows"), ("TEMP TABLE staged", "validation SQL"),
          ("count(DISTINCT hash(", "in-file duplicates"), ("行重复", "in-file duplicates"),
          ("INSERT INTO etl_rejects", "rejects"), ("DELETE FROM", "upsert: delete"), ("INSERT INTO fct_", "upsert: append"),
          ("panel_touched", "upsert: months touched"), ("panel_", "panel rebuild"), ("agg_", "panel rebuild"),
          ("CHECKPOINT", "checkpoint"),
          ("COMMIT", "commit")]


def etl_phases(template_db: str, db: str, csv: str) -> dict:
    """Where the clean-CSV load spends its time: every SQL statement timed and put in a phase; the rest
    (probe, hashing, the working copy and its publication, Python) is 'outside SQL'."""
    import shutil

    from etl import load, warehouse

    shutil.copyfile(template_db, db)
    phases: dict[str, float] = {}
    connect = warehouse.connect

    class Timed:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            t0 = time.perf_counter()
            try:
                return self._con.execute(sql, *args)
            finally:
                name = next((label for key, label in PHASES if key in sql), "other SQL")
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

        def __getattr__(self, name):
            return getattr(self._con, name)

    warehouse.connect = lambda *a, **k: Timed(connect(*a, **k))
    try:
        t = time.perf_counter()
        (res,) = load.load_files([Path(csv)], Path(db))
        total = time.perf_counter() - t
    finally:
        warehouse.connect = connect
    phases["outside SQL (probe, hash, working copy, publish, Python)"] = total - sum(phases.values())
    return {"seconds": total, "rows": res.rows_loaded + res.rows_rejected, "phases": phases}


XLSX_ROWS = 500_000  # rows/s is the measure; Excel itself stops at 1,048,576 rows a sheet


def etl_xlsx_same(template_db: str, db: str, acts_csv: str, outages_csv: str, out_dir: str) -> dict:
    """Activities and outages as Excel workbooks (title row, header, data; up to XLSX_ROWS rows each),
    loaded like any upload: rows/s of the Excel path next to the CSV path."""
    import shutil

    import pandas as pd

    from etl.demo_sources import _write_xlsx
    from etl.load import load_files

    out = {}
    for name, src, enc in (("activities", acts_csv, "utf-8"), ("outages", outages_csv, "gbk")):
        frame = pd.read_csv(src, nrows=XLSX_ROWS, dtype=str, encoding=enc, keep_default_na=False)
        book = Path(out_dir) / f"{name}.xlsx"
        _write_xlsx(book, {"Sheet1": frame}, f"{name} (synthetic benchmark data)")
        shutil.copyfile(template_db, db)
        timings = {}
        t = time.perf_counter()
        (res,) = load_files([book], Path(db), timings=timings)
        secs = time.perf_counter() - t - timings.get("panels", 0.0)
        out[name] = {"seconds": secs, "rows": res.rows_loaded + res.rows_rejected, "error": res.error,
                     "bare_calamine_seconds": bare_calamine(book, Path(out_dir) / "bare_xlsx.duckdb")}
        book.unlink()
    return {"seconds": sum(v["seconds"] for v in out.values()), "parts": out,
            "bare_calamine_seconds": sum(v["bare_calamine_seconds"] for v in out.values())}


def bare_calamine(book: Path, db: Path) -> float:
    """The baseline of the Excel path: calamine reads the sheet's cells, DuckDB stores them as they come
    (title row skipped, header as column names, every cell as text), nothing checked."""
    import duckdb
    import pyarrow as pa
    from python_calamine import CalamineWorkbook

    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    t = time.perf_counter()
    rows = CalamineWorkbook.from_path(str(book)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    header, body = [str(h) for h in rows[1]], rows[2:]
    table = pa.table({h: pa.array(["" if r[i] is None else str(r[i]) for r in body]) for i, h in enumerate(header)})
    con.register("sheet", table)
    con.execute("CREATE TABLE t AS SELECT * FROM sheet")
    secs = time.perf_counter() - t
    con.close()
    db.unlink(missing_ok=True)
    return secs


def bare_duckdb(db: str, csv: str) -> dict:
    import duckdb

    con = duckdb.connect(db)
    t = time.perf_counter()
    n = con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_csv('{csv}')").fetchall()
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    return {"seconds": time.perf_counter() - t, "rows": rows, "_": str(n)[:0]}


def pandas_script(db: str, csv: str) -> dict:
    """What a typical in-house script does: pandas read_csv, a Python loop validating rows, insert."""
    import duckdb
    import pandas as pd

    t = time.perf_counter()
    df = pd.read_csv(csv, dtype=str)
    keep = []
    for row in df.itertuples(index=False):
        try:
            ok = pd.Timestamp(row[2]) is not None and int(row[5]) >= 0 and int(row[6]) >= int(row[5])
        except (ValueError, TypeError):
            ok = False
        keep.append(ok)
    good = df[keep]
    con = duckdb.connect(db)
    con.register("good", good)
    con.execute("CREATE OR REPLACE TABLE t AS SELECT * FROM good")
    return {"seconds": time.perf_counter() - t, "rows": len(df)}


def panel_month_load(db: str, work: str) -> dict:
    """The monthly routine: next month's KPI report for every business unit loaded into a copy of the
    warehouse; the panels refresh only that quarter (etl/warehouse.py). Seconds = the panel refresh."""
    import shutil

    import duckdb

    from catalogue import datasets
    from etl.load import load_files

    copy, csv = Path(work) / "month_load.duckdb", Path(work) / "kpi_next_month.csv"
    shutil.copyfile(db, copy)
    from etl import warehouse

    con = warehouse.connect(copy)  # a warehouse built by an older version first gets this one's panels
    warehouse.init_schema(con)
    if warehouse.get_meta(con, "panel_state") is None:
        warehouse.refresh_panels(con)
    con.close()
    con = duckdb.connect(str(copy), read_only=True)
    cols = [c.id for c in datasets()["kpi_monthly"].columns if c.id != "business_unit_name"]
    frame = con.execute(f"""SELECT {', '.join(c if c != 'month' else "strftime(month + INTERVAL 1 MONTH, '%Y-%m') AS month" for c in cols)}
                            FROM fct_kpi_monthly WHERE month = (SELECT max(month) FROM fct_kpi_monthly)""").df()
    con.close()
    frame.columns = [c.name("zh") for c in datasets()["kpi_monthly"].columns if c.id != "business_unit_name"]
    frame.to_csv(csv, index=False)
    timings = {}
    t = time.perf_counter()
    (res,) = load_files([csv], copy, timings=timings)
    total = time.perf_counter() - t
    copy.unlink()
    return {"seconds": timings["panels"], "load_seconds": total, "refreshed": timings["panels_refreshed"],
            "rows": res.rows_loaded, "errors": [res.error] if res.error else []}


def panel_refresh(db: str) -> dict:
    from etl import warehouse

    con = warehouse.connect(db)
    con.execute("BEGIN TRANSACTION")
    con.execute(warehouse.sql_file("views.sql"))  # this version's views, whatever the warehouse was built with
    if warehouse.get_meta(con, "panel_state") is None:  # built by an older version: aggregates first
        warehouse.refresh_panels(con)
    t = time.perf_counter()
    warehouse.refresh_panels(con)  # whole, from the month aggregates: what a change of the organisation costs
    whole = time.perf_counter() - t
    t = time.perf_counter()
    warehouse.refresh_panels(con, from_facts=True)  # aggregates too: a first load, or a new panel definition
    from_facts = time.perf_counter() - t
    con.execute("ROLLBACK")
    return {"seconds": whole, "from_facts_seconds": from_facts}


def twfe(db: str) -> dict:
    from analytics.fe import fit_twfe
    from application.warehouse import read_panel

    p = read_panel(db, "month", ["complaints_per_10k", "theme_days", "pioneer_posts"])
    t = time.perf_counter()
    fit_twfe(p, "complaints_per_10k", ["theme_days", "pioneer_posts"], lag=1)
    return {"seconds": time.perf_counter() - t, "rows": len(p.df)}


def correlate(db: str) -> dict:
    from analytics.correlate import correlate as corr
    from application.warehouse import read_panel
    from catalogue import metric_ids

    p = read_panel(db, "month")
    t = time.perf_counter()
    corr(p, metric_ids("input"), metric_ids("kpi"))
    return {"seconds": time.perf_counter() - t, "rows": len(p.df)}


def event(db: str) -> dict:
    from analytics.did import event_study
    from application.warehouse import read_panel

    p = read_panel(db, "month", ["satisfaction", "demo_site"])
    t = time.perf_counter()
    event_study(p, "satisfaction", "demo_site", with_naive=False)
    return {"seconds": time.perf_counter() - t, "rows": len(p.df)}


def warm(db: str) -> dict:
    from application.warm import warm as warm_caches

    import resource

    t = time.perf_counter()
    # the slices the page timings visit (company, regions); unit types add 7 more of the same cost. One
    # process per page, as `python -m application.warm` runs it: the peak is the largest of those processes
    pages = warm_caches(Path(db), "all,regions", log=lambda *a: None, isolate=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": time.perf_counter() - t, "pages": pages, "children_peak_mb": children}


def st_clear() -> None:
    """Drop Streamlit's in-memory caches so that every page starts as on a freshly started server (disk-
    persisted entries, which `python -m application.warm` fills after a load, stay: a new server has them too)."""
    from streamlit.runtime.caching import cache_data_api, cache_resource_api

    cache_data_api._data_caches._function_caches.clear()
    cache_resource_api._resource_caches._function_caches.clear()  # ui.session.services: a new store and warehouse


def pages(db: str) -> dict:
    """Server-side script time of every page, with AppTest: cold (a fresh server: empty memory, the disk
    cache `python -m application.warm` filled), warm (same view again), after a filter change to one region (a
    precomputed slice), and after a change to a two-region combination (computed on the visit: in the
    background for a large slice, so both the page's answer and the time until the statistics show)."""
    import os

    os.environ["PBKPI_DB"] = db
    from streamlit.testing.v1 import AppTest

    from ui.session import services

    app = str(Path(__file__).resolve().parents[1] / "app.py")
    out = {}
    for page in ["overview", "unit_profile", "relationships", "tests", "whatif", "briefing", "data"]:
        st_clear()
        at = AppTest.from_file(app, default_timeout=600)
        at.run()
        at.switch_page(f"pages/{page}_page.py")
        t = time.perf_counter()
        at.run()
        cold = time.perf_counter() - t
        t = time.perf_counter()
        at.run()
        warm = time.perf_counter() - t
        t = time.perf_counter()
        at.multiselect(key="f_regions").set_value(["农村"]).run()
        changed = time.perf_counter() - t
        # a combination the warm-up does not precompute: the page answers with a notice while the background
        # worker fits; then the time until its statistics are drawn (worker done + the rerun that draws them)
        t = time.perf_counter()
        at.multiselect(key="f_regions").set_value(["城区", "县城"]).run()
        uncached = time.perf_counter() - t
        while services(db)[2].busy():
            time.sleep(0.02)
        at.run()
        result = time.perf_counter() - t
        out[page] = {"cold": cold, "warm": warm, "filter_change": changed, "filter_uncached": uncached,
                     "uncached_result": result, "errors": len(at.exception)}
    return {"pages": out}


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    import resource

    res = globals()[step](*args)
    res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res))
