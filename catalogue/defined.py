"""Metrics defined as data: the short form a profile file or an administrator writes, expanded into the
catalogue's full form (a month expression and a quarter aggregate over the panel's base columns, a
company roll-up rule and a plain-language definition).

A short-form metric names a `kind` and the KPI file columns it reads (kpi_columns(): kept by header in
fct_kpi_custom, pivoted into base columns named by their ids):

  total  a flow that adds up: months sum, business units sum                       (产油量, 安全事件)
  stock  a count that exists at a time: months average, business units sum         (油井总数, 在岗人数)
  level  a rate or score reported as such: months average, units averaged, or
         weighted by the metric named in `weight`                                   (综合含水率, 检泵周期)
  ratio  per × numerator / denominator: sums over months and units on both sides,
         so the company figure is the ratio of the totals                           (躺井率 = 躺井数 / 油井总数)

The SQL is generated here from identifiers that `check_definition` accepts, never from free text, so a
definition saved through the app cannot inject SQL. Definitions saved in the app are stored in the
warehouse (etl/definitions.py); the same bodies arrive here through catalogue.activate."""
from __future__ import annotations

import re

IDENT = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
KINDS = ("total", "stock", "level", "ratio")
ROLES = ("kpi", "input", "context")
DIRECTIONS = ("higher", "lower", "none")
# the base columns the panels already have (etl/sql/views.sql panel_base_window): a column or metric id
# must not shadow one of them
BASE_COLUMNS = frozenset({
    "business_unit_id", "business_unit_name", "unit_type", "region", "month", "period", "period_start",
    "n_meetings", "n_theme_days", "n_study_sessions", "n_activities", "sum_participants", "sum_expected",
    "sum_person_hours", "n_meetings_required", "members", "probationary", "new_members", "pioneer_posts",
    "responsibility_areas", "commando_teams", "study_hours_x_members", "proposals", "proposals_adopted",
    "secretary_projects_active", "demo_site", "pb_score_x_members", "pb_score_members", "customers",
    "complaints", "sales_mwh", "bill_recovery", "satisfaction", "line_loss", "safety_violations",
    "rs1_reported", "has_outage_records", "customer_hours", "customers_interrupted", "n_outages",
    "hours_in_period", "unit", "t",
})


def expand(m: dict) -> dict:
    """A metric in the catalogue's full form (a full-form metric is returned as it is)."""
    if "kind" not in m:
        return m
    m = dict(m)
    kind = m.pop("kind")
    col, num, den = m.pop("column", None), m.pop("numerator", None), m.pop("denominator", None)
    per = float(m.pop("per", 1))
    weight = m.pop("weight", None)
    m.setdefault("reported_by", ["kpi"])
    m.setdefault("unit_zh", "")
    m.setdefault("unit_en", "")
    m.setdefault("decimals", 1)
    if kind == "total":
        m.update(month=col, quarter=f"SUM({col})", rollup="sum")
        m.setdefault("aggregation", "months sum; business units sum")
    elif kind == "stock":
        m.update(month=col, quarter=f"AVG({col})", rollup="sum")
        m.setdefault("aggregation", "months average; business units sum")
    elif kind == "level":
        m.update(month=col, quarter=f"AVG({col})", rollup=f"wmean:{weight}" if weight else "mean")
        m.setdefault("aggregation", "months average; business units " + (f"weighted by {weight}" if weight else "averaged"))
    elif kind == "ratio":
        k = f"{per:g}"
        m.update(month=f"{k} * {num} / NULLIF({den}, 0)", quarter=f"{k} * SUM({num}) / NULLIF(SUM({den}), 0)",
                 rollup=f"wmean:{weight}" if weight else "mean")
        m.setdefault("aggregation", f"{'' if per == 1 else k + ' × '}{num} / {den}; totals over months"
                     + (f", business units weighted by {weight}" if weight else ""))
    else:
        raise ValueError(f"catalogue: metric {m.get('id')} has kind {kind!r}; use one of {', '.join(KINDS)}")
    return m


