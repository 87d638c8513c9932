"""Synthetic demo companies of the other industry profiles (合成演示数据): an oilfield production plant
(采油厂: 作业区 and 采油队) and a non-ferrous materials plant (车间). The party-building side is the power
demo's (etl/demo_party.py); the business side is simulated here, calibrated to the figures in
shared/reference/DOMAIN.md section 6, with planted relations written to the manifest.

Oilfield (business unit x month):
  secretary_projects_active -> pump_cycle: +OIL_BETA_PROJECT days per active 书记项目 (延长检泵周期)
  commando_teams            -> op_cost: OIL_BETA_COMMANDO 元/t per 突击队 (技术攻关 lowers operating cost)
  demo_site                 -> open_rate: staggered, growing with time since designation
  study_hours -> oil_per_well, study_sessions -> down_well_rate: none (planted nulls)
  down_well_rate(t-1) -> study_sessions(t): reverse link
  size and mature field     -> activities_total and water_cut (confounder)
Plant (business unit x month):
  secretary_projects_active -> recovery: +PLANT_BETA_PROJECT points per active project (提高回收率)
  commando_teams            -> energy_per_t: PLANT_BETA_COMMANDO kWh/t per team
  demo_site                 -> yield_rate: staggered
  study_hours -> output_per_worker, study_sessions -> unit_cost: none
  unit_cost(t-1) -> study_sessions(t): reverse link
  size and main works       -> activities_total and unit_cost (confounder)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from etl.demo_party import (DID_RAMP, OrgSpec, activities, assessments, designations, event_truth, initiatives,
                            membership_frame, organisation, other_activities, party_side, secretary_projects_bu)
from etl.demo_sources import SYNTHETIC_NOTE

OIL_BETA_PROJECT = 15.0     # days of pump inspection cycle per active secretary project
OIL_BETA_COMMANDO = -25.0   # yuan per tonne of operating cost per commando team
OIL_DID = (3.0, 1.5)        # open-well rate points at full effect, early and late cohorts
PLANT_BETA_PROJECT = 0.4    # recovery points per active secretary project
PLANT_BETA_COMMANDO = -30.0  # kWh per tonne per commando team
PLANT_DID = (1.5, 0.8)      # yield points at full effect
REVERSE_GAMMA = {"oilfield": 0.6, "plant": 5.0}  # extra 专题学习 per branch after a bad month (relative to usual)

ORG = {
    "oilfield": OrgSpec(
        regions=("老区", "新区", "外围区块"), region_p=(0.45, 0.3, 0.25), size={"老区": 300, "新区": 130, "外围区块": 90},
        types=("采油作业区", "采油队", "注水站"), type_p=(0.55, 0.35, 0.10),
        suffix={"采油作业区": "采油作业区", "采油队": "采油队", "注水站": "注水站"}, per_branch=110,
        counties=("东部", "西部", "南部", "北部", "中部")),
    "plant": OrgSpec(
        regions=("主厂区", "分厂", "工业园区"), region_p=(0.45, 0.3, 0.25), size={"主厂区": 260, "分厂": 150, "工业园区": 110},
        types=("冶炼车间", "精炼车间", "深加工车间"), type_p=(0.4, 0.35, 0.25),
        suffix={"冶炼车间": "冶炼车间", "精炼车间": "精炼车间", "深加工车间": "深加工车间"}, per_branch=90,
        counties=("一分厂", "二分厂", "三分厂", "四分厂", "五分厂")),
}
TOPICS = {
    "oilfield": {
        "主题党日": ["躺井治理攻坚", "巡井护线", "冬季安全生产", "节能降耗", "党员进井场"],
        "专题学习": ["学习井控规程", "躺井原因复盘", "学习安全环保规定", "学习采油工艺标准"],
        "党课": ["书记讲党课", "石油精神党课", "安全责任党课"],
        "志愿服务": ["党员服务队进社区", "油区环境整治", "井场周边群众走访"],
    },
    "plant": {
        "主题党日": ["提质增效攻坚", "岗位节能", "安全生产警示教育", "质量月活动", "党员进班组"],
        "专题学习": ["学习工艺规程", "质量事故案例复盘", "学习安全操作规程", "学习节能管理规定"],
        "党课": ["书记讲党课", "工匠精神党课", "安全责任党课"],
        "志愿服务": ["党员服务队进社区", "厂区环境整治", "困难职工走访"],
    },
}
LINKS = {
    "oilfield": {"主题党日": ["延长检泵周期", "降本增效", "安全环保"], "专题学习": "安全环保"},
    "plant": {"主题党日": ["提高回收率", "节能降耗", "安全生产"], "专题学习": "安全生产"},
}
PROJECTS = {
    "oilfield": ["“长寿井”延长检泵周期攻关", "躺井治理“清零”行动", "机采系统节能降耗", "老井挖潜增油", "井筒防腐防垢攻关"],
    "plant": ["提高金属回收率攻关", "冶炼工序节能降耗", "成品率提升行动", "设备长周期运行", "新产品试制攻关"],
}
PROJECT_TARGETS = {"oilfield": ["检泵周期", "检泵周期", "单位操作成本", "躺井率"],
                   "plant": ["回收率", "回收率", "单位能耗", "成品率"]}
SITE_TARGET = {"oilfield": "油井开井率", "plant": "成品率"}
EXTRA_COLUMN = {"oilfield": ("措施增油（t）", "incremental oil from well interventions, not in the profile: define it in the app"),
                "plant": ("专利授权数", "patents granted, not in the profile: define it in the app")}


def simulate_industry(profile: str, seed: int = 2024, n_units: int = 120, years: int = 5, end_year: int = 2025) -> dict:
    """Simulate an oilfield (`profile` "oilfield") or a plant ("plant"). Returns clean DataFrames (the
    truth) and the manifest, as etl.demo.simulate does for power supply."""
    rng = np.random.default_rng(seed)
    months = pd.date_range(f"{end_year - years + 1}-01-01", f"{end_year}-12-01", freq="MS")
    T = len(months)
    bu, br, bu_idx = organisation(rng, ORG[profile], n_units)
    N, B = len(br), len(bu)
    first_area = (br.region == ORG[profile].regions[0]).to_numpy()
    pm = party_side(rng, br, bu_idx, B, T)
    early, late = OIL_DID if profile == "oilfield" else PLANT_DID
    designated, treat_month, tau = designations(rng, B, T, early, late)
    inits, demo_sites = initiatives(rng, br, bu, bu_idx, months, designated, treat_month, PROJECTS[profile],
                                    PROJECT_TARGETS[profile], SITE_TARGET[profile])
    projects = secretary_projects_bu(inits, br, bu_idx, months, B)
    other = other_activities(rng, first_area, N, T)
    business = (_oilfield if profile == "oilfield" else _plant)(rng, bu, months, pm, projects, tau)

    # 专题学习 after a bad month (relative to the unit's usual level); it changes nothing itself
    rel = np.ones((B, T))
    driver = business["reverse_driver"]
    usual = np.nanmean(driver, axis=1)
    rel[:, 1:] = driver[:, :-1] / np.where(usual > 0, usual, 1)[:, None]
    lam_study = np.clip(0.4 + REVERSE_GAMMA[profile] * (rel[bu_idx] - 1), 0.05, 4)
    study_sessions = rng.poisson(lam_study)

    ass = assessments(rng, br, pm["zeal"], months)
    act = activities(rng, br, months, pm, study_sessions, other, TOPICS[profile], LINKS[profile])
    att_e, att_overall = event_truth(tau, designated, treat_month, T)
    m = business["manifest"]
    did = m["effects"][-1]
    did.update(effect_formula=f"a_g * (1 - exp(-(e+1)/{DID_RAMP})), a_g = {early} (early cohorts) or {late} (late)",
               att_by_event_month=att_e, att_overall=att_overall, designations=demo_sites)
    manifest = {
        "synthetic": True, "note": SYNTHETIC_NOTE, "profile": profile,
        "seed": seed, "n_branches": N, "n_business_units": B, "months": [str(months[0].date()), str(months[-1].date())],
        "grain": "business unit x month (panel_month)", **m,
        "extra_column": {"header": EXTRA_COLUMN[profile][0], "note": EXTRA_COLUMN[profile][1]},
    }
    frames = dict(bu=bu, branches=br, activities=act, membership=membership_frame(br, months, pm), initiatives=inits,
                  assessments=ass, outages=None, kpi=business["kpi"])
    return {"frames": frames, "manifest": manifest, "profile": profile}


def _co_trending(y: str, via: str) -> list[dict]:
    """Carriers that drift upward within a unit as commando teams do (all are counts of the same branches that
    rarely fall): a bivariate within-unit view picks up part of the teams' planted effect through them."""
    return [{"x": x, "y": y, "via": via, "why": f"{x} and commando_teams both drift upward within a unit"}
            for x in ("pioneer_posts", "responsibility_areas")]


