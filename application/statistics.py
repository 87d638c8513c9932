"""The statistics the views show, as jobs for the result store: each is `fn(snapshot, *args)` with plain,
hashable arguments (a Selection, metric ids, a lag), reading through the snapshot and computing with
`analytics`. The estimators (scipy, statsmodels, pyfixest: ≈ 1.5 s to import) are imported inside the
functions, so that a page drawing kept results does not load them."""
from __future__ import annotations

import pandas as pd

from analytics.panel import PanelFilter, add_lag, lag_name
from analytics.periods import shift_quarter
from application.selection import Selection
from application.store import Job
from catalogue import metrics, profile, size_metric

SCATTER_POINTS = 5_000  # more points only slow the browser (20,000 cost 2.1 MB and seconds of drawing); the fit line and bins use all
TREATMENTS = ("demo_site", "secretary_projects_active")
LAG_MAX = 12


def metric_options(role: str) -> list[str]:
    """The metrics the statistics pages offer for a role. Totals that scale with unit size (售电量, 投诉件数)
    are left out: their rates are offered instead (catalogue `scales_with`)."""
    return [m.id for m in metrics().values() if m.role == role and not m.scales_with]


def inputs() -> list[str]:
    return metric_options("input")


def kpis() -> list[str]:
    return metric_options("kpi")


def controls() -> list[str]:
    """What a fit may control for: the inputs, the unit's size in its industry and its members."""
    return inputs() + [size_metric(), "members"]


def default_kpi() -> str:
    """The KPI the statistics pages open on (the active industry profile's)."""
    return profile().defaults["kpi"]


def default_event_kpi() -> str:
    return profile().defaults["event_kpi"]


def corr_matrix(snap, sel: Selection, lag: int):
    from analytics.correlate import correlate

    return correlate(snap.analysis_panel(sel), inputs(), kpis(), lag)


def quartiles(snap, sel: Selection, x: str, y: str, lag: int):
    from analytics.quartiles import quartile_compare

    r = quartile_compare(snap.analysis_panel(sel), x, y, lag, n_boot=1000)
    r.settings["grain"] = sel.grain
    return r


def within_points(snap, sel: Selection, x: str, y: str, lag: int):
    """x and y within unit and period (both effects removed, as the correlations and fits): a random
    sample of points to draw, the fit line and bin means of all points, and N."""
    from analytics.scatter import bin_means, fit_line
    from analytics.within import demean_two_way

    df = add_lag(snap.analysis_panel(sel).df, x, lag)
    xc = lag_name(x, lag)
    d = df[["unit", "t", "business_unit_name", "period", xc, y]].dropna()
    both = demean_two_way(d[[xc, y]].to_numpy(dtype=float), d["unit"].to_numpy(), d["t"].to_numpy())
    w = pd.DataFrame({"xw": both[:, 0], "yw": both[:, 1]}, index=d.index)
    shown = w.sample(SCATTER_POINTS, random_state=0) if len(w) > SCATTER_POINTS else w
    shown = shown.assign(label=d.loc[shown.index, "business_unit_name"] + " " + d.loc[shown.index, "period"])
    return shown, fit_line(w["xw"], w["yw"]), bin_means(w["xw"], w["yw"]), len(w)


def fit(snap, sel: Selection, y: str, xs: tuple, lag: int, controls: tuple):
    """The two-way fixed-effects fit and its diagnostics (drawn together, computed together)."""
    from analytics import fe
    from analytics.diagnostics import diagnose

    panel = snap.analysis_panel(sel)
    r = fe.fit_twfe(panel, y, list(xs), lag, list(controls))
    return r, diagnose(r, panel)


def event(snap, sel: Selection, y: str, treatment: str):
    from analytics import did

    return did.event_study(snap.analysis_panel(sel), y, treatment)


def direction(snap, sel: Selection, y: str, x: str):
    from analytics import reverse

    return reverse.reverse_check(snap.analysis_panel(sel), y, x)


def whatif_model(snap, sel: Selection, y: str, xs: tuple, lag: int):
    """Fitted on every unit over the selection's period (`sel` is the whole company at its grain and
    period); the scenario then applies to the selected units."""
    from analytics import fe

    return fe.fit_twfe(snap.analysis_panel(sel), y, list(xs), lag)


def overview(snap, qsel: Selection, quarter: str) -> dict:
    """Headline totals, the index trend, this quarter's quadrant with movers, and the funnel frame, over
    the quarterly selection `qsel`."""
    from analytics.indices import compute_indices, quadrant_movers
    from analytics.rollup import not_reporting, rollup

    qdf = snap.rows(qsel)
    prev = shift_quarter(quarter, 1)
    pooled = compute_indices(qdf, scope="pooled")
    cur = compute_indices(qdf[qdf["period"].isin([quarter, prev])], scope="period")
    now = cur[cur["period"] == quarter].rename(columns={"business_unit_id": "unit"})
    fn = profile().defaults["funnel"]
    fq = qdf[qdf["period"] == quarter].dropna(subset=[fn["rate"], fn["exposure"]])
    return {
        "totals": rollup(qdf, ["period"]).set_index("period"),
        "not_reporting": not_reporting(qdf, ["period"], list(metrics())),
        "trend": pooled.groupby("period_start")[["pb_index", "biz_index"]].mean().reset_index(),
        "now": now,
        "movers": quadrant_movers(cur.rename(columns={"business_unit_id": "unit"}), quarter, prev),
        "funnel": fq[["business_unit_id", "business_unit_name", fn["rate"], fn["exposure"], fn["count"]]],
    }


def alerts(snap, qsel: Selection, quarter: str, targets: str = "") -> pd.DataFrame:
    """The quarter's 预警 for the business units of the selection's types and areas — all of them, those that
    reported nothing included (a missing report is what it is about). `targets`: the digest of the targets
    in force (a changed target gives a new result)."""
    from analytics.alerts import alerts_for

    bus = snap.business_units()
    if qsel.unit_types:
        bus = bus[bus["unit_type"].isin(qsel.unit_types)]
    if qsel.regions:
        bus = bus[bus["region"].isin(qsel.regions)]
    rows = snap.rows(qsel)
    return alerts_for(quarter, snap.quarter_reports(quarter), set(bus["business_unit_id"]),
                      rows[rows["period"] == quarter] if len(rows) else rows)


def briefing(snap, quarter: str, scope: PanelFilter, targets: str = ""):
    """The quarter's briefing. `targets` is the digest of the targets in force: the briefing shows status
    against them, so a target changed in the app gives a new result, not the kept one."""
    from briefing.content import build

    return build(snap, quarter, scope)


def job(fn, *args) -> Job:
    return Job(fn, tuple(args))
