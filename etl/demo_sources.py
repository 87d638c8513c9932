"""The demo company's source files, written the way the source systems and branches really produce them:
GBK CSVs with Chinese dates and named branches, UTF-8-BOM CSVs, Excel with merged title rows, 合计 and
note rows, a custom KPI column, and a few planted bad rows the loader must reject."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

SYNTHETIC_NOTE = "合成演示数据，非真实单位 (synthetic demo data)"
# the organisation file's top and middle levels, per industry profile
ORG_WORDS = {
    "power": {"company": "某省电力公司", "top": "演示供电公司党委", "top_region": "城区", "middle": "{}县供电公司党委",
              "middle_region": "县城"},
    "oilfield": {"company": "某油田采油厂", "top": "演示采油厂党委", "top_region": "老区", "middle": "{}采油管理区党委",
                 "middle_region": "老区"},
    "plant": {"company": "某有色金属材料厂", "top": "演示材料厂党委", "top_region": "主厂区", "middle": "{}党委",
              "middle_region": "分厂"},
}


def _write_csv(path: Path, df: pd.DataFrame, encoding: str, title: str | None = None) -> None:
    with open(path, "w", newline="", encoding=encoding, errors="strict") as fh:
        w = csv.writer(fh)
        if title:
            w.writerow([title])
        w.writerow(df.columns)
        for row in df.itertuples(index=False):
            w.writerow(["" if (isinstance(v, float) and np.isnan(v)) or v is None or v is pd.NaT else v for v in row])


def _write_xlsx(path: Path, sheets: dict[str, pd.DataFrame], title: str, total_row: dict | None = None,
                note: str = "填表人：演示数据生成器    审核人：（合成数据）") -> None:
    """A workbook as branches send it: merged title row, header, data, an optional 合计 row, a blank row
    and a 填表人 note, plus an instructions sheet. xlsxwriter in constant-memory mode streams rows, so
    group-scale files (millions of rows) fit in memory."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    bold = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, df in sheets.items():
        ws = wb.add_worksheet(name)
        ws.merge_range(0, 0, 0, max(1, len(df.columns) - 1), title, bold)
        ws.write_row(1, 0, list(df.columns))
        r = 2
        cols = [df[c].to_numpy(dtype=object) for c in df.columns]
        for values in zip(*cols):
            for c, v in enumerate(values):
                if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
                    continue
                if isinstance(v, pd.Timestamp):
                    ws.write_datetime(r, c, v.to_pydatetime(), date_fmt)
                elif isinstance(v, (bool, np.bool_)):
                    ws.write_boolean(r, c, bool(v))
                elif isinstance(v, (int, float, np.integer, np.floating)):
                    ws.write_number(r, c, float(v))
                else:
                    ws.write_string(r, c, str(v))
            r += 1
        if total_row:
            ws.write_row(r, 0, [total_row.get(c, "") for c in df.columns])
            r += 1
        ws.write_string(r + 1, 0, note)
    wb.add_worksheet("填表说明").write_string(0, 0, "说明：本文件为 PB-KPI Lens 合成演示数据 (synthetic demo data)，不代表任何真实单位。")
    wb.close()