def definition_from_form(mid: str, kind: str, header: str, denominator: str = "", per: float = 1.0,
                         weight: str = "", zh: str = "", en: str = "", unit_zh: str = "", unit_en: str = "",
                         role: str = "kpi", direction: str = "higher", decimals: int = 1, index: bool = False,
                         scales_with: str = "", valid_min: str = "", valid_max: str = "") -> dict:
    """A definition {"metric", "columns"} from what the Data page's form holds: the source header (a ratio's
    numerator) and, for a ratio, the denominator's header, each becoming a column named after the metric.
    Raises ValueError(text) when a bound is not a number; check_definition judges the rest."""
    cid = (mid or "").strip()
    cols = [{"id": cid if kind != "ratio" else f"{cid}_num", "zh": header, "en": header}]
    m = {"id": cid, "kind": kind, "zh": zh.strip(), "en": en.strip(), "unit_zh": unit_zh.strip(),
         "unit_en": unit_en.strip(), "role": role, "direction": direction, "decimals": int(decimals)}
    if kind == "ratio":
        cols.append({"id": f"{cid}_den", "zh": denominator, "en": denominator})
        m.update(numerator=f"{cid}_num", denominator=f"{cid}_den", per=float(per))
    else:
        m["column"] = cid
    if weight:
        m["weight"] = weight
    if index and role == "kpi":
        m["index"] = "biz"
    if scales_with:
        m["scales_with"] = scales_with
    for key, text in (("valid_min", valid_min), ("valid_max", valid_max)):
        if str(text).strip():
            try:
                m[key] = float(str(text).replace(",", ""))
            except ValueError:
                raise ValueError(text) from None
    return {"metric": m, "columns": cols}


def check_columns(cols) -> None:
    seen = set()
    for c in cols:
        if not IDENT.match(c.id) or c.id in BASE_COLUMNS or c.id in seen:
            raise ValueError(f"catalogue: KPI column id {c.id!r} must be new, lower case letters, digits and _")
        seen.add(c.id)


def check_references(out: dict) -> None:
    """Every weight a roll-up names and every `scales_with` is a metric of the catalogue."""
    for m in out.values():
        w = m.rollup.split(":", 1)[1] if m.rollup.startswith("wmean:") else None
        for ref in (w, m.scales_with, m.rate):
            if ref is not None and ref not in out:
                raise ValueError(f"catalogue: metric {m.id} refers to {ref!r}, which is not a metric")


def check_definition(body: dict, metric_ids: set[str], column_ids: set[str]) -> list[tuple[str, str]]:
    """What is wrong with an administrator's definition {"metric": short form, "columns": [...]}, as
    (Chinese, English) sentences a person can act on; [] when it can be saved. `metric_ids` and
    `column_ids` are those of the catalogue without this definition (redefining one replaces it)."""
    errs: list[tuple[str, str]] = []
    m, cols = body.get("metric", {}), body.get("columns", [])
    mid = m.get("id", "")
    if not IDENT.match(mid or "") or mid in BASE_COLUMNS:
        errs.append(("指标编码须以小写字母开头，只含小写字母、数字和下划线（2–40 个字符），且不能与系统字段重名。",
                     "The metric id must start with a lower-case letter and hold only a-z, 0-9 and _ (2–40 characters), and not be a system field."))
    elif mid in metric_ids:
        errs.append((f"指标编码 {mid} 已被使用。", f"The metric id {mid} is taken."))
    if not str(m.get("zh", "")).strip() or not str(m.get("en", "")).strip():
        errs.append(("请填写中文名和英文名。", "Give the Chinese and the English name."))
    if m.get("kind") not in KINDS:
        errs.append(("请选择口径（合计、时点数、水平值或比率）。", "Choose how it adds up (total, stock, level or ratio)."))
    if m.get("role") not in ROLES or m.get("direction") not in DIRECTIONS:
        errs.append(("请选择指标类别和改善方向。", "Choose the role and the better direction."))
    names = set()
    for c in cols:
        if not IDENT.match(c.get("id", "")) or c["id"] in BASE_COLUMNS or c["id"] in column_ids:
            errs.append((f"列编码 {c.get('id')} 不可用。", f"The column id {c.get('id')} cannot be used."))
        if not str(c.get("zh", "")).strip():
            errs.append(("请选择数据来源列（经营指标文件中的表头）。", "Choose the source column (a header of the KPI file)."))
        names.add(c.get("id"))
    needed = [m.get("numerator"), m.get("denominator")] if m.get("kind") == "ratio" else [m.get("column")]
    if any(n not in names for n in needed):
        errs.append(("来源列不完整：比率需要分子列和分母列，其他口径需要一列。",
                     "Source columns incomplete: a ratio needs a numerator and a denominator column, the others one column."))
    w = m.get("weight")
    if w and w not in metric_ids:
        errs.append((f"加权指标 {w} 不存在。", f"The weighting metric {w} does not exist."))
    lo, hi = m.get("valid_min"), m.get("valid_max")
    if lo is not None and hi is not None and lo >= hi:
        errs.append(("取值范围的下限须小于上限。", "The lower bound must be below the upper bound."))
    return errs