def _kpi_frame(bu: pd.DataFrame, months: pd.DatetimeIndex, cols: dict[str, np.ndarray]) -> pd.DataFrame:
    B, T = len(bu), len(months)
    return pd.DataFrame({
        "business_unit_id": np.repeat(bu.business_unit_id.to_numpy(), T),
        "business_unit_name": np.repeat(bu.business_unit_name.to_numpy(), T),
        "month": np.tile(months.strftime("%Y-%m"), B),
        **{k: v.ravel() for k, v in cols.items()}})


def _by_region(bu: pd.DataFrame, values: dict) -> np.ndarray:
    return np.array([values[r] for r in bu.region], dtype=float)


def _oilfield(rng, bu, months, pm, projects, tau) -> dict:
    B, T = len(bu), len(months)
    mon = months.month.to_numpy()
    years_from_start = np.arange(T) / 12.0
    # Every time pattern below is common to the field (period effects absorb it) or planted: a unit-specific
    # trend or season that goes with unit size would fool any within-unit comparison (README, "Industry profiles")
    wells = np.repeat(bu.customers0.to_numpy()[:, None], T, axis=1)
    winter = np.isin(mon, [1, 2]).astype(float)
    cold_months = {pd.Timestamp(f"{y}-01-01") for y in (2021, 2024)} | {pd.Timestamp("2022-12-01")}
    cold = np.array([m in cold_months for m in months], dtype=float)

    # open wells: the unit's usual rate, cold waves and winter, the demonstration site's planted effect
    base_open = rng.normal(87, 2.5, B) - 2 * (bu.region == "外围区块").to_numpy()
    rate = np.clip(base_open[:, None] - 1.5 * winter[None, :] - 4 * cold[None, :] + tau + rng.normal(0, 1.0, (B, T)), 60, 99)
    wells_open = np.round(wells * rate / 100).astype(int)

    # output: the field's decline (t per well-month lost a year) and winter, open wells produce; liquid from
    # water cut (a mature field is wetter)
    decline = np.clip(rng.normal(0.11, 0.025, B), 0.05, 0.2)
    per_well = (_by_region(bu, {"老区": 25.0, "新区": 45.0, "外围区块": 35.0}) * rng.lognormal(0, 0.15, B))[:, None] \
        - 3.0 * years_from_start[None, :] - 1.5 * winter[None, :] + rng.normal(0, 1.0, (B, T))
    oil = np.round(np.maximum(per_well, 2) * wells_open, 1)
    water_cut = np.round(np.clip(_by_region(bu, {"老区": 93.0, "新区": 82.0, "外围区块": 88.0})[:, None]
                                 + rng.normal(0, 1.5, B)[:, None] + 0.4 * years_from_start[None, :]
                                 + rng.normal(0, 0.35, (B, T)), 50, 99.5), 2)
    liquid = np.round(oil / (1 - water_cut / 100), 1)
    decline_rep = np.round(np.clip(100 * decline[:, None] + rng.normal(0, 0.8, (B, T)), 2, 25), 1)

    # pump inspection cycle: the unit's level, a slow improvement, secretary projects lengthen it
    pump = np.round(np.clip(_by_region(bu, {"老区": 550.0, "新区": 750.0, "外围区块": 600.0})[:, None]
                            * rng.lognormal(0, 0.12, B)[:, None] + 8 * years_from_start[None, :]
                            + OIL_BETA_PROJECT * projects + rng.normal(0, 30, (B, T)), 120, 3000))
    down = rng.poisson(wells * (np.clip(rng.normal(0.035, 0.008, B), 0.01, 0.08)[:, None] + 0.01 * winter[None, :]))
    cost = np.round(_by_region(bu, {"老区": 1300.0, "新区": 900.0, "外围区块": 1150.0})[:, None]
                    * rng.lognormal(0, 0.08, B)[:, None] + 25 * years_from_start[None, :]
                    + OIL_BETA_COMMANDO * pm["commando_bu"] + rng.normal(0, 40, (B, T)))
    hse = rng.poisson(np.full((B, T), 0.12))
    kpi = _kpi_frame(bu, months, {"wells": wells, "wells_open": wells_open, "oil_t": oil, "liquid_t": liquid,
                                  "water_cut": water_cut, "decline": decline_rep, "pump_cycle": pump, "down_wells": down,
                                  "op_cost": cost, "hse_events": hse})
    extra = np.round(np.clip(rng.normal(0.04, 0.02, (B, T)), 0, None) * oil, 1)
    kpi[EXTRA_COLUMN["oilfield"][0]] = extra.ravel()
    manifest = {
        "effects": [
            {"name": "secretary_projects_lengthen_pump_cycle", "x": "secretary_projects_active", "y": "pump_cycle",
             "lag": 0, "true_effect": OIL_BETA_PROJECT, "unit": "days per active secretary project"},
            {"name": "commando_teams_lower_op_cost", "x": "commando_teams", "y": "op_cost", "lag": 0,
             "true_effect": OIL_BETA_COMMANDO, "unit": "yuan per tonne per commando team"},
            {"name": "demo_site_raises_open_rate", "x": "demo_site", "y": "open_rate", "kind": "staggered_did"},
        ],
        "implied": [
            {"x": "demo_site", "y": "oil_per_well", "via": "demo_site_raises_open_rate", "why": "open wells produce the oil"},
            *_co_trending("op_cost", "commando_teams_lower_op_cost"),
        ],
        "nulls": [
            {"name": "study_hours_no_effect_on_oil_per_well", "x": "study_hours", "y": "oil_per_well", "true_effect": 0.0},
            {"name": "study_sessions_no_effect_on_down_wells", "x": "study_sessions", "y": "down_well_rate", "true_effect": 0.0},
        ],
        "confounders": [
            {"name": "size_and_mature_field_drive_activities_and_water_cut", "x": "activities_total", "y": "water_cut",
             "note": "mature-field areas are bigger (more branches, more activities) and wetter; the pooled correlation "
                     "is positive, the within-unit relation is not"}],
        "reverse": [
            {"name": "wells_down_trigger_study_sessions", "from": "down_well_rate", "to": "study_sessions", "lag": 1,
             "gamma_per_branch": REVERSE_GAMMA["oilfield"], "note": "study_sessions has no effect on down wells"}],
        "events": [{"month": str(m.date()), "kind": "cold_wave", "zh": "寒潮", "en": "Cold wave"} for m in sorted(cold_months)
                   if months[0] <= m <= months[-1]],
    }
    return {"kpi": kpi, "manifest": manifest, "reverse_driver": down / np.maximum(wells, 1)}


