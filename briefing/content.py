"""The quarterly briefing's content: every number, table and sentence, computed once from the warehouse
and shared by the page and the PPTX / HTML / PNG exports, so they cannot disagree."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.errors import AnalysisError, DomainError
from analytics.indices import compute_indices, quadrant_movers
from analytics.panel import Panel, PanelFilter
from analytics.periods import first_month, is_quarter, last_month, shift_quarter
from analytics.rollup import rollup
from analytics.summaries import summarize_event_study
from catalogue import briefing_config, metric, size_metric, t, target_status
from catalogue.formats import fmt_delta, fmt_effect, fmt_metric, fmt_p


class BriefingError(DomainError):
    """The briefing cannot be built (no data for the quarter, bad quarter label …)."""


@dataclass
class KpiLine:
    id: str
    value: float | None
    prev: float | None
    yoy: float | None
    status: str  # green | amber | red | ""

    @property
    def delta_prev(self):
        return None if self.value is None or self.prev is None else self.value - self.prev

    @property
    def delta_yoy(self):
        return None if self.value is None or self.yoy is None else self.value - self.yoy


@dataclass
class Finding:
    x: str
    y: str
    lag: int
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float
    n_obs: int
    n_units: int

    @property
    def supported(self) -> bool:
        return self.q_value < 0.05


@dataclass
class Briefing:
    quarter: str
    previous: str
    scope: PanelFilter
    synthetic: bool
    kpis: list[KpiLine]
    trend: pd.DataFrame                 # period_start, pb_index, biz_index
    quadrant: pd.DataFrame              # this quarter's units with indices and quadrant
    movers: pd.DataFrame
    ranks: dict[str, pd.DataFrame]      # kpi -> best and worst units this quarter
    findings: list[Finding]
    events: list = field(default_factory=list)   # EventStudyResult objects
    initiatives: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_notes: list[tuple[str, dict]] = field(default_factory=list)  # (string key, values)
    n_units: int = 0
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)  # 预警 rows (analytics.alerts), worst first
    org: str = ""  # the organisation of the org tree the briefing rolls up to (its name); "" the whole scope


def _val(s: pd.Series, key):
    v = s.get(key)
    return None if v is None or pd.isna(v) else float(v)


def build(snapshot, quarter: str, scope: PanelFilter | None = None) -> Briefing:
    """The briefing of `quarter` for the units in `scope`, read through a warehouse snapshot
    (application.warehouse: `Warehouse(path).snapshot()`)."""
    # the estimators (scipy, statsmodels, pyfixest) load only when a briefing is computed, not when a
    # page that shows a kept one imports this module
    from statsmodels.stats.multitest import multipletests

    from analytics.did import event_study
    from analytics.fe import fit_twfe

    scope = scope or PanelFilter()
    if not is_quarter(quarter):
        raise BriefingError(f"季度格式应为 2025Q3，收到 {quarter!r}。(quarter must look like 2025Q3)")
    try:
        qp = snapshot.scoped_panel("quarter", scope)
        mp = snapshot.scoped_panel("month", scope)
    except AnalysisError as exc:
        raise BriefingError(str(exc)) from exc
    available = sorted(qp.df["period"].unique())
    if quarter not in available or qp.df.loc[qp.df["period"] == quarter, size_metric()].notna().sum() == 0:
        rng = f"{available[0]}–{available[-1]}" if available else "—"
        raise BriefingError(f"{quarter} 没有数据（仓库中的季度范围：{rng}）。请选择有数据的季度或先导入该季度的文件。"
                            f"(no data for {quarter}; available {rng})")
    cfg = briefing_config()
    prev = shift_quarter(quarter, 1)
    totals = rollup(qp.df, ["period"]).set_index("period")
    kpis = [KpiLine(m, _val(totals[m], quarter), _val(totals[m], prev), _val(totals[m], shift_quarter(quarter, 4)),
                    target_status(m, _val(totals[m], quarter))) for m in cfg["headline"]]

    upto = qp.df[qp.df["period"] <= quarter]
    pooled = compute_indices(upto, scope="pooled")
    trend = pooled.groupby("period_start")[["pb_index", "biz_index"]].mean().reset_index()
    two = compute_indices(upto[upto["period"].isin([quarter, prev])], scope="period")
    now = two[two["period"] == quarter].copy()
    movers = quadrant_movers(two, quarter, prev) if prev in set(two["period"]) else pd.DataFrame()

    ranks = {}
    for mid in cfg["rank_kpis"]:
        d = now[["unit", "business_unit_name", mid]].dropna().sort_values(mid, ascending=metric(mid).direction == "lower")
        ranks[mid] = pd.concat([d.head(3).assign(rank="best"), d.tail(3).iloc[::-1].assign(rank="worst")])

    months_upto = mp.df[mp.df["period"] <= last_month(quarter)]
    mpanel = Panel(months_upto, "month")
    findings = []
    for f in cfg.get("findings", []):
        try:
            r = fit_twfe(mpanel, f["y"], [f["x"]], f.get("lag", 0))
        except AnalysisError:
            continue
        c = r.coefficients[0]
        findings.append(Finding(f["x"], f["y"], f.get("lag", 0), c.estimate, c.ci_low, c.ci_high, c.p_value, np.nan,
                                r.n_obs, r.n_units))
    if findings:
        qs = multipletests([f.p_value for f in findings], method="fdr_bh")[1]
        for f, q in zip(findings, qs):
            f.q_value = float(q)
    events = []
    for e in cfg.get("event_studies", []):
        try:
            events.append(event_study(mpanel, e["y"], e["treatment"], with_naive=False))
        except AnalysisError:
            continue

    initiatives, notes = _initiatives_and_notes(snapshot, quarter, now, months_upto)
    synthetic = snapshot.is_demo()
    return Briefing(org=snapshot.org_name() if hasattr(snapshot, "org_name") else "",
                    quarter=quarter, previous=prev, scope=scope, synthetic=synthetic, kpis=kpis, trend=trend,
                    quadrant=now, movers=movers, ranks=ranks, findings=findings, events=events,
                    initiatives=initiatives, data_notes=notes, n_units=int(now["unit"].nunique()),
                    alerts=_alerts(snapshot, quarter, qp.df))


def _alerts(snapshot, quarter: str, qdf: pd.DataFrame) -> pd.DataFrame:
    """The quarter's 预警 for the business units of the briefing's scope (those that reported nothing this
    quarter included: they are in the panel's other quarters)."""
    from analytics.alerts import alerts_for

    rows = qdf[qdf["period"] == quarter].rename(columns={"unit": "business_unit_id"})
    return alerts_for(quarter, snapshot.quarter_reports(quarter), set(qdf["unit"]), rows)


def alert_text(r, lang: str) -> str:
    """One 预警 row (analytics.alerts) as a leader reads it, from its machine-readable fields."""
    from catalogue import requirements
    from catalogue.formats import fmt_metric, fmt_target

    who = r["unit_name"] if isinstance(r["unit_name"], str) else r["business_unit_name"]
    if r["kind"] == "no_activity":
        return t("alert.no_activity", lang, who=who)
    if r["kind"] == "activity":
        req = next(q for q in requirements() if q["activity_type"] == r["subject"])
        key = "alert.activity_month" if req["every"] == "month" else "alert.activity_quarter"
        return t(key, lang, who=who, activity=req["zh"] if lang == "zh" else req["en"], have=int(r["have"]),
                 need=int(r["need"]))
    if r["kind"] in ("missing_membership", "missing_kpi"):
        return t(f"alert.{r['kind']}", lang, who=who, missing=int(r["need"] - r["have"]))
    return t("alert.kpi", lang, who=who, metric=metric(r["subject"]).name(lang), value=fmt_metric(r["subject"], r["value"], lang),
             target=fmt_target(r["subject"], r["target"], lang))


def _initiatives_and_notes(snapshot, quarter, now, months):
    start = first_month(quarter)
    ini = snapshot.initiatives_in_quarter(quarter)
    ini = ini[ini["business_unit_id"].isin(set(now["unit"]))]
    notes = []
    q_months = months[months["period"] >= start]
    for col, key in ((size_metric(), "brief.note.kpi_missing"), ("members", "brief.note.members_missing"),
                     ("activities_total", "brief.note.activities_missing")):
        miss = q_months[q_months[col].isna()]
        if len(miss):
            names = miss.drop_duplicates("unit")["business_unit_name"].tolist()
            notes.append((key, {"n": len(miss), "units": len(names), "names": "、".join(names[:5])}))
    return ini, notes


# ---------------------------------------------------------------- narrative

def narrative(b: Briefing, lang: str = "zh") -> str:
    """A paragraph built from the numbers: names units and figures, claims no more than the tests allow."""
    parts = []
    k = {x.id: x for x in b.kpis}
    label = quarter_label(b.quarter, lang)
    lines = []
    for mid in briefing_config()["narrative"]:
        x = k.get(mid)
        if x is None or x.value is None:
            continue
        m = metric(mid)
        if x.delta_prev is None:
            lines.append(t("brief.nar.kpi_nochange", lang, name=m.name(lang), value=fmt_metric(mid, x.value, lang)))
        else:
            better = x.delta_prev * m.sign > 0
            word = t("brief.nar.better" if better else "brief.nar.worse", lang) if x.delta_prev != 0 else t("brief.nar.flat", lang)
            lines.append(t("brief.nar.kpi", lang, name=m.name(lang), value=fmt_metric(mid, x.value, lang),
                           delta=fmt_delta(mid, abs(x.delta_prev), lang).lstrip("+"), word=word))
    sep = "，" if lang == "zh" else "; "
    parts.append(t("brief.nar.open", lang, quarter=label, n=b.n_units, kpis=sep.join(lines)))
    counts = b.quadrant["quadrant"].value_counts()
    parts.append(t("brief.nar.quadrant", lang, both=int(counts.get("both_strong", 0)),
                   pb_only=int(counts.get("pb_strong_biz_weak", 0)), biz_only=int(counts.get("biz_strong_pb_weak", 0)),
                   weak=int(counts.get("both_weak", 0))))
    if len(b.movers):
        down = b.movers[b.movers["after"].isin(["both_weak", "pb_strong_biz_weak"]) & (b.movers["before"] == "both_strong")]
        up = b.movers[(b.movers["after"] == "both_strong")]
        if len(up):
            parts.append(t("brief.nar.up", lang, names="、".join(up["business_unit_name"].head(3)), n=len(up)))
        if len(down):
            parts.append(t("brief.nar.down", lang, names="、".join(down["business_unit_name"].head(3)), n=len(down)))
    sup = [f for f in b.findings if f.supported]
    if sup:
        f = min(sup, key=lambda f: f.q_value)
        mx, my = metric(f.x), metric(f.y)
        parts.append(t("brief.nar.finding", lang, x=mx.name(lang), y=my.name(lang), est=fmt_effect(f.estimate),
                       unit=my.unit(lang), lo=fmt_effect(f.ci_low), hi=fmt_effect(f.ci_high), n=len(sup),
                       lag=t("brief.nar.lag", lang, k=f.lag) if f.lag else ""))
    else:
        parts.append(t("brief.nar.no_finding", lang))
    for e in b.events:
        if e.verdict == "effect":
            parts.append(t("brief.nar.event", lang, treat=metric(e.treatment).name(lang), y=metric(e.y).name(lang),
                           direction=t("word.rose" if e.att.estimate > 0 else "word.fell", lang),
                           abs_att=fmt_effect(abs(e.att.estimate)).lstrip("+"), unit=metric(e.y).unit(lang)))
    if b.synthetic:
        parts.append(t("brief.synthetic", lang))
    return ("" if lang == "zh" else " ").join(parts)


def quarter_label(q: str, lang: str) -> str:
    return t("brief.quarter_label", lang, year=q[:4], q=q[5])


def finding_text(f: Finding, lang: str) -> str:
    mx, my = metric(f.x), metric(f.y)
    key = "brief.finding.supported" if f.supported else "brief.finding.not_supported"
    return t(key, lang, x=mx.name(lang), y=my.name(lang), est=fmt_effect(f.estimate), unit=my.unit(lang),
             lo=fmt_effect(f.ci_low), hi=fmt_effect(f.ci_high), q=fmt_p(f.q_value), n=f.n_units,
             lag=t("brief.nar.lag", lang, k=f.lag) if f.lag else "")


def event_text(e, lang: str) -> str:
    return summarize_event_study(e, lang)