def write_sources(sim: dict, out_dir: Path, seed: int = 2024) -> list[Path]:
    """Write the simulated data as the messy files the source systems produce. A handful of planted
    bad rows (unknown branch, impossible date, participants > expected, negative count, end before
    start) must be rejected by the loader."""
    rng = np.random.default_rng(seed + 1)
    f = sim["frames"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file():
            old.unlink()
    paths = []
    words = ORG_WORDS[sim.get("profile", "power")]
    title = f"{words['company']}（{SYNTHETIC_NOTE}）"

    # organisation units: Excel with a merged title row and a note row
    br, bu = f["branches"], f["bu"]
    org = [("P000", words["top"], None, "党委", None, None, "机关", words["top_region"], "2000-01-01")]
    for c in sorted(bu.county.unique()):
        org.append((f"P{c}", words["middle"].format(c), "P000", "党委", None, None, "机关", words["middle_region"], "2002-06-01"))
    for _, b in br.iterrows():
        bb = bu.set_index("business_unit_id").loc[b.business_unit_id]
        org.append((b.unit_id, b.unit_name, f"P{b.county}", "党支部", b.business_unit_id, bb.business_unit_name,
                    bb.unit_type, bb.region, f"{2003 + int(rng.integers(0, 15))}/{int(rng.integers(1, 13))}/1"))
    org_df = pd.DataFrame(org, columns=["组织编码", "组织名称", "上级组织编码", "组织类别", "业务单元编码", "业务单元名称",
                                        "业务类型", "区域类型", "成立日期"])
    p = out_dir / "组织机构.xlsx"
    _write_xlsx(p, {"组织机构": org_df}, f"组织机构表 — {title}")
    paths.append(p)

    # activities: one file per year; alternate GBK CSV (named branches, Chinese dates) and UTF-8-BOM CSV
    acts = f["activities"].copy()
    acts["year"] = acts.date.dt.year
    for k, (year, df) in enumerate(acts.groupby("year")):
        df = df.drop(columns="year").reset_index(drop=True)
        gbk = k % 2 == 0
        out = pd.DataFrame({
            "活动编号": df.activity_id,
            "组织名称" if gbk else "组织编码": df.unit_name if gbk else df.unit_id,
            "活动日期": df.date.dt.strftime("%Y年%-m月%-d日") if gbk else df.date.dt.strftime("%Y/%-m/%-d"),
            "活动类型": df.activity_type, "实到人数": df.participants, "应到人数": df.expected,
            "时长（小时）" if gbk else "时长(h)": df.hours, "活动主题": df.topic, "关联业务": df.business_link,
        })
        bad = _bad_activity_rows(out, year, gbk)
        out = pd.concat([out, bad], ignore_index=True)
        p = out_dir / f"党建活动台账_{year}.csv"
        _write_csv(p, out, "gbk" if gbk else "utf-8-sig", title=f"{year}年党建活动台账（{SYNTHETIC_NOTE}）")
        paths.append(p)

    # membership: one Excel per year, one sheet per half-year, month as 2024年7月 or 202407, a 合计 row
    mem = f["membership"].copy()
    mem["year"] = mem.month.str[:4]
    for year, df in mem.groupby("year"):
        sheets = {}
        for half, part in df.groupby(df.month.str[5:7].astype(int) > 6):
            part = part.drop(columns="year")
            months_fmt = part.month.map(lambda s: f"{s[:4]}年{int(s[5:])}月") if half else part.month.str.replace("-", "")
            sheets["下半年" if half else "上半年"] = pd.DataFrame({
                "组织编码": part.unit_id, "月份": months_fmt, "党员人数": part.members, "预备党员数": part.probationary,
                "新发展党员数": part.new_members, "党员先锋岗数": part.pioneer_posts, "党员责任区数": part.responsibility_areas,
                "党员突击队数": part.commando_teams, "人均学习时长（小时）": part.study_hours,
                "合理化建议数": part.proposals, "建议采纳数": part.proposals_adopted})
        p = out_dir / f"党员队伍月报_{year}.xlsx"
        _write_xlsx(p, sheets, f"{year}年党员队伍月报 — {title}", total_row={"组织编码": "合计"})
        paths.append(p)

    # initiatives: UTF-8 CSV, one bad row (end before start)
    ini = f["initiatives"].copy()
    ini_out = pd.DataFrame({"项目编号": ini.initiative_id, "组织编码": ini.unit_id, "类别": ini.kind, "名称": ini.title,
                            "级别": ini.level, "开始日期": ini.start.dt.strftime("%Y-%m-%d"),
                            "结束日期": ini.end.dt.strftime("%Y-%m-%d").fillna(""), "目标指标": ini.target_kpi})
    ini_out.loc[len(ini_out)] = ["XM99999", br.unit_id[0], "书记项目", "起止日期填反的项目", "公司级", "2024-12-01", "2024-03-01", ""]
    p = out_dir / "书记项目与示范创建.csv"
    _write_csv(p, ini_out, "utf-8")
    paths.append(p)

    # assessments: Excel
    ass = f["assessments"]
    ass_out = pd.DataFrame({"组织编码": ass.unit_id, "考核周期": ass.period, "总分": ass.total, "思想建设": ass.ideology,
                            "组织建设": ass.organization, "制度建设": ass.institution, "党建创新": ass.innovation,
                            "人才培养": ass.talent, "等级": ass.grade})
    p = out_dir / "党建考核.xlsx"
    _write_xlsx(p, {"季度考核": ass_out}, f"党建考核结果 — {title}")
    paths.append(p)

    if f.get("outages") is not None:
        paths += _outage_files(f["outages"], bu, out_dir)
    paths.append(_kpi_file(sim, out_dir, title, rng))

    (out_dir / "README.txt").write_text(
        "本目录文件均为 PB-KPI Lens 生成的合成演示数据（synthetic demo data），不代表任何真实单位或个人。\n"
        "manifest.json 记录了数据中预设的真实关系（ground truth），供统计方法校验。\n", encoding="utf-8")
    return paths


def _outage_files(outages: pd.DataFrame, bu: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Outages: GBK CSV per year from the production MIS, business units by name, one bad row per year."""
    paths = []
    out = outages.copy()
    out["year"] = out.start.dt.year
    bu_names = bu.set_index("business_unit_id").business_unit_name
    for year, df in out.groupby("year"):
        df = df.reset_index(drop=True)
        o = pd.DataFrame({"事件编号": df.event_id, "业务单元名称": df.business_unit_id.map(bu_names),
                          "停电开始时间": df.start.dt.strftime("%Y-%m-%d %H:%M"),
                          "恢复送电时间": df.end.dt.strftime("%Y-%m-%d %H:%M"), "停电用户数": df.customers,
                          "停电性质": df.kind, "原因": df.cause, "重大事件日": df.major_event})
        o.loc[len(o)] = [f"TDX{year}", bu_names.iloc[0], f"{year}-05-01 10:00", f"{year}-05-01 08:00", 120, "故障", "录入错误", "否"]
        p = out_dir / f"停电事件_{year}.csv"
        _write_csv(p, o, "gbk")
        paths.append(p)
    return paths


def _kpi_file(sim: dict, out_dir: Path, title: str, rng) -> Path:
    """Operating KPIs: Excel, percent signs, thousands separators, a column the catalogue does not know
    (kept as a custom metric), and two bad rows (an unknown unit, month 13)."""
    kpi = sim["frames"]["kpi"]
    if sim.get("profile", "power") != "power":
        return _industry_kpi_file(sim, out_dir, title)
    k_out = pd.DataFrame({
        "业务单元编码": kpi.business_unit_id, "月份": kpi.month, "用户数": kpi.customers.map(lambda v: f"{v:,}"),
        "投诉件数": kpi.complaints, "售电量（MWh）": kpi.sales_mwh, "电费回收率（%）": kpi.bill_recovery.map(lambda v: f"{v:.2f}%"),
        "客户满意度": kpi.satisfaction, "线损率（%）": kpi.line_loss, "违章次数": kpi.safety_violations,
        "供电可靠率（%）": kpi.rs1, "业扩报装时限达标率": np.round(rng.normal(98, 1.2, len(kpi)).clip(90, 100), 1)})
    k_out.loc[len(k_out)] = ["BU999", "2024-01", "1,000", 1, 10.0, "99%", 88, 5, 0, np.nan, 99]
    k_out.loc[len(k_out)] = [kpi.business_unit_id.iloc[0], "2024-13", "1,000", 1, 10.0, "99%", 88, 5, 0, np.nan, 99]
    p = out_dir / "经营指标月报.xlsx"
    # an Excel sheet holds 1,048,576 rows: at group scale the report comes as one sheet per year
    sheets = ({"月报": k_out} if len(k_out) < 1_000_000 else
              {f"{y}年": part for y, part in k_out.groupby(k_out["月份"].str[:4])})
    _write_xlsx(p, sheets, f"经营指标月报 — {title}")
    return p


def _industry_kpi_file(sim: dict, out_dir: Path, title: str) -> Path:
    """The KPI file of another industry: the profile's columns under their Chinese headers and units."""
    import catalogue

    kpi = sim["frames"]["kpi"]
    cols = {c["id"]: c for c in catalogue.profiles()[sim["profile"]].doc["column"]}
    out = {"业务单元编码": kpi.business_unit_id, "月份": kpi.month}
    for cid, c in cols.items():
        header = f"{c['zh']}（{c['unit']}）" if c.get("unit") and c["unit"] not in c["zh"] else c["zh"]
        values = kpi[cid]
        out[header] = values.map(lambda v: f"{v:.2f}%") if c["type"] == "percent" else (
            values.map(lambda v: f"{int(v):,}") if c["type"] == "count" else values)
    extra = [c for c in kpi.columns if c not in cols and c not in ("business_unit_id", "business_unit_name", "month")]
    for c in extra:
        out[c] = kpi[c]
    k_out = pd.DataFrame(out)
    bad = [["BU999", "2024-01"] + ["1"] * (len(k_out.columns) - 2),
           [kpi.business_unit_id.iloc[0], "2024-13"] + ["1"] * (len(k_out.columns) - 2)]
    k_out = pd.concat([k_out, pd.DataFrame(bad, columns=k_out.columns)], ignore_index=True)
    p = out_dir / "经营指标月报.xlsx"
    sheets = ({"月报": k_out} if len(k_out) < 1_000_000 else
              {f"{y}年": part for y, part in k_out.groupby(k_out["月份"].str[:4])})
    _write_xlsx(p, sheets, f"经营指标月报 — {title}")
    return p


def _bad_activity_rows(out: pd.DataFrame, year: int, gbk: bool) -> pd.DataFrame:
    """Four rows a loader must reject: unknown branch, impossible date, participants > expected, negative."""
    cols = list(out.columns)
    first = out.iloc[0].tolist()
    rows = []
    for change in ("unit", "date", "participants", "negative"):
        r = list(first)
        r[0] = f"BAD{year}{change[:3].upper()}"
        if change == "unit":
            r[1] = "不存在的党支部" if gbk else "X-NOPE"
        elif change == "date":
            r[2] = f"{year}年2月30日" if gbk else f"{year}/2/30"
        elif change == "participants":
            r[4], r[5] = 30, 20
        else:
            r[4] = -3
        rows.append(r)
    return pd.DataFrame(rows, columns=cols)