def _plant(rng, bu, months, pm, projects, tau) -> dict:
    B, T = len(bu), len(months)
    mon = months.month.to_numpy()
    years_from_start = np.arange(T) / 12.0
    headcount = np.round(bu.customers0.to_numpy()[:, None] * (1 + rng.normal(0, 0.01, (B, T)))).astype(int)
    # as in the oilfield: time patterns common to the plant, or planted
    spring = (mon == 2).astype(float)
    # one planned maintenance month a year per unit: output down, the rest of the line's figures unaffected
    shutdown = np.zeros((B, T))
    for y in range(T // 12):
        shutdown[np.arange(B), 12 * y + rng.integers(3, 11, B)] = 1
    prod = (_by_region(bu, {"主厂区": 1.6, "分厂": 1.4, "工业园区": 1.3}) * rng.lognormal(0, 0.2, B))[:, None]
    per_worker = prod + 0.04 * years_from_start[None, :] - 0.2 * spring[None, :] - 0.5 * shutdown + rng.normal(0, 0.06, (B, T))
    output = np.round(headcount * np.maximum(per_worker, 0.1), 1)
    recovery = np.round(np.clip(_by_region(bu, {"主厂区": 91.0, "分厂": 89.0, "工业园区": 90.0})[:, None]
                                + rng.normal(0, 1.0, B)[:, None] + PLANT_BETA_PROJECT * projects
                                + rng.normal(0, 0.5, (B, T)), 75, 99.5), 2)
    yield_rate = np.round(np.clip(rng.normal(94, 1.2, B)[:, None] + tau + rng.normal(0, 0.5, (B, T)), 80, 99.8), 2)
    energy = np.round(rng.normal(1600, 120, B)[:, None] - 15 * years_from_start[None, :]
                      + PLANT_BETA_COMMANDO * pm["commando_bu"] + rng.normal(0, 40, (B, T)))
    cost = np.round(_by_region(bu, {"主厂区": 60000.0, "分厂": 52000.0, "工业园区": 50000.0})[:, None]
                    * rng.lognormal(0, 0.05, B)[:, None] + 800 * years_from_start[None, :]
                    + rng.normal(0, 3500, (B, T)))
    new_products = rng.poisson(0.08 * np.ones((B, T)))
    incidents = rng.poisson(0.02 * headcount / 100)
    batches = rng.poisson(np.maximum(output / 4, 1)) + 1
    complaints = rng.poisson(batches * np.clip(rng.normal(0.012, 0.004, B), 0.002, 0.03)[:, None])
    kpi = _kpi_frame(bu, months, {"headcount": headcount, "output_t": output, "recovery": recovery,
                                  "yield_rate": yield_rate, "energy_per_t": energy, "new_products": new_products,
                                  "safety_incidents": incidents, "unit_cost": cost, "batches": batches,
                                  "quality_complaints": complaints})
    kpi[EXTRA_COLUMN["plant"][0]] = rng.poisson(0.05 * np.ones((B, T))).ravel()
    manifest = {
        "effects": [
            {"name": "secretary_projects_raise_recovery", "x": "secretary_projects_active", "y": "recovery", "lag": 0,
             "true_effect": PLANT_BETA_PROJECT, "unit": "recovery points per active secretary project"},
            {"name": "commando_teams_lower_energy", "x": "commando_teams", "y": "energy_per_t", "lag": 0,
             "true_effect": PLANT_BETA_COMMANDO, "unit": "kWh per tonne per commando team"},
            {"name": "demo_site_raises_yield", "x": "demo_site", "y": "yield_rate", "kind": "staggered_did"},
        ],
        "implied": _co_trending("energy_per_t", "commando_teams_lower_energy"),
        "nulls": [
            {"name": "study_hours_no_effect_on_output_per_worker", "x": "study_hours", "y": "output_per_worker", "true_effect": 0.0},
            {"name": "study_sessions_no_effect_on_unit_cost", "x": "study_sessions", "y": "unit_cost", "true_effect": 0.0},
        ],
        "confounders": [
            {"name": "size_and_main_works_drive_activities_and_unit_cost", "x": "activities_total", "y": "unit_cost",
             "note": "main-works workshops are bigger (more branches, more activities) and costlier per tonne; the pooled "
                     "correlation is positive, the within-unit relation is not"}],
        "reverse": [
            {"name": "cost_overruns_trigger_study_sessions", "from": "unit_cost", "to": "study_sessions", "lag": 1,
             "gamma_per_branch": REVERSE_GAMMA["plant"], "note": "study_sessions has no effect on unit cost"}],
        "events": [],
    }
    return {"kpi": kpi, "manifest": manifest, "reverse_driver": cost}
