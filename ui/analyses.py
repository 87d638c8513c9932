"""The statistics the pages show, computed once per warehouse version and kept twice: in memory for the
server process, and on disk next to the warehouse (`<warehouse>.cache/<version>/`) so that a freshly
started server — and the first leader to open a page after a load — reads instead of fitting.

`python -m ui.warm` computes the default view of every statistics page for the whole company and for each
region and unit type right after a load; other filter combinations are computed on their first visit and
then kept too. Keys hold the warehouse version (file size and modification time), the arguments and a
hash of the analysis code, so a load or an upgrade never serves stale results. Failures (AnalysisError)
are not kept. Results are shared objects: pages must not modify them."""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pandas as pd

import settings
from analytics.panel import add_lag, lag_name
from ui import data, state

# The estimators (scipy, statsmodels, pyfixest: ≈ 1.5 s to import) are imported inside the functions, so
# that a page reading kept results does not load them.

ROOT = Path(__file__).resolve().parents[1]
INPUTS = state.metric_options("input")
KPIS = state.metric_options("kpi")
TREATMENTS = ["demo_site", "secretary_projects_active"]
SCATTER_POINTS = 20_000  # more points than this only slow the browser; the fit line and bins use all

# the pages' widget defaults, here so that the warm-up computes exactly what a first visit asks for
DEFAULTS = {
    "rel": {"x": "theme_days", "y": "complaints_per_10k", "lag": 1},
    "tests": {"y": "complaints_per_10k", "xs": ("theme_days",), "lag": 1, "controls": (), "treatment": TREATMENTS[0],
              "event_y": "satisfaction"},
}


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    h = hashlib.sha256()
    for pkg in ("analytics", "briefing", "catalogue"):
        for f in sorted((ROOT / pkg).glob("*.*")):
            if f.suffix in (".py", ".toml"):
                h.update(f.read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def cache_dir(v: str) -> Path:
    """Directory of this warehouse version's results."""
    return Path(str(settings.db_path()) + ".cache") / hashlib.sha256(f"{v}|{code_version()}".encode()).hexdigest()[:16]


def prune(v: str) -> int:
    """Remove the results of other warehouse versions; returns how many directories went."""
    keep = cache_dir(v)
    gone = 0
    if keep.parent.is_dir():
        for d in keep.parent.iterdir():
            if d.is_dir() and d != keep:
                shutil.rmtree(d, ignore_errors=True)
                gone += 1
    return gone


STATS = {"computed": 0, "from_disk": 0, "background": 0}
KEPT: list = []  # every kept function
MEMORY_ENTRIES = 64

_lock = threading.RLock()
_memory: OrderedDict = OrderedDict()  # (qualname, v, key) -> value, shared by every session, LRU
# (qualname, v, key) -> (exception, sticky): what a computation raised, in memory only. The domain errors
# (AnalysisError, BriefingError: ValueErrors such as "too few treated units") hold for the whole version;
# anything else (out of memory, a locked file) is raised once on the page and then tried again.
_failed: dict = {}
_queue: list = []  # pending (memory key, thunk, time asked), newest last: the worker takes the newest first
_running: list = []  # the key being computed
_wake = threading.Condition(_lock)
_worker: threading.Thread | None = None
QUEUE_LIMIT = 16  # requests older than the last 16 are dropped (the visitor has long moved on)
# the worker starts a request this long after it arrived: the page run that asked finishes first (the two
# would share the interpreter lock), and a visitor clicking through filters only gets the last one computed
START_DELAY = 0.4


class Pending(Exception):
    """Some statistic of this view is being computed in the background."""


def _key(func, v, args) -> tuple:
    return func.__qualname__, v, hashlib.sha256(pickle.dumps((func.__qualname__, args), protocol=4)).hexdigest()[:32]


def _remember(mkey, value) -> None:
    with _lock:
        _memory[mkey] = value
        _memory.move_to_end(mkey)
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)


def forget_memory() -> None:
    """Drop every result held in memory (the disk copies stay): what a freshly started server has."""
    with _lock:
        _memory.clear()
        _failed.clear()


