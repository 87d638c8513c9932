"""The party-building side of a synthetic demo company, the same in every industry: business units and
their branches, members and carriers (先锋岗, 责任区, 突击队), theme party days, the other activities,
demonstration-site designations, assessments, initiatives. etl/demo.py (power supply) and
etl/demo_industry.py (oilfield, plant) add the business side and the planted relations.

Each function draws from the generator it is given, in a fixed order, so a seed gives the same company."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DID_RAMP = 6.0  # months: a designation's effect = a_g * (1 - exp(-(e + 1) / DID_RAMP))
TOWNS = ["城关", "城东", "城西", "城南", "城北", "河口", "新桥", "柳湾", "白沙", "青石", "龙泉", "松岭", "临江",
         "马坊", "黄岗", "双塘", "竹林", "杨庄", "凤凰", "桃源", "梅溪", "平湖", "金沙", "长岭", "石门", "三河",
         "高坪", "西岭", "北坡", "安乐", "永丰", "团结", "新华", "红星", "太平", "兴隆", "和平", "光明", "民主",
         "建设", "胜利", "前进", "东风", "朝阳", "向阳", "幸福", "友谊", "丰收", "育才", "明德", "崇文", "广德"]


@dataclass(frozen=True)
class OrgSpec:
    """How an industry's business units look: areas and their shares, a unit's size by area (customers,
    wells, headcount), unit types and their shares with the suffix of their names, the size one branch
    serves, the middle level's names (counties, management areas, branch works) and whether units keep
    outage records."""
    regions: tuple[str, ...]
    region_p: tuple[float, ...]
    size: dict
    types: tuple[str, ...]
    type_p: tuple[float, ...]
    suffix: dict
    per_branch: float
    counties: tuple[str, ...]
    outages: bool = False
    size_sigma: float = 0.35


def organisation(rng, spec: OrgSpec, n_units: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Business units with 1-4 branches each (bigger units have more), until there are n_units branches."""
    bus = []
    n_branches_total = 0
    i = 0
    while n_branches_total < n_units:
        region = rng.choice(list(spec.regions), p=list(spec.region_p))
        size = spec.size[region] * rng.lognormal(0, spec.size_sigma)
        utype = rng.choice(list(spec.types), p=list(spec.type_p))
        nb = int(np.clip(round(size / spec.per_branch + rng.normal(0, 0.4)), 1, 4))
        nb = min(nb, n_units - n_branches_total)
        county = spec.counties[i % len(spec.counties)]
        town = TOWNS[i % len(TOWNS)] + ("" if i < len(TOWNS) else str(i // len(TOWNS) + 1))
        bus.append(dict(business_unit_id=f"BU{i + 1:03d}", business_unit_name=f"{county}{town}{spec.suffix[utype]}",
                        unit_type=utype, region=region, customers0=int(size), n_branches=nb,
                        county=county, has_outages=spec.outages and utype != "营销服务"))
        n_branches_total += nb
        i += 1
    bu = pd.DataFrame(bus)

    branches = []
    for _, b in bu.iterrows():
        for k in range(b.n_branches):
            members = int(np.clip(rng.normal(22 * (1 + 0.15 * (b.region == spec.regions[0])), 6), 12, 45))
            branches.append(dict(unit_id=f"{b.business_unit_id}-{k + 1:02d}", business_unit_id=b.business_unit_id,
                                 unit_name=f"{b.business_unit_name}第{'一二三四'[k]}党支部", members0=members,
                                 zeal=rng.normal(0, 1), groups=int(rng.integers(1, 4)), region=b.region,
                                 county=b.county))
    br = pd.DataFrame(branches)
    bu_idx = br.business_unit_id.map({b: j for j, b in enumerate(bu.business_unit_id)}).to_numpy()
    return bu, br, bu_idx


def party_side(rng, br: pd.DataFrame, bu_idx: np.ndarray, B: int, T: int) -> dict:
    """Members and carriers per branch and month, study hours, proposals, theme party days; with the
    business-unit sums of theme days, pioneer posts and commando teams (what KPIs may respond to)."""
    N = len(br)
    members = np.zeros((N, T), dtype=int)
    pioneer = np.zeros((N, T), dtype=int)
    resp = np.zeros((N, T), dtype=int)
    commando = np.zeros((N, T), dtype=int)
    m0 = br.members0.to_numpy()
    p_now = rng.integers(1, 5, N)
    r_now = rng.integers(1, 4, N)
    c_now = rng.integers(0, 2, N)
    mem_now = m0.copy()
    new_members = rng.poisson(np.outer(m0, np.ones(T)) * 0.024 / 12)
    for t in range(T):
        mem_now = np.maximum(8, mem_now + new_members[:, t] - rng.binomial(mem_now, 0.0015))
        members[:, t] = mem_now
        step = rng.random(N)
        p_now = np.clip(p_now + (step < 0.045) - ((step > 0.96) & (p_now > 0)), 0, 10)
        r_now = np.clip(r_now + (rng.random(N) < 0.02), 0, 10)
        c_now = np.clip(c_now + (rng.random(N) < 0.01) - (rng.random(N) < 0.005), 0, 3)
        pioneer[:, t], resp[:, t], commando[:, t] = p_now, r_now, c_now
    probationary = np.minimum(members, rng.poisson(np.maximum(members * 0.03, 0.2)))
    zeal = br.zeal.to_numpy()
    study_hours = np.round(np.clip(rng.normal(4 + 0.6 * zeal[:, None], 1.0, (N, T)), 0.5, 12), 1)
    proposals = rng.poisson(np.maximum(members * (1 + 0.3 * zeal[:, None]) / 12, 0.1))
    adopted = rng.binomial(proposals, 0.4)

    # theme party days: mandated monthly; shortfalls and extra ones vary month to month
    p_miss = np.clip(0.06 - 0.02 * zeal, 0.0, 0.2)[:, None] * np.ones((1, T))
    p_extra = np.clip(np.clip(0.25 + 0.08 * zeal, 0.02, 0.6)[:, None] + rng.normal(0, 0.2, (N, T)), 0, 0.9)
    u = rng.random((N, T))
    theme = np.where(u < p_miss, 0, 1) + rng.binomial(2, p_extra) * (u >= p_miss)
    sums = {}
    for name, arr in (("theme_bu", theme), ("pioneer_bu", pioneer), ("commando_bu", commando)):
        sums[name] = np.zeros((B, T))
        np.add.at(sums[name], bu_idx, arr)
    return dict(members=members, pioneer=pioneer, resp=resp, commando=commando, probationary=probationary,
                new_members=new_members, zeal=zeal, study_hours=study_hours, proposals=proposals, adopted=adopted,
                theme=theme, **sums)


def other_activities(rng, urban: np.ndarray, N: int, T: int) -> dict:
    """Volunteering (more in the first area type: part of the confounder), labour contests, technical tackling."""
    volunteer = rng.poisson((0.25 + 0.35 * urban)[:, None] * np.ones((1, T)))
    contest = rng.poisson(0.08, (N, T))
    tackle = rng.poisson(0.08, (N, T))
    return {"志愿服务": volunteer, "劳动竞赛": contest, "技术攻关": tackle}


def designations(rng, B: int, T: int, early: float, late: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Staggered demonstration-site designations of 45% of the units; the effect tau (unit x month) grows
    with time since designation and is larger for early cohorts (`early`, `late` at full effect)."""
    treat_month = np.full(B, -1)
    designated = rng.random(B) < 0.45
    cohorts = np.arange(12, T - 6, 3)
    treat_month[designated] = rng.choice(cohorts, designated.sum())
    tau = np.zeros((B, T))
    for j in np.where(designated)[0]:
        g = treat_month[j]
        a = early if g < T / 2 else late
        e = np.arange(T) - g
        tau[j] = np.where(e >= 0, a * (1 - np.exp(-(e + 1) / DID_RAMP)), 0.0)
    return designated, treat_month, tau


def event_truth(tau: np.ndarray, designated: np.ndarray, treat_month: np.ndarray, T: int) -> tuple[dict, float]:
    """The event study's ground truth: ATT by event month over the designated units, and overall."""
    att_e = {}
    for e in range(0, 25):
        vals = [tau[j, treat_month[j] + e] for j in np.where(designated)[0] if treat_month[j] + e < T]
        if vals:
            att_e[e] = float(np.mean(vals))
    post = [tau[j, t] for j in np.where(designated)[0] for t in range(treat_month[j], T)]
    return att_e, float(np.mean(post))


def assessments(rng, br: pd.DataFrame, zeal: np.ndarray, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Quarterly assessments per branch: total and five dimensions, grade."""
    meetings_share = 0.97 - 0.03 * np.clip(-zeal, 0, None)
    quarters = pd.period_range(months[0], months[-1], freq="Q")
    ass = []
    for n in range(len(br)):
        for qp in quarters:
            total = float(np.clip(rng.normal(88 + 3 * zeal[n] + 20 * (meetings_share[n] - 0.97), 2.0), 72, 99))
            dims = np.array([0.2, 0.3, 0.2, 0.15, 0.15]) * total * rng.normal(1, 0.02, 5)
            dims = np.round(dims / dims.sum() * total, 1)
            grade = "好" if total >= 90 else "较好" if total >= 80 else "一般" if total >= 70 else "差"
            ass.append((br.unit_id[n], f"{qp.year}Q{qp.quarter}", round(total, 1), *dims, grade))
    return pd.DataFrame(ass, columns=["unit_id", "period", "total", "ideology", "organization", "institution",
                                      "innovation", "talent", "grade"])


def activities(rng, br: pd.DataFrame, months: pd.DatetimeIndex, pm: dict, study_sessions: np.ndarray, other: dict,
               topics: dict, links: dict) -> pd.DataFrame:
    """One row per activity: counts per branch-month and kind, then one row each, with participants,
    hours, a topic and the business it links to (the industry's words: `topics`, `links`)."""
    N, T = pm["members"].shape
    mon = months.month.to_numpy()
    groups = br.groups.to_numpy()[:, None]
    q_last = (mon % 3 == 0)[None, :]
    counts = {
        "支部委员会": (rng.random((N, T)) > 0.03).astype(int),
        "党小组会": rng.binomial(np.broadcast_to(groups, (N, T)), 0.95),
        "支部党员大会": ((rng.random((N, T)) > 0.04) & q_last).astype(int),
        "党课": ((rng.random((N, T)) > 0.05) & q_last).astype(int),
        "组织生活会": np.broadcast_to((mon == 1)[None, :], (N, T)).astype(int),
        "民主评议": np.broadcast_to((mon == 1)[None, :], (N, T)).astype(int),
        "主题党日": pm["theme"], "专题学习": study_sessions, **other,
    }
    parts = []
    for kind, c in counts.items():
        nn, tt = np.nonzero(c)
        reps = c[nn, tt]
        parts.append(pd.DataFrame({"_n": np.repeat(nn, reps), "_t": np.repeat(tt, reps), "activity_type": kind}))
    act = pd.concat(parts, ignore_index=True)
    n_a, t_a = act["_n"].to_numpy(), act["_t"].to_numpy()
    mem_a = pm["members"][n_a, t_a]
    zeal = pm["zeal"]
    expected = np.where(act.activity_type == "党小组会", np.maximum(3, mem_a // br.groups.to_numpy()[n_a]), mem_a)
    part = np.minimum(expected, rng.binomial(expected, 0.9 + 0.02 * np.tanh(zeal[n_a])))
    days_in = months.days_in_month.to_numpy()[t_a]
    day = np.floor(rng.random(len(act)) * days_in).astype(int)
    hours_map = {"党课": 2.0, "主题党日": 3.0, "支部党员大会": 2.0, "志愿服务": 4.0}
    act["date"] = months.to_numpy()[t_a] + day.astype("timedelta64[D]")
    act = act.assign(unit_id=br.unit_id.to_numpy()[n_a], unit_name=br.unit_name.to_numpy()[n_a], participants=part,
                     expected=expected, hours=act.activity_type.map(hours_map).fillna(1.5))
    act["topic"] = [str(rng.choice(topics.get(k, [k]))) for k in act.activity_type]
    # a kind with one business link names it without a draw (a list: one is drawn)
    act["business_link"] = [("" if k not in links else links[k] if isinstance(links[k], str) else str(rng.choice(links[k])))
                            for k in act.activity_type]
    act = act.sort_values(["date", "unit_id"], kind="stable").reset_index(drop=True)
    act.insert(0, "activity_id", [f"HD{i + 1:07d}" for i in range(len(act))])
    return act[["activity_id", "unit_id", "unit_name", "date", "activity_type", "participants", "expected", "hours",
                "topic", "business_link"]]


def initiatives(rng, br: pd.DataFrame, bu: pd.DataFrame, bu_idx: np.ndarray, months: pd.DatetimeIndex,
                designated: np.ndarray, treat_month: np.ndarray, titles: list[str], targets: list[str],
                site_target: str) -> tuple[pd.DataFrame, list[dict]]:
    """Secretary projects (each branch, each year, with probability 0.6: started in Feb-Mar, ended 20 Dec)
    and the demonstration sites of the designated units."""
    T = len(months)
    inits = []
    iid = 0
    for n in range(len(br)):
        for y in range(months[0].year, months[-1].year + 1):
            if rng.random() < 0.6:
                iid += 1
                inits.append((f"XM{iid:05d}", br.unit_id[n], "书记项目", str(rng.choice(titles)), "公司级",
                              pd.Timestamp(f"{y}-{int(rng.integers(2, 4)):02d}-{int(rng.integers(1, 28)):02d}"),
                              pd.Timestamp(f"{y}-12-20"), rng.choice(targets)))
    demo_sites = []
    for j in np.where(designated)[0]:
        n0 = int(np.where(bu_idx == j)[0][0])
        iid += 1
        start = months[treat_month[j]] + pd.Timedelta(days=int(rng.integers(0, 10)))
        inits.append((f"XM{iid:05d}", br.unit_id[n0], "党建示范点", f"{bu.business_unit_name[j]}党建示范点",
                      rng.choice(["地市级", "省级"]), start, pd.NaT, site_target))
        demo_sites.append(dict(business_unit_id=bu.business_unit_id[j], first_month=str(months[treat_month[j]].date()),
                               cohort="early" if treat_month[j] < T / 2 else "late"))
    frame = pd.DataFrame(inits, columns=["initiative_id", "unit_id", "kind", "title", "level", "start", "end", "target_kpi"])
    return frame, demo_sites


def membership_frame(br: pd.DataFrame, months: pd.DatetimeIndex, pm: dict) -> pd.DataFrame:
    N, T = pm["members"].shape
    return pd.DataFrame({
        "unit_id": np.repeat(br.unit_id.to_numpy(), T),
        "month": np.tile(months.strftime("%Y-%m"), N),
        "members": pm["members"].ravel(), "probationary": pm["probationary"].ravel(),
        "new_members": pm["new_members"].ravel(), "pioneer_posts": pm["pioneer"].ravel(),
        "responsibility_areas": pm["resp"].ravel(), "commando_teams": pm["commando"].ravel(),
        "study_hours": pm["study_hours"].ravel(), "proposals": pm["proposals"].ravel(),
        "proposals_adopted": pm["adopted"].ravel(),
    })


def secretary_projects_bu(inits: pd.DataFrame, br: pd.DataFrame, bu_idx: np.ndarray, months: pd.DatetimeIndex,
                          B: int) -> np.ndarray:
    """Active secretary projects per business unit and month, as the warehouse counts them (a project is
    active in a month when it started by the month's last day and had not ended before its first)."""
    T = len(months)
    out = np.zeros((B, T))
    unit_of = dict(zip(br.unit_id, bu_idx))
    first = months.to_numpy()
    last = (months + pd.offsets.MonthEnd(0)).to_numpy()
    for r in inits[inits.kind == "书记项目"].itertuples():
        active = (r.start.to_datetime64() <= last) & (r.end.to_datetime64() >= first)
        out[unit_of[r.unit_id]] += active
    return out
