"""Row validation as set-based SQL, generated from the contract.

`staging_sql(dataset)` turns the text table `raw_in` (one VARCHAR column per contract column, plus `_row`
and `_raw`; cells normalised by the reader) into `staged`: `_row`, typed columns, the resolved reference
and `reject_reason`, a sentence per problem in words a branch secretary can act on. Nothing here loops
over rows."""
from __future__ import annotations

from catalogue import Column, Dataset

TYPE_EXPR = {
    "code": "pb_text({c})",
    "text": "pb_text({c})",
    "date": "pb_date({c})",
    "datetime": "pb_timestamp({c})",
    "month": "pb_month({c})",
    "period": "pb_period({c})",
    "count": "pb_num({c})",
    "number": "pb_num({c})",
    "percent": "pb_num({c})",
    "score": "pb_num({c})",
    "flag": "pb_flag({c})",
}

FORMAT_HINT = {
    "date": "请填写如 2024-07-05 的日期",
    "datetime": "请填写如 2024-07-05 14:30 的时间",
    "month": "请填写如 2024-07 的月份",
    "period": "请填写 2024、2024H1 或 2024Q3",
    "count": "应为非负整数",
    "number": "应为非负数",
    "percent": "应为 0–100 之间的百分数",
    "score": "应为 0–100 之间的分数",
    "flag": "请填写 是 或 否",
}


RAW = "raw::"
DATE_FLOORS = {"event": " 2000 年", "history": " 1921 年 7 月", "plan": " 2000 年"}


def date_bounds(col: Column) -> tuple[str, str]:
    """SQL for the earliest and latest plausible day of a date column (contract `when`)."""
    import settings

    floor = "DATE '1921-07-01'" if col.when == "history" else "DATE '2000-01-01'"
    if col.when == "plan":
        return floor, "DATE '2100-12-31'"
    return floor, f"(current_date + INTERVAL {int(settings.future_days())} DAY)"  # prefix of the text columns `staged` carries beside the typed ones while validating


def q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _enum_expr(col: Column, c: str) -> str:
    whens = [f"WHEN {c} = {lit(v)} THEN {lit(v)}" for v in col.values]
    whens += [f"WHEN lower({c}) = {lit(e.lower())} THEN {lit(v)}" for v, e in zip(col.values, col.values_en)]
    return "CASE " + " ".join(whens) + " END"


def typed_expr(col: Column, text: str) -> str:
    """The typed value of a column from `text`, its cell already trimmed and NULL when empty."""
    if col.type == "enum":
        return _enum_expr(col, text)
    if col.type == "text":  # free text keeps its words, never an ID/phone/e-mail (etl/personal.py)
        return f"pb_mask({text})"
    if col.type in ("code", "unit_ref", "bu_ref"):
        return text
    return TYPE_EXPR[col.type].format(c=text)