def kept(func):
    """In memory (shared across sessions) on top of a pickle on disk, keyed on (version, arguments)."""

    def path_of(mkey) -> Path:
        return cache_dir(mkey[1]) / f"{mkey[0]}-{mkey[2]}.pkl"

    def lookup(mkey):
        """(True, value) when kept in memory or on disk; a kept failure is raised again."""
        with _lock:
            if mkey in _memory:
                _memory.move_to_end(mkey)
                return True, _memory[mkey]
            if mkey in _failed:
                exc, sticky = _failed[mkey]
                if not sticky:
                    del _failed[mkey]
                raise exc
        try:
            value = pickle.loads(path_of(mkey).read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return False, None
        STATS["from_disk"] += 1
        _remember(mkey, value)
        return True, value

    def compute(mkey, v, args):
        try:
            value = func(v, *args)
        except Exception as exc:  # noqa: BLE001 - kept so that a page waiting for it shows it
            with _lock:
                _failed[mkey] = (exc, isinstance(exc, ValueError))
            raise
        STATS["computed"] += 1
        _remember(mkey, value)
        path = path_of(mkey)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # readers see the whole file or none
        except OSError:
            pass  # a read-only disk only costs speed
        return value

    @functools.wraps(func)
    def call(v, *args):
        mkey = _key(func, v, args)
        found, value = lookup(mkey)
        return value if found else compute(mkey, v, args)

    def ready(v, *args) -> bool:
        """Kept already; a kept failure counts too (left in place: the page's call raises it)."""
        mkey = _key(func, v, args)
        with _lock:
            if mkey in _memory or mkey in _failed:
                return True
        try:
            return lookup(mkey)[0]
        except Exception:  # noqa: BLE001 - failed meanwhile: the page's call raises it
            return True

    def submit(v, *args) -> None:
        mkey = _key(func, v, args)
        _enqueue(mkey, lambda: compute(mkey, v, args))

    def clear() -> None:
        with _lock:
            for k in [k for k in _memory if k[0] == func.__qualname__]:
                del _memory[k]

    call.ready, call.submit, call.clear = ready, submit, clear
    KEPT.append(call)
    return call


def _enqueue(mkey, thunk) -> None:
    global _worker
    with _lock:
        if mkey in _running:
            return
        _queue[:] = [item for item in _queue if item[0] != mkey]  # a repeated request moves to the front
        _queue.append((mkey, thunk, time.monotonic()))
        del _queue[:-QUEUE_LIMIT]
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_work, name="pbkpi-statistics", daemon=True)
            _worker.start()
        _wake.notify()


def _work() -> None:
    """One background thread, one statistic at a time (each may need a GB at group scale)."""
    while True:
        with _lock:
            while True:
                while not _queue:
                    _wake.wait()
                wait = _queue[-1][2] + START_DELAY - time.monotonic()
                if wait <= 0:
                    break
                _wake.wait(wait)
            mkey, thunk, _ = _queue.pop()
            _running.append(mkey)
        try:
            thunk()
            STATS["background"] += 1
        except Exception:  # noqa: BLE001 - kept in _failed; the page raises it on its next run
            pass
        finally:
            with _lock:
                _running.remove(mkey)


def busy() -> bool:
    """The background worker has something queued or running."""
    with _lock:
        return bool(_queue) or bool(_running)


def slice_rows(v: str, args: tuple) -> int:
    """Rows the statistic works on: the filtered panel when its first argument is the sidebar's filters,
    else the whole monthly panel."""
    f = args[0] if args and isinstance(args[0], state.Filters) else None
    return state.filtered_count(v, f) if f is not None else len(data.panel(v, "month"))


def ensure(v: str, calls: list[tuple]) -> None:
    """Before a page draws its statistics: every (kept function, *args) in `calls` is kept, or cheap
    enough to compute now (a slice under PBKPI_BACKGROUND_ROWS panel rows). Otherwise the missing ones go to the
    background worker and Pending is raised: the page shows what it has and a notice, and reruns itself
    when the worker is done (ui.layout.statistics_ready)."""
    missing = [(fn, args) for fn, *args in calls if not fn.ready(v, *args)]
    if not missing:
        return
    rows = max(slice_rows(v, tuple(args)) for _, args in missing)
    if rows < settings.background_rows():
        return  # the page computes them inline
    for fn, args in reversed(missing):  # the worker takes the last first: keep the page's order
        fn.submit(v, *args)
    raise Pending(rows)


@kept
def corr_matrix(v: str, f: state.Filters, lag: int):
    from analytics.correlate import correlate

    return correlate(state.filtered(v, f), INPUTS, KPIS, lag)


@kept
def quartiles(v: str, f: state.Filters, x: str, y: str, lag: int):
    from analytics.quartiles import quartile_compare

    r = quartile_compare(state.filtered(v, f), x, y, lag, n_boot=1000)
    r.settings["grain"] = f.grain
    return r


@kept
def within_points(v: str, f: state.Filters, x: str, y: str, lag: int):
    """x and y within unit and period (both effects removed, as the correlations and fits): a random
    sample of points to draw, the fit line and bin means of all points (computed here, once, not on every
    rerun), and N."""
    from analytics.within import demean_two_way
    from ui.charts import bin_means, fit_line

    df = add_lag(state.filtered(v, f).df, x, lag)
    xc = lag_name(x, lag)
    d = df[["unit", "t", "business_unit_name", "period", xc, y]].dropna()
    both = demean_two_way(d[[xc, y]].to_numpy(dtype=float), d["unit"].to_numpy(), d["t"].to_numpy())
    w = pd.DataFrame({"xw": both[:, 0], "yw": both[:, 1]}, index=d.index)
    shown = w.sample(SCATTER_POINTS, random_state=0) if len(w) > SCATTER_POINTS else w
    shown = shown.assign(label=d.loc[shown.index, "business_unit_name"] + " " + d.loc[shown.index, "period"])
    return shown, fit_line(w["xw"], w["yw"]), bin_means(w["xw"], w["yw"]), len(w)


