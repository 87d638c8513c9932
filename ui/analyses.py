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
from pathlib import Path

import pandas as pd
import streamlit as st

import settings
from analytics.panel import add_lag, from_warehouse_frame, lag_name
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


STATS = {"computed": 0, "from_disk": 0}
KEPT: list = []  # every kept function (ui.warm empties their memory between slices)


def kept(func):
    """In memory (shared across sessions) on top of a pickle on disk, keyed on (version, arguments)."""

    @functools.wraps(func)
    def on_disk(v, *args):
        key = hashlib.sha256(pickle.dumps((func.__qualname__, args), protocol=4)).hexdigest()[:32]
        path = cache_dir(v) / f"{func.__qualname__}-{key}.pkl"
        try:
            value = pickle.loads(path.read_bytes())
            STATS["from_disk"] += 1
            return value
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass
        value = func(v, *args)
        STATS["computed"] += 1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)  # readers see the whole file or none
        except OSError:
            pass  # a read-only disk only costs speed
        return value

    cached = st.cache_resource(show_spinner=False, max_entries=64)(on_disk)
    KEPT.append(cached)
    return cached


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
    """Unit-demeaned x and y: a random sample of points to draw, all points for the line and bins, and N."""
    df = add_lag(state.filtered(v, f).df, x, lag)
    xc = lag_name(x, lag)
    d = df[["unit", "business_unit_name", "period", xc, y]].dropna()
    w = pd.DataFrame({"xw": d[xc] - d.groupby("unit")[xc].transform("mean"),
                      "yw": d[y] - d.groupby("unit")[y].transform("mean"),
                      "label": d["business_unit_name"] + " " + d["period"]})
    shown = w.sample(SCATTER_POINTS, random_state=0) if len(w) > SCATTER_POINTS else w
    return shown, w[["xw", "yw"]], len(w)


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
def whatif_model(v: str, grain: str, y: str, xs: tuple, lag: int):
    # fitted on every unit; the scenario then applies to the filtered ones
    from analytics import fe

    return fe.fit_twfe(from_warehouse_frame(data.panel(v, grain), grain), y, list(xs), lag)


def overview_filters(f: state.Filters) -> state.Filters:
    """The overview works on quarters over the whole range, with the sidebar's type and area filters."""
    return state.Filters("quarter", None, None, f.unit_types, f.regions, None)


def overview_quarter(quarters: list[str], f: state.Filters) -> int:
    """Index of the quarter the overview opens on: the one holding the sidebar's end, else the last."""
    end_q = f.end if f.grain == "quarter" else (f"{f.end[:4]}Q{(int(f.end[5:]) - 1) // 3 + 1}" if f.end else None)
    return quarters.index(end_q) if end_q in quarters else len(quarters) - 1


@kept
def overview(v: str, qf: state.Filters, quarter: str) -> dict:
    """Headline totals, the index trend, this quarter's quadrant with movers, and the funnel frame."""
    from analytics.indices import compute_indices, quadrant_movers
    from analytics.panel import shift_quarter
    from analytics.rollup import rollup

    qdf = state.filtered_panel(v, qf)
    pooled = compute_indices(qdf, scope="pooled")
    cur = compute_indices(qdf[qdf["period"].isin([quarter, shift_quarter(quarter, 1)])], scope="period")
    now = cur[cur["period"] == quarter].rename(columns={"business_unit_id": "unit"})
    fq = qdf[qdf["period"] == quarter].dropna(subset=["complaints_per_10k", "customers"])
    return {
        "totals": rollup(qdf, ["period"]).set_index("period"),
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
    quarters = sorted(data.panel(v, "quarter")["period"].unique())
    scope = PanelFilter(unit_types=f.unit_types, regions=f.regions, units=(f.unit,) if f.unit else ())
    qf = overview_filters(f)
    q_list = sorted(state.filtered_panel(v, qf)["period"].unique())
    return [
        ("overview", lambda: overview(v, qf, q_list[overview_quarter(q_list, f)]) if q_list else None),
        ("relationships", lambda: (within_points(v, f, r["x"], r["y"], r["lag"]), corr_matrix(v, f, r["lag"]),
                                   quartiles(v, f, r["x"], r["y"], r["lag"]))),
        ("tests", lambda: (fit(v, f, t["y"], t["xs"], t["lag"], t["controls"]), event(v, f, t["event_y"], t["treatment"]),
                           direction(v, f, t["y"], t["xs"][0]), diagnostics(v, f, t["y"], t["xs"], t["lag"], t["controls"]))),
        ("whatif", lambda: whatif_model(v, f.grain, t["y"], t["xs"], t["lag"])),
        ("briefing", lambda: briefing(v, quarters[-1], scope) if quarters else None),
    ]