def _checks(col: Column) -> list[tuple[str, str]]:
    """(condition that marks a bad row, SQL expression for the reason) for one column."""
    raw = f"p.{q(RAW + col.id)}"  # the cell as filled in (normalised: stripped, NULL when empty)
    val = f"p.{q(col.id)}"
    name = col.zh
    out = []
    if col.required and not col.either:
        out.append((f"{raw} IS NULL", lit(f"缺少必填项「{name}」")))
    if col.type in FORMAT_HINT:
        hint = FORMAT_HINT[col.type]
        out.append((f"{raw} IS NOT NULL AND {val} IS NULL", f"{lit(name + '「')} || {raw} || {lit('」无法识别，' + hint)}"))
    if col.type in ("date", "datetime", "month", "period"):
        day = f"pb_period_start({val})" if col.type == "period" else f"CAST({val} AS DATE)"
        floor, ceiling = date_bounds(col)
        out.append((f"{val} IS NOT NULL AND {day} < {floor}",
                    f"{lit(name + '「')} || {raw} || {lit('」早于' + DATE_FLOORS[col.when] + '，请核对年份')}"))
        out.append((f"{val} IS NOT NULL AND {day} > {ceiling}",
                    f"{lit(name + '「')} || {raw} || {lit('」' + ('晚于 2100 年' if col.when == 'plan' else '在未来') + '，请核对年份')}"))
    if col.type in ("count", "number", "percent", "score"):
        # "-0" too: a minus sign on a quantity that cannot be negative is a typo, not a zero
        out.append((f"{val} < 0 OR ({val} = 0 AND starts_with({raw}, '-'))", f"{lit(name + '不能为负数：')} || {raw}"))
    if col.type in ("count", "number"):  # a % sign belongs to a percentage, not to a head count
        out.append((f"{val} IS NOT NULL AND contains({raw}, '%')", f"{lit(name + '不应带百分号：')} || {raw}"))
    if col.type == "count":
        out.append((f"{val} >= 0 AND {val} <> floor({val})", f"{lit(name + '应为整数：')} || {raw}"))
        out.append((f"{val} > 1e9", f"{lit(name + '数值过大：')} || {raw}"))
    if col.type in ("percent", "score"):
        out.append((f"{val} > 100", f"{lit(name + '超出 0–100 范围：')} || {raw}"))
    if col.type == "enum":
        allowed = "、".join(col.values)
        out.append((f"{raw} IS NOT NULL AND {val} IS NULL",
                    f"{lit(name + '「')} || {raw} || {lit('」不在可选值中（' + allowed + '）')}"))
    return out


def _ref_join(ds: Dataset) -> tuple[str, str, list[tuple[str, str]]]:
    """Resolve unit/business-unit references: returns (select expression, joins, checks)."""
    refs = [c for c in ds.columns if c.type in ("unit_ref", "bu_ref")]
    if not refs:
        return "", "", []
    kind = refs[0].type
    by_id = next(c for c in refs if c.id.endswith("_id"))
    by_name = next((c for c in refs if c.id.endswith("_name")), None)
    if kind == "unit_ref":
        table = "(SELECT unit_id AS ref_id, unit_name AS ref_name, name_key FROM dim_units)"
        label = "组织"
        fix = "请先导入组织机构表，或核对组织编码/名称"
    else:
        table = ("(SELECT business_unit_id AS ref_id, any_value(business_unit_name) AS ref_name, "
                 "pb_name_key(any_value(business_unit_name)) AS name_key FROM dim_units "
                 "WHERE business_unit_id IS NOT NULL GROUP BY business_unit_id)")
        label = "业务单元"
        fix = "请先在组织机构表中登记业务单元，或核对业务单元编码/名称"
    joins = f" LEFT JOIN {table} AS r_id ON r_id.ref_id = p.{q(by_id.id)}"
    resolved = "r_id.ref_id"
    if by_name:  # names are normalised once per distinct name, not once per row
        names = (f"(SELECT n.given, u.ref_id FROM (SELECT DISTINCT {q(by_name.id)} AS given FROM raw_in) AS n "
                 f"JOIN {table} AS u ON u.name_key = pb_name_key(n.given))")
        joins += f" LEFT JOIN {names} AS r_nm ON r_nm.given = p.{q(by_name.id)}"
        resolved = "COALESCE(r_id.ref_id, r_nm.ref_id)"
    given = f"COALESCE(p.{q(by_id.id)}, p.{q(by_name.id)})" if by_name else f"p.{q(by_id.id)}"
    checks = [
        (f"{given} IS NULL", lit(f"缺少{label}编码或名称")),
        (f"{given} IS NOT NULL AND {resolved} IS NULL",
         f"{lit(label + '「')} || {given} || {lit('」不在组织机构表中，' + fix)}"),
    ]
    return f"{resolved} AS resolved_ref", joins, checks