@kept
def fit(v: str, f: state.Filters, y: str, xs: tuple, lag: int, controls: tuple):
    from analytics import fe

    return fe.fit_twfe(state.filtered(v, f), y, list(xs), lag, list(controls))


@kept
def diagnostics(v: str, f: state.Filters, y: str, xs: tuple, lag: int, controls: tuple):
    from analytics.diagnostics import diagnose

    return diagnose(fit(v, f, y, xs, lag, controls), state.filtered(v, f))


@kept
def event(v: str, f: state.Filters, y: str, treatment: str):
    from analytics import did

    return did.event_study(state.filtered(v, f), y, treatment)


@kept
def direction(v: str, f: state.Filters, y: str, x: str):
    from analytics import reverse

    return reverse.reverse_check(state.filtered(v, f), y, x)


@kept
def whatif_model(v: str, grain: str, y: str, xs: tuple, lag: int, start: str | None = None, end: str | None = None):
    # fitted on every unit over the selected period; the scenario then applies to the filtered units
    from analytics import fe

    return fe.fit_twfe(state.filtered(v, state.Filters(grain, start, end, (), (), None)), y, list(xs), lag)


def overview_filters(f: state.Filters) -> state.Filters:
    """The overview works on quarters, within the sidebar's period (months widened to their quarters), with
    its type and area filters. It always shows every business unit of that scope (its quadrant compares
    units); the page says so when one unit is picked."""
    return state.Filters("quarter", quarter_of(f.start), quarter_of(f.end), f.unit_types, f.regions, None)


def quarter_of(period: str | None) -> str | None:
    """2024-07 -> 2024Q3; a quarter stays as it is."""
    if not period or "Q" in period:
        return period
    return f"{period[:4]}Q{(int(period[5:7]) - 1) // 3 + 1}"


def overview_quarter(quarters: list[str], f: state.Filters) -> int:
    """Index of the quarter the overview opens on: the one holding the sidebar's end, else the last."""
    end_q = quarter_of(f.end)
    return quarters.index(end_q) if end_q in quarters else len(quarters) - 1


@kept
def overview(v: str, qf: state.Filters, quarter: str) -> dict:
    """Headline totals, the index trend, this quarter's quadrant with movers, and the funnel frame."""
    from analytics.indices import compute_indices, quadrant_movers
    from analytics.panel import shift_quarter
    from analytics.rollup import not_reporting, rollup
    from catalogue import metrics

    qdf = state.filtered_panel(v, qf)
    pooled = compute_indices(qdf, scope="pooled")
    cur = compute_indices(qdf[qdf["period"].isin([quarter, shift_quarter(quarter, 1)])], scope="period")
    now = cur[cur["period"] == quarter].rename(columns={"business_unit_id": "unit"})
    fq = qdf[qdf["period"] == quarter].dropna(subset=["complaints_per_10k", "customers"])
    return {
        "totals": rollup(qdf, ["period"]).set_index("period"),
        "not_reporting": not_reporting(qdf, ["period"], list(metrics())),
        "trend": pooled.groupby("period_start")[["pb_index", "biz_index"]].mean().reset_index(),
        "now": now,
        "movers": quadrant_movers(cur.rename(columns={"business_unit_id": "unit"}), quarter, shift_quarter(quarter, 1)),
        "funnel": fq[["business_unit_name", "complaints_per_10k", "customers", "complaints"]],
    }


@kept
def briefing(v: str, quarter: str, scope):
    from briefing.content import build

    return build(data.db_path(), quarter, scope)


def default_views(v: str, f: state.Filters) -> list[tuple[str, callable]]:
    """Every statistic the statistics pages compute on a first visit with these filters."""
    from analytics.panel import PanelFilter

    r, t = DEFAULTS["rel"], DEFAULTS["tests"]
    # period lists from the warehouse, not from the panels: a warm-up process for one page loads only what
    # that page's statistics need
    quarters = data.periods(v, "quarter")
    scope = PanelFilter(unit_types=f.unit_types, regions=f.regions, units=(f.unit,) if f.unit else ())
    qf = overview_filters(f)
    q_list = data.periods(v, "quarter", qf.unit_types, qf.regions)
    return [
        ("overview", lambda: overview(v, qf, q_list[overview_quarter(q_list, f)]) if q_list else None),
        ("relationships", lambda: (within_points(v, f, r["x"], r["y"], r["lag"]), corr_matrix(v, f, r["lag"]),
                                   quartiles(v, f, r["x"], r["y"], r["lag"]))),
        ("tests", lambda: (fit(v, f, t["y"], t["xs"], t["lag"], t["controls"]), event(v, f, t["event_y"], t["treatment"]),
                           direction(v, f, t["y"], t["xs"][0]), diagnostics(v, f, t["y"], t["xs"], t["lag"], t["controls"]))),
        ("whatif", lambda: whatif_model(v, f.grain, t["y"], t["xs"], t["lag"], f.start, f.end)),
        ("briefing", lambda: briefing(v, quarters[-1], scope) if quarters else None),
    ]
