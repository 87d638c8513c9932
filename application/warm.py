"""Warm the dashboard's result store after a load: `python -m application.warm [--db PATH] [--slices all,regions,types]`.

Computes what the overview and every statistics page show on a first visit — each page's view
(application/views) called with its declared DEFAULTS: overview totals, indices and quadrant,
correlations, quartiles, TWFE with diagnostics, event study, direction check, what-if model, quarterly
briefing — for the whole company and for each single region and unit type — the slices leadership looks at most — and keeps it on disk keyed on the
warehouse version, so a freshly started server answers from there. Other filter combinations are computed
on their first visit and kept as well. Results of earlier warehouse versions are removed. Each page is
warmed in its own short-lived process (peak memory of one page), `--pages` runs chosen pages in this one.

Run it after `python -m etl load`; `make run` and the upload page start it in the background
(PBKPI_WARM=0 turns that off)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import settings

ROOT = Path(__file__).resolve().parents[1]


def slices(snapshot, which: str) -> list:
    """The Selection of each slice, exactly as the sidebar builds it by default (monthly, whole range)."""
    from application.selection import Selection

    periods = snapshot.periods("month")
    types, regions = snapshot.offered()  # only slices with units behind them
    start, end = (periods[0], periods[-1]) if periods else (None, None)
    out = []
    for part in which.split(","):
        if part == "all":
            out.append(Selection("month", start, end))
        elif part == "regions":
            out += [Selection("month", start, end, regions=(r,)) for r in regions]
        elif part == "types":
            out += [Selection("month", start, end, unit_types=(t,)) for t in types]
        else:
            raise SystemExit(f"--slices 只能包含 all、regions、types，收到 {part!r}。(unknown slice)")
    return out


def views() -> dict:
    """The statistics pages' views, by page."""
    from application.views import briefing, overview, relationships, tests, whatif

    return {"overview": overview, "relationships": relationships, "tests": tests, "whatif": whatif, "briefing": briefing}


PAGES = ("overview", "relationships", "tests", "whatif", "briefing")


def warm(db: Path, which: str = "all,regions,types", log=print, pages=PAGES, isolate: bool = False) -> dict:
    """Compute every statistics page's first view for every slice; returns {page: seconds}. With isolate,
    each page is warmed in its own short-lived process, so that the peak memory is one page's, not the
    high-water mark of all of them in one process (at group scale 4.3 GB in one process)."""
    if isolate:
        return _warm_isolated(Path(db), which, log, pages)
    import gc

    from application.context import Context

    ctx = Context.open(db)
    if not ctx.snapshot.has_data():
        log("仓库中没有数据，无需预热。(no data)")
        return {}
    ctx.store.prune(ctx.version)
    timings: dict[str, float] = {}
    for sel in slices(ctx.snapshot, which):
        for page, module in views().items():
            if page not in pages:
                continue
            t0 = time.perf_counter()
            for name, outcome in ctx.outcomes(module.jobs(ctx, sel, module.DEFAULTS)).items():
                if outcome.error is not None:  # shown on the page as well; kept for this version
                    log(f"  · {page} {sel.regions or sel.unit_types or '全部'}: {outcome.message}")
            timings[page] = timings.get(page, 0.0) + time.perf_counter() - t0
            # results are on disk now: drop frames and results from memory before the next page's (at
            # group scale a panel is ~0.5 GB and each page builds its own frames; holding them all would
            # take the warm-up past 4 GB, re-reading a panel costs ~2 s)
            ctx.snapshot.warehouse.forget()
            ctx.store.forget_memory()
            gc.collect()
    for page, secs in timings.items():
        log(f"  {page}: {secs:.1f} s")
    return timings


def _warm_isolated(db: Path, which: str, log, pages) -> dict:
    import json
    import subprocess

    timings: dict[str, float] = {}
    for page in pages:
        proc = subprocess.run([sys.executable, "-m", "application.warm", "--db", str(db), "--slices", which, "--pages", page,
                               "--json"], cwd=ROOT, capture_output=True, text=True)
        for line in proc.stdout.splitlines()[:-1]:
            log(line)
        if proc.returncode != 0:
            log(f"  ! {page}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
            continue
        timings.update(json.loads(proc.stdout.splitlines()[-1]))
    return timings


def start_background(db: Path) -> None:
    """Warm the caches in a detached process (the upload page calls this after a successful load)."""
    import subprocess

    if not settings.warm_after_load():
        return
    subprocess.Popen([sys.executable, "-m", "application.warm", "--db", str(db)], cwd=ROOT, start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m application.warm", description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="warehouse file (default: $PBKPI_DB or data/warehouse.duckdb)")
    ap.add_argument("--slices", default="all,regions,types")
    ap.add_argument("--pages", default=None, help="warm only these pages, in this process (comma-separated; "
                    "default: every statistics page, each in its own process)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # last line: {page: seconds}
    args = ap.parse_args(argv)
    db = Path(args.db) if args.db else settings.db_path()
    if not db.exists():
        print(f"仓库文件不存在：{db}。(no warehouse)", file=sys.stderr)
        return 2
    from analytics.errors import AnalysisError
    from application.warehouse import open_read_only

    try:
        open_read_only(db).close()
    except AnalysisError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.pages:
        unknown = set(args.pages.split(",")) - set(PAGES)
        if unknown:
            print(f"--pages 只能包含 {'、'.join(PAGES)}，收到 {'、'.join(sorted(unknown))}。(unknown page)", file=sys.stderr)
            return 2
        timings = warm(db, args.slices, pages=tuple(args.pages.split(",")))
        if args.json:
            import json

            print(json.dumps(timings))
        return 0
    t = time.perf_counter()
    print(f"预热看板缓存 warming dashboard caches for {db} …", flush=True)
    warm(db, args.slices, log=lambda line: print(line, flush=True), isolate=True)
    print(f"完成 done in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