def staging_sql(ds: Dataset) -> str:
    """Each cell is typed once (`p`) and the checks compare those values: the per-row work is a few casts
    and comparisons; the sentences are built for failing rows only. The cells of `raw_in` arrive as both
    readers leave them (normalize_cell: NFKC, stripped, NULL when empty), so they are not trimmed again."""
    cols = ds.columns
    as_filled = ",\n    ".join(f"{q(c.id)} AS {q(RAW + c.id)}" for c in cols)
    typed = ",\n    ".join(f"{typed_expr(c, q(RAW + c.id))} AS {q(c.id)}" for c in cols)
    ref_select, ref_joins, ref_checks = _ref_join(ds)
    checks = [chk for c in cols for chk in _checks(c)] + ref_checks
    if ds.id == "org_units":
        checks.append((
            "p.parent_id IS NOT NULL AND p.parent_id NOT IN (SELECT pb_text(unit_id) FROM raw_in WHERE unit_id IS NOT NULL) "
            "AND p.parent_id NOT IN (SELECT unit_id FROM dim_units)",
            "'上级组织编码「' || p.parent_id || '」在本文件和已有组织机构中都不存在'",
        ))
        checks.append(("p.org_level = '党支部' AND p.business_unit_id IS NULL",
                       lit("党支部必须填写业务单元编码，才能与经营指标关联")))
    # the sentence is built only for rows that fail a check (CASE evaluates its THEN on those rows only);
    # it quotes cells, so personal data in a cell is masked in it
    failed = " OR ".join(f"COALESCE({cond}, FALSE)" for cond, _ in checks)
    reason = "concat_ws('；', " + ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in checks) + ")"
    extra_select = f", {ref_select}" if ref_select else ""
    # staged keeps what the rules, keys and upserts read: not the text, not the references it resolved
    dropped = ", ".join([q(RAW + c.id) for c in cols] + [q(c.id) for c in cols if c.type in ("unit_ref", "bu_ref")])
    return f"""
CREATE OR REPLACE TEMP TABLE staged AS
WITH t AS (
  SELECT _row,
    {as_filled}
  FROM raw_in
), p AS (
  SELECT t.*,
    {typed}
  FROM t
)
SELECT p.* EXCLUDE ({dropped}){extra_select},
  CASE WHEN {failed} THEN pb_mask(NULLIF({reason}, '')) END AS reject_reason
FROM p{ref_joins}
"""


def rules_sql(ds: Dataset) -> str | None:
    """Cross-column rules from the contract (participants <= expected, end >= start ...), checked on the
    typed values; a value that did not parse is already rejected and does not trip a rule."""
    if not ds.rules:
        return None
    parts = ", ".join(f"CASE WHEN NOT COALESCE(({r.check}), TRUE) THEN {lit(r.reason_zh)} END" for r in ds.rules)
    failing = " OR ".join(f"NOT COALESCE(({r.check}), TRUE)" for r in ds.rules)  # rewrite those rows only
    return f"UPDATE staged SET reject_reason = NULLIF(concat_ws('；', reject_reason, {parts}), '') WHERE {failing}"


def _repeated_hashes(key_exprs: list[str]) -> str:
    part = ", ".join(key_exprs)
    return (f"SELECT h FROM (SELECT hash({part}) AS h FROM staged WHERE reject_reason IS NULL) "
            f"GROUP BY h HAVING count(*) > 1")


def duplicate_keys_sql(key_exprs: list[str]) -> str:
    """More than 0 when two accepted rows of `staged` may share a key: their 64-bit key hashes repeat
    (counting distinct integers, not strings). 0 proves there are no in-file duplicates, and duplicate_sql
    need not run; a hash collision only makes it run for nothing."""
    part = ", ".join(key_exprs)
    return f"SELECT count(*) - count(DISTINCT hash({part})) FROM staged WHERE reject_reason IS NULL"


