"""Synthetic demo data: a fictional provincial power-supply company (合成演示数据).

The generator simulates branches and business units month by month, calibrated to the figures in
shared/reference/DOMAIN.md, plants known relations (written to manifest.json beside the files), writes
the messy source files branches and the MIS really produce (GBK CSVs, Excel title rows, 合计 rows, a few
bad rows), and loads them through the same `etl load` path a user would use.

Planted relations (all at business-unit x month level, the grain of panel_month):
  theme_days(t-1)  -> complaints_per_10k(t): BETA_THEME per theme day
  pioneer_posts(t) -> saidi(t): BETA_PIONEER hours per post
  demo_site        -> satisfaction: staggered, growing with time since designation, larger for early cohorts
  study_hours      -> sales_mwh: none (planted null)
  size, urban      -> activities_total and complaints level (confounder)
  saidi(t-1)       -> study_sessions(t) (reverse link); study_sessions -> saidi: none
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from etl import warehouse
from etl.demo_party import (DID_RAMP, OrgSpec, activities, assessments, designations, event_truth, initiatives, membership_frame,
                            organisation, other_activities, party_side)
from etl.demo_sources import SYNTHETIC_NOTE, write_sources

BETA_THEME = -0.03      # complaints per 10k customers, per theme party day in the previous month
BETA_PIONEER = -0.010   # SAIDI hours per customer per month, per pioneer post
REVERSE_GAMMA = 0.6     # extra 专题学习 rate per branch after a month at twice the unit's usual SAIDI
DID_EARLY, DID_LATE = 2.0, 1.0   # satisfaction points at full effect, early vs late designation cohorts

POWER_ORG = OrgSpec(
    regions=("城区", "县城", "农村"), region_p=(0.3, 0.3, 0.4), size={"城区": 90_000, "县城": 50_000, "农村": 28_000},
    types=("供电所", "营销服务", "变电运维"), type_p=(0.86, 0.07, 0.07),
    suffix={"供电所": "供电所", "营销服务": "营销服务中心", "变电运维": "变电运维班"}, per_branch=35_000,
    counties=("江北", "清河", "东湖", "南山", "石桥"), outages=True)


def _months(end_year: int, years: int) -> pd.DatetimeIndex:
    return pd.date_range(f"{end_year - years + 1}-01-01", f"{end_year}-12-01", freq="MS")


def simulate(seed: int = 2024, n_units: int = 120, years: int = 5, end_year: int = 2025) -> dict:
    """Simulate the company. Returns clean DataFrames (the truth) and the manifest."""
    rng = np.random.default_rng(seed)
    months = _months(end_year, years)
    T = len(months)

    bu, br, bu_idx = organisation(rng, POWER_ORG, n_units)
    N, B = len(br), len(bu)
    urban = (br.region == "城区").to_numpy()

    pm = party_side(rng, br, bu_idx, B, T)
    zeal, theme_bu, pioneer_bu = pm["zeal"], pm["theme_bu"], pm["pioneer_bu"]

    # ---- calendar effects
    mon = months.month.to_numpy()
    summer = np.isin(mon, [7, 8]).astype(float)
    typhoon_months = {pd.Timestamp(f"{y}-{m:02d}-01") for y, m in [(2021, 7), (2023, 9), (2024, 9), (2025, 8)]}
    typhoon = np.array([m in typhoon_months for m in months], dtype=float)
    coastal = bu.county.isin(["江北", "东湖", "南山"]).to_numpy()
    years_from_start = (np.arange(T) / 12.0)

    # ---- customers
    customers = (bu.customers0.to_numpy()[:, None] * (1.02 ** years_from_start)[None, :]).astype(int)

    # ---- SAIDI: expected value linear in pioneer posts; outages generated to match it
    base_saidi = {"城区": 0.19, "县城": 0.34, "农村": 0.52}
    bu_saidi = np.array([base_saidi[r] for r in bu.region]) * rng.lognormal(0, 0.35, B)
    season = 1 + 0.5 * summer + 0.15 * np.isin(mon, [1, 12])
    mu_saidi = bu_saidi[:, None] * season[None, :] + BETA_PIONEER * pioneer_bu
    floor = 0.05 * bu_saidi[:, None]
    clamped_saidi = float((mu_saidi < floor).mean())
    mu_saidi = np.maximum(mu_saidi, floor)
    major = typhoon[None, :] * coastal[:, None] * bu_saidi[:, None] * 2.5  # major-event extra hours

    dur_mu, dur_sigma = np.log(2.5), 0.8
    cust_mu, cust_sigma = np.log(250), 0.9
    e_r = np.exp(dur_mu + dur_sigma ** 2 / 2)
    e_n = np.exp(cust_mu + cust_sigma ** 2 / 2)
    has_out = bu.has_outages.to_numpy()[:, None]
    frames = []
    for is_major, mu in ((False, mu_saidi), (True, major)):
        lam = np.where(has_out & (mu > 0), mu * customers / (e_r * e_n), 0.0)
        k = rng.poisson(lam)
        jj, tt = np.nonzero(k)
        reps = k[jj, tt]
        j_ev, t_ev = np.repeat(jj, reps), np.repeat(tt, reps)
        n_ev = len(j_ev)
        dur_min = np.maximum(6, np.round(rng.lognormal(dur_mu, dur_sigma, n_ev) * 60)).astype("int64")
        cust = np.minimum(customers[j_ev, t_ev], np.maximum(1, rng.lognormal(cust_mu, cust_sigma, n_ev))).astype(int)
        days_in = months.days_in_month.to_numpy()[t_ev]
        offset_min = (np.floor(rng.random(n_ev) * days_in) * 1440 + rng.integers(0, 1440, n_ev)).astype("int64")
        start = months.to_numpy()[t_ev] + offset_min.astype("timedelta64[m]")
        fault = rng.random(n_ev) < (0.9 if is_major else 0.67)
        causes = np.where(fault, rng.choice(["外力破坏", "设备故障", "自然因素", "用户影响"], n_ev),
                          rng.choice(["检修", "施工", "用户申请"], n_ev))
        frames.append(pd.DataFrame({
            "business_unit_id": bu.business_unit_id.to_numpy()[j_ev], "start": start,
            "end": start + dur_min.astype("timedelta64[m]"), "customers": cust,
            "kind": np.where(fault, "故障", "计划"), "cause": causes, "major_event": "是" if is_major else "否",
            "_j": j_ev, "_t": t_ev, "_ch": cust * dur_min / 60.0}))
    out_df = pd.concat(frames, ignore_index=True).sort_values("start", kind="stable").reset_index(drop=True)
    out_df.insert(0, "event_id", [f"TD{i + 1:07d}" for i in range(len(out_df))])
    saidi_real = np.zeros((B, T))
    np.add.at(saidi_real, (out_df["_j"].to_numpy(), out_df["_t"].to_numpy()),
              out_df["_ch"].to_numpy() / customers[out_df["_j"].to_numpy(), out_df["_t"].to_numpy()])
    out_df = out_df.drop(columns=["_j", "_t", "_ch"])

    # ---- study sessions (专题学习): reverse link from last month's SAIDI, no effect on SAIDI
    rel_saidi = np.ones((B, T))
    usual = np.where(bu_saidi > 0, bu_saidi * season.mean(), 1)
    rel_saidi[:, 1:] = saidi_real[:, :-1] / usual[:, None]
    rel_saidi[~bu.has_outages.to_numpy(), :] = 1.0
    lam_study = np.clip(0.4 + REVERSE_GAMMA * (rel_saidi[bu_idx] - 1), 0.05, 4)
    study_sessions = rng.poisson(lam_study)

    # ---- other activities; urban branches do more volunteering (part of the confounder)
    other = other_activities(rng, urban, N, T)

    # ---- complaints: level by region and unit; theme days last month lower them
    base_c = {"城区": 0.65, "县城": 0.42, "农村": 0.28}
    bu_c = np.array([base_c[r] for r in bu.region]) * rng.lognormal(0, 0.25, B)
    theme_lag = np.zeros((B, T))
    theme_lag[:, 1:] = theme_bu[:, :-1]
    theme_lag[:, 0] = theme_bu[:, 0]
    rate_c = bu_c[:, None] * (1 + 0.3 * summer)[None, :] + BETA_THEME * theme_lag
    clamped_c = float((rate_c < 0.03).mean())
    rate_c = np.maximum(rate_c, 0.03)
    complaints = rng.poisson(rate_c * customers / 10_000)

    # ---- demonstration sites: staggered designations, effect grows with time, larger for early cohorts
    designated, treat_month, tau = designations(rng, B, T, DID_EARLY, DID_LATE)
    bu_sat = rng.normal(87, 2.0, B)
    satisfaction = np.round(np.clip(bu_sat[:, None] + 0.3 * np.sin(2 * np.pi * mon / 12)[None, :]
                                    + rng.normal(0, 0.8, (B, T)) + tau, 60, 100), 1)

    # ---- the rest of the KPIs; study_hours has no effect on sales (planted null)
    season_sales = 1 + 0.25 * summer + 0.12 * np.isin(mon, [1, 2, 12])
    sales = np.round(customers * 0.2 * season_sales[None, :] * (1.04 ** years_from_start)[None, :]
                     * rng.lognormal(0, 0.03, (B, T)), 1)
    bill = np.round(np.clip(rng.normal(99.5, 0.5, (B, T)), 96.5, 100), 2)
    bill[:, mon == 12] = 100.0
    line_loss = np.round(np.clip(rng.normal(5, 1.2, B)[:, None] + rng.normal(0, 0.3, (B, T)), 2.5, 9), 2)
    violations = rng.poisson(0.25, (B, T))
    rs1_reported = np.round(np.clip(rng.normal(99.95, 0.02, (B, T)), 99.8, 100), 4)

    ass = assessments(rng, br, zeal, months)
    act = activities(rng, br, months, pm, study_sessions, other, TOPICS, LINKS)
    inits, demo_sites = initiatives(rng, br, bu, bu_idx, months, designated, treat_month, PROJECTS,
                                    ["万户投诉率", "供电可靠率", "客户满意度", "线损率"], "客户满意度")
    att_e, att_overall = event_truth(tau, designated, treat_month, T)

    manifest = {
        "synthetic": True,
        "note": SYNTHETIC_NOTE,
        "seed": seed, "n_branches": N, "n_business_units": B, "months": [str(months[0].date()), str(months[-1].date())],
        "grain": "business unit x month (panel_month)",
        "effects": [
            {"name": "theme_days_lowers_complaints", "x": "theme_days", "y": "complaints_per_10k", "lag": 1,
             "true_effect": BETA_THEME, "unit": "complaints per 10k customers per theme day",
             "clamped_share": clamped_c},
            {"name": "pioneer_posts_lower_saidi", "x": "pioneer_posts", "y": "saidi", "lag": 0,
             "true_effect": BETA_PIONEER, "unit": "hours per customer per pioneer post", "clamped_share": clamped_saidi},
            {"name": "demo_site_raises_satisfaction", "x": "demo_site", "y": "satisfaction", "kind": "staggered_did",
             "effect_formula": f"a_g * (1 - exp(-(e+1)/{DID_RAMP})), a_g = {DID_EARLY} (early cohorts) or {DID_LATE} (late)",
             "att_by_event_month": att_e, "att_overall": att_overall, "designations": demo_sites},
        ],
        # relations that follow from the planted ones through how the metrics are built, not planted themselves:
        # a within-unit association here is expected, and is no false positive
        "implied": [
            {"x": "activities_total", "y": "complaints_per_10k", "via": "theme_days_lowers_complaints",
             "why": "activities_total counts theme party days"},
            {"x": "activity_hours_per_member", "y": "complaints_per_10k", "via": "theme_days_lowers_complaints",
             "why": "activity hours include theme party days"},
            {"x": "pioneer_posts", "y": "rs1", "via": "pioneer_posts_lower_saidi",
             "why": "RS-1 = 1 - SAIDI / hours in the period"},
            {"x": "pioneer_posts", "y": "saifi", "via": "pioneer_posts_lower_saidi",
             "why": "SAIFI counts the same outages whose durations make SAIDI"},
            {"x": "pioneer_posts", "y": "caidi", "via": "pioneer_posts_lower_saidi", "why": "CAIDI = SAIDI / SAIFI"},
        ],
        "nulls": [
            {"name": "study_hours_no_effect_on_sales", "x": "study_hours", "y": "sales_mwh", "true_effect": 0.0},
            {"name": "study_sessions_no_effect_on_saidi", "x": "study_sessions", "y": "saidi", "true_effect": 0.0},
        ],
        "confounders": [
            {"name": "size_and_urban_drive_activities_and_complaints", "x": "activities_total", "y": "complaints_per_10k",
             "note": "urban and larger units have more branches (more activities) and a higher complaint level; "
                     "the pooled correlation is positive, the within-unit relation is not"}
        ],
        "reverse": [
            {"name": "high_saidi_triggers_study_sessions", "from": "saidi", "to": "study_sessions", "lag": 1,
             "gamma_per_branch": REVERSE_GAMMA, "note": "study_sessions has no effect on saidi"}
        ],
        "events": [{"month": str(m.date()), "kind": "typhoon", "zh": "台风", "en": "Typhoon"} for m in sorted(typhoon_months)
                   if months[0] <= m <= months[-1]],
    }
    frames = dict(
        bu=bu, branches=br,
        activities=act,
        membership=membership_frame(br, months, pm),
        initiatives=inits,
        assessments=ass,
        outages=out_df,
        kpi=_kpi_frame(bu, months, customers, complaints, sales, bill, satisfaction, line_loss, violations, rs1_reported),
    )
    return {"frames": frames, "manifest": manifest}


def _kpi_frame(bu, months, customers, complaints, sales, bill, satisfaction, line_loss, violations, rs1):
    B, T = customers.shape
    has_out = np.repeat(bu.has_outages.to_numpy(), T)
    return pd.DataFrame({
        "business_unit_id": np.repeat(bu.business_unit_id.to_numpy(), T),
        "business_unit_name": np.repeat(bu.business_unit_name.to_numpy(), T),
        "month": np.tile(months.strftime("%Y-%m"), B),
        "customers": customers.ravel(), "complaints": complaints.ravel(), "sales_mwh": sales.ravel(),
        "bill_recovery": bill.ravel(), "satisfaction": satisfaction.ravel(), "line_loss": line_loss.ravel(),
        "safety_violations": violations.ravel(), "rs1": np.where(has_out, np.nan, rs1.ravel()),
    })


TOPICS = {
    "主题党日": ["优服务降投诉", "走访重点客户", "迎峰度夏保供电", "安全生产警示教育", "党员进社区", "电力设施保护宣传"],
    "专题学习": ["学习安全规程", "停电事故案例复盘", "学习供电服务规范", "学习新版两票管理规定"],
    "党课": ["书记讲党课", "党史专题党课", "安全责任党课"],
    "志愿服务": ["共产党员服务队进社区", "孤寡老人用电检查", "学校用电安全宣传"],
}
LINKS = {"主题党日": ["优服务降投诉", "保供电", "安全生产"], "专题学习": "安全生产"}
PROJECTS = ["“零投诉”台区创建", "配网故障抢修提速", "低压台区线损治理", "网格化客户经理服务", "带电作业技能攻关",
            "电费回收“双清零”"]


def build_demo(db_path: Path, out_dir: Path, seed: int = 2024, n_units: int = 120, years: int = 5,
               end_year: int = 2025, profile: str = "power") -> dict:
    """Simulate a company of the industry `profile` (power, oilfield, plant), write the source files and
    load them with the real loader into a fresh warehouse of that profile."""
    from catalogue import check_profile
    from etl.demo_industry import simulate_industry
    from etl.load import load_files

    check_profile(profile)
    sim = (simulate(seed=seed, n_units=n_units, years=years, end_year=end_year) if profile == "power" else
           simulate_industry(profile, seed=seed, n_units=n_units, years=years, end_year=end_year))
    paths = write_sources(sim, Path(out_dir), seed=seed)
    manifest_path = Path(out_dir) / "manifest.json"
    manifest_path.write_text(json.dumps(sim["manifest"], ensure_ascii=False, indent=2), encoding="utf-8")
    from etl import publish

    db_path = Path(db_path)
    tmp = db_path.with_name(db_path.name + ".demo-build")
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    con = warehouse.connect(tmp)  # created with its profile first: the loads then speak its catalogue
    try:
        warehouse.init_schema(con, profile=profile)
    finally:
        con.close()
    results = load_files(paths, tmp)
    errors = [r for r in results if r.error]
    if errors:
        raise RuntimeError("demo files failed to load: " + "; ".join(f"{r.file}: {r.error}" for r in errors))
    con = warehouse.connect(tmp)
    try:
        con.execute("BEGIN TRANSACTION")
        warehouse.set_meta(con, "synthetic_demo", "true")
        warehouse.set_meta(con, "demo_manifest", json.dumps(sim["manifest"], ensure_ascii=False))
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    # publish the finished warehouse in one rename, so a reader never sees a half-built demo
    with publish.working_copy(db_path, fresh=True) as work:
        tmp.replace(work)
    publish.lock_path(tmp).unlink(missing_ok=True)
    return {"warehouse": str(db_path), "out_dir": str(out_dir), "manifest": str(manifest_path),
            "files": [str(p) for p in paths], "rows_loaded": sum(r.rows_loaded for r in results),
            "rows_rejected": sum(r.rows_rejected for r in results), "synthetic": True, "profile": profile}
