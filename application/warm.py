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
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

import logsetup
import settings

ROOT = Path(__file__).resolve().parents[1]
log_ = logging.getLogger(__name__)


# --- the warm-up's state, for the Data page and the health check ---------------------------------------

def state_path(db) -> Path:
    """Beside the warehouse file; for a lake, beside this server's local name for it (data/lake-<key>)."""
    from etl import lake

    if lake.is_lake(db):
        from application.warehouse import Warehouse

        return Path(str(Warehouse(db).path) + ".warm.json")
    return Path(str(Path(db).resolve()) + ".warm.json")


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError, TypeError):
        return False


def read_state(db) -> dict | None:
    """{"state": running|done|failed|interrupted, "started", "finished", "reason", "pages", "version"} of the
    last warm-up of this warehouse, or None when none ran. A warm-up whose process is gone while it still says
    running was interrupted (killed, machine restarted)."""
    try:
        doc = json.loads(state_path(db).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log_.warning("warm-up state %s unreadable: %s", state_path(db), exc)
        return None
    if doc.get("state") == "running" and not _alive(doc.get("pid")):
        doc["state"] = "interrupted"
    return doc


def _write_state(db: Path, **doc) -> None:
    path = state_path(db)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # the warm-up itself goes on; its state is only not shown
        log_.warning("could not write the warm-up state %s", path, exc_info=True)


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


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
        return _warm_isolated(db, which, log, pages)
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


def _warm_isolated(db, which: str, log, pages) -> dict:
    """Each page in its own process; {page: seconds}, and {"failed": {page: reason}} for those that failed."""
    import subprocess

    timings: dict = {}
    failed: dict[str, str] = {}
    for page in pages:
        proc = subprocess.run([sys.executable, "-m", "application.warm", "--db", str(db), "--slices", which, "--pages", page,
                               "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout.splitlines()[:-1]:
            log(line)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            failed[page] = lines[-1] if lines else f"exit status {proc.returncode}"
            log_.error("warming %s failed (exit %s): %s", page, proc.returncode, proc.stderr.strip()[-2000:])
            log(f"  ! {page}: {failed[page]}")
            continue
        timings.update(json.loads(proc.stdout.splitlines()[-1]))
    if failed:
        timings["failed"] = failed
    return timings


def start_background(db: Path) -> None:
    """Warm the caches in a detached process (the upload page calls this after a successful load)."""
    import subprocess

    if not settings.warm_after_load():
        log_.info("warm-up after the load is off (PBKPI_WARM)")
        return
    # its log lines go to the log file (and to this server's stderr, where the operator looks)
    proc = subprocess.Popen([sys.executable, "-m", "application.warm", "--db", str(db)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=None)
    log_.info("warm-up started in the background, pid %s", proc.pid)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m application.warm", description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=None, help="warehouse file (default: $PBKPI_DB or data/warehouse.duckdb)")
    ap.add_argument("--slices", default="all,regions,types")
    ap.add_argument("--pages", default=None, help="warm only these pages, in this process (comma-separated; "
                    "default: every statistics page, each in its own process)")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # last line: {page: seconds}
    args = ap.parse_args(argv)
    if not logsetup.start_command("warm", stderr=True):  # run in the background: its log is its output
        return 2
    from analytics.errors import AnalysisError
    from application.warehouse import Warehouse, open_read_only
    from etl import lake

    db = args.db or settings.warehouse()
    if lake.is_lake(db):  # a lake's statistics go to its shared shelf: every server reads them
        db = str(db)
        if not Warehouse(db).source.exists():
            print(f"湖仓还没有已发布的快照：{db}。请先运行 `python -m etl publish`。(nothing published)", file=sys.stderr)
            return 2
    else:
        db = Path(db)
        if not db.exists():
            print(f"仓库文件不存在：{db}。(no warehouse)", file=sys.stderr)
            return 2
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
    return _warm_with_state(db, args.slices)


def _warm_with_state(db, which: str) -> int:
    """The whole warm-up, its state written beside the warehouse as it goes (running, then done or failed
    with the reason), every step logged."""
    t = time.perf_counter()
    started = _now()
    from application.warehouse import Warehouse

    version = Warehouse(db).version()
    _write_state(db, state="running", pid=os.getpid(), started=started, version=version)
    log_.info("warming dashboard caches for %s", db)
    print(f"预热看板缓存 warming dashboard caches for {db} …", flush=True)
    try:
        timings = warm(db, which, log=lambda line: print(line, flush=True), isolate=True)
    except Exception as exc:  # logged with its traceback and shown on the Data page; the server is unaffected
        log_.exception("warm-up failed")
        _write_state(db, state="failed", pid=os.getpid(), started=started, finished=_now(), version=version,
                     reason=f"{type(exc).__name__}: {exc}")
        return 1
    failed = timings.pop("failed", {})
    secs = time.perf_counter() - t
    if failed:
        reason = "；".join(f"{page}: {why}" for page, why in failed.items())
        _write_state(db, state="failed", pid=os.getpid(), started=started, finished=_now(), version=version,
                     reason=reason, pages=timings, seconds=round(secs, 1))
        log_.error("warm-up finished in %.1f s with failures: %s", secs, reason)
        return 1
    _write_state(db, state="done", pid=os.getpid(), started=started, finished=_now(), version=version, pages=timings,
                 seconds=round(secs, 1))
    log_.info("warm-up done in %.1f s: %s", secs, ", ".join(f"{p} {s:.1f} s" for p, s in timings.items()))
    print(f"完成 done in {secs:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