def duplicate_sql(ds: Dataset, key_exprs: list[str]) -> str:
    """Within one file, a natural key seen twice keeps the later row and rejects the earlier one. Keys
    whose hash is seen more than once are found first (few), then the keys themselves are compared on
    those rows only."""
    part = ", ".join(key_exprs)
    keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(key_exprs))
    same = " AND ".join(f"d.k{i} IS NOT DISTINCT FROM {k}" for i, k in enumerate(key_exprs))
    if ds.id == "party_activities":  # without an id the key is the whole row: a repeat is a copy
        reason = ("'与本文件第 ' || d.last_row || ' 行完全相同（重复填写），只导入一行；"
                  "如确为两次活动，请填写活动编号或在活动主题中加以区分'")
    else:
        reason = f"'与本文件第 ' || d.last_row || ' 行重复（相同{_key_words(ds)}），以后者为准'"
    return f"""
UPDATE staged SET reject_reason = {reason}
FROM (
  SELECT {keys}, max(_row) AS last_row
  FROM staged WHERE reject_reason IS NULL AND hash({part}) IN ({_repeated_hashes(key_exprs)})
  GROUP BY {part} HAVING count(*) > 1
) AS d
WHERE staged.reject_reason IS NULL AND {same} AND staged._row < d.last_row
"""


def _key_words(ds: Dataset) -> str:
    words = {
        "party_activities": "活动编号，或无编号时的全部内容",
        "membership": "组织和月份",
        "assessments": "组织和考核周期",
        "kpi_monthly": "业务单元和月份",
    }
    return words.get(ds.id, "编号")


# --- a scoped data steward's upload (README "Sign-in … data permissions") -------------------------------

SCOPE_TABLE = """CREATE OR REPLACE TEMP TABLE upload_scope AS
WITH RECURSIVE sub(unit_id) AS (
    SELECT unit_id FROM dim_units WHERE list_contains(?, unit_id) OR list_contains(?, business_unit_id)
    UNION
    SELECT u.unit_id FROM dim_units AS u JOIN sub ON u.parent_id = sub.unit_id)
SELECT u.unit_id, u.business_unit_id, u.parent_id, list_contains(?, u.unit_id) AS is_root
FROM dim_units AS u JOIN sub USING (unit_id)"""
# the business units a scope grants: those of the units beneath its nodes (as the dashboard reads them)
SCOPE_BUS = "(SELECT business_unit_id FROM upload_scope WHERE business_unit_id IS NOT NULL)"


def scope_sql(ds: Dataset, nodes: list[str]) -> str | None:
    """Reject the accepted rows of `staged` that lie outside a scoped steward's part of the organisation
    tree, naming the unit and the scope. Branch-level rows: the branch's business unit must be one the scope
    grants (or the branch lies beneath a scope node). Business-unit rows: the business unit must be granted.
    Organisation rows: a unit inside the subtree may be corrected and a unit added beneath it, but a scope
    node is not moved, and a unit joins only a business unit the scope grants or a new one."""
    where = lit("、".join(nodes))
    why = f"'该行的单位「' || {{unit}} || '」不在您的数据权限范围（' || {where} || '）内，只能导入您所辖单位的数据。(outside your scope)'"
    refs = {c.type for c in ds.columns}
    if ds.id == "org_units":
        outside = f"""(unit_id NOT IN (SELECT unit_id FROM upload_scope)
                        AND (parent_id IS NULL OR parent_id NOT IN (SELECT unit_id FROM upload_scope)))
                   OR unit_id IN (SELECT unit_id FROM upload_scope WHERE is_root AND parent_id IS DISTINCT FROM staged.parent_id)
                   OR (business_unit_id NOT IN {SCOPE_BUS}
                       AND business_unit_id IN (SELECT business_unit_id FROM dim_units WHERE business_unit_id IS NOT NULL))"""
        unit = "unit_id"
    elif "unit_ref" in refs:
        outside = f"""resolved_ref NOT IN (SELECT unit_id FROM upload_scope)
                   AND resolved_ref NOT IN (SELECT unit_id FROM dim_units WHERE business_unit_id IN {SCOPE_BUS})"""
        unit = "resolved_ref"
    elif "bu_ref" in refs:
        outside = f"resolved_ref NOT IN {SCOPE_BUS}"
        unit = "resolved_ref"
    else:
        return None
    return (f"UPDATE staged SET reject_reason = {why.format(unit=unit)} "
            f"WHERE reject_reason IS NULL AND ({outside})")
