"""The DuckDB warehouse: connecting, creating the schema, refreshing the analysis panels.

panel_month and panel_quarter are tables generated from the metric catalogue: each metric's `month`
expression is evaluated on panel_month_base, its `quarter` aggregate over the quarter's months. They are
rebuilt once at the end of every load command, in the private working copy that etl/publish.py then swaps
in whole, so a reader never sees a panel out of step with the fact tables."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb

import catalogue
import settings
from catalogue import kpi_columns, metrics
from etl import engine, personal

SQL_DIR = Path(__file__).parent / "sql"
UNIT_ATTRS = "bu.business_unit_name, bu.unit_type, bu.region"


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def connect(path: str | os.PathLike, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    # DuckDB would take 80% of RAM; a bound makes big loads spill to disk (beside the warehouse) instead
    config = {"memory_limit": settings.duckdb_memory()}
    if not read_only:
        config["temp_directory"] = str(path.parent / ".duckdb_tmp")
    con = engine.connect(path, read_only=read_only, config=config)
    con.execute(sql_file("macros.sql"))
    con.execute(personal.macros_sql())
    activate_catalogue(con)
    return con


def catalogue_of(con) -> tuple[str | None, list[dict]]:
    """The industry profile a warehouse records and the metrics defined in it; (None, []) for a new file
    (its profile is PBKPI_PROFILE's until init_schema records it)."""
    try:
        profile = get_meta(con, "profile")
    except duckdb.CatalogException:
        return None, []
    try:
        bodies = [json.loads(b) for (b,) in con.execute("SELECT body FROM catalogue_metric ORDER BY saved_at, id").fetchall()]
    except duckdb.CatalogException:  # a warehouse from before defined metrics
        bodies = []
    return profile or ("power" if _table_exists(con, "etl_loads") else None), bodies


def activate_catalogue(con) -> None:
    """Make this warehouse's catalogue (profile + defined metrics) the process's (catalogue.activate)."""
    catalogue.activate(*catalogue_of(con))


def init_schema(con: duckdb.DuckDBPyConnection, profile: str | None = None) -> None:
    """Create what is missing and migrate an older warehouse (etl/migrations.py); refuse a newer one. A new
    warehouse records the industry profile it is created with (PBKPI_PROFILE or `etl demo --profile`)."""
    from etl import migrations

    version = migrations.check_writable(con)
    con.execute(sql_file("schema.sql"))
    migrations.migrate(con, version)
    if get_meta(con, "profile") is None:
        set_meta(con, "profile", profile or catalogue.active_key()[0])
    elif profile and get_meta(con, "profile") != profile:
        raise ValueError(f"仓库的行业配置是「{get_meta(con, 'profile')}」，不能改为「{profile}」。(a warehouse keeps its profile)")
    activate_catalogue(con)
    con.execute(sql_file("views.sql"))
    if not _table_exists(con, "panel_month"):
        refresh_panels(con)


def _table_exists(con, name: str, kind: str = "BASE TABLE") -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = ?", [name, kind]
    ).fetchall()[0][0])


def custom_headers(con) -> dict[str, list[str]]:
    """For each KPI file column kept by header (catalogue.kpi_columns), the headers loaded under it: any
    header that normalises (etl/contract.py) to its id, Chinese or English name or an alias — so a column
    loaded before its definition existed is read once it is defined."""
    from etl.contract import header_names, normalize_header

    cols = kpi_columns()
    if not cols:
        return {}
    raw = [r for (r,) in con.execute("SELECT DISTINCT metric FROM fct_kpi_custom ORDER BY 1").fetchall()]
    return {c.id: [r for r in raw if normalize_header(r) in header_names(c)] for c in cols}


def _with_custom(base: str, custom: dict[str, list[str]]) -> str:
    """The base table with one column per KPI file column kept by header (their months' values)."""
    if not custom:
        return base
    from etl.validate import lit

    pivot = ", ".join(
        (f"max(value) FILTER (WHERE metric IN ({', '.join(lit(n) for n in names)}))" if names else "CAST(NULL AS DOUBLE)")
        + f" AS {cid}" for cid, names in custom.items())
    return (f"(SELECT b0.*, cu.* EXCLUDE (business_unit_id, month) FROM {base} AS b0 LEFT JOIN "
            f"(SELECT business_unit_id, month, {pivot} FROM fct_kpi_custom GROUP BY ALL) AS cu "
            f"USING (business_unit_id, month))")


def panel_sql(base: str = "panel_month_base", custom: dict[str, list[str]] | None = None) -> tuple[str, str]:
    """The SELECTs of panel_month and panel_quarter over a base table (panel_month_base's columns), with
    the KPI file columns kept by header joined in (`custom`: custom_headers)."""
    base = _with_custom(base, custom or {})
    ms = metrics().values()
    month_cols = ",\n  ".join(f"{m.month} AS {m.id}" for m in ms)
    quarter_cols = ",\n  ".join(f"{m.quarter} AS {m.id}" for m in ms)
    month = f"""
SELECT b.business_unit_id, {UNIT_ATTRS}, b.month AS period_start, strftime(b.month, '%Y-%m') AS period,
  {month_cols}
FROM {base} AS b JOIN dim_business_units AS bu USING (business_unit_id)
ORDER BY b.business_unit_id, b.month"""
    quarter = f"""
SELECT b.business_unit_id, any_value(bu.business_unit_name) AS business_unit_name,
  any_value(bu.unit_type) AS unit_type, any_value(bu.region) AS region,
  CAST(date_trunc('quarter', b.month) AS DATE) AS period_start,
  strftime(date_trunc('quarter', b.month), '%Y') || 'Q' || quarter(b.month) AS period,
  {quarter_cols}
FROM {base} AS b JOIN dim_business_units AS bu USING (business_unit_id)
GROUP BY b.business_unit_id, date_trunc('quarter', b.month), quarter(b.month)
ORDER BY b.business_unit_id, period_start"""
    return month, quarter


# What every panel row depends on beyond its own months (etl/sql/views.sql, panel_base_window): the
# data's month range and the range of activity reporting, which business units report activities or
# outages at all, the major-event switch and the panel definition itself. Kept in meta after each
# refresh; a load that changes any of the last four refreshes the panels whole, a change of the ranges
# adds the months between the old and new bounds. Each unit's own activity reporting span (panel_act_span:
# inside it a month without activities counts 0, outside it is missing) is kept in panel_act_span_kept; a
# unit whose span moved adds the months between its old and new bounds.
STATE_SQL = """
WITH act AS (SELECT min(month) AS lo, max(month) AS hi FROM agg_activities_month),
     data AS (SELECT min(m) AS lo, max(m) AS hi FROM (
                SELECT min(month) AS m FROM fct_membership UNION ALL SELECT max(month) FROM fct_membership
                UNION ALL SELECT min(month) FROM fct_kpi_monthly UNION ALL SELECT max(month) FROM fct_kpi_monthly
                UNION ALL SELECT lo FROM act UNION ALL SELECT hi FROM act))
SELECT CAST(data.lo AS VARCHAR), CAST(data.hi AS VARCHAR), CAST(act.lo AS VARCHAR), CAST(act.hi AS VARCHAR),
  (SELECT count(*) || ':' || CAST(sum(hash(business_unit_id)) AS VARCHAR) FROM panel_act_span),
  (SELECT count(*) || ':' || CAST(sum(hash(business_unit_id)) AS VARCHAR) FROM (
     SELECT DISTINCT business_unit_id FROM fct_outages)),
  (SELECT value FROM meta WHERE key = 'exclude_major_events')
FROM data, act"""
WHOLE_PANEL_SHARE = 0.5  # a window over more than this share of the months: refresh whole (same cost)


def definition(con) -> str:
    """Changes with the SQL of the aggregates and panels, with the metric catalogue and with the headers
    the KPI file columns kept by header are read from."""
    month, quarter = panel_sql("b", custom_headers(con))
    return hashlib.sha256((sql_file("views.sql") + month + quarter).encode()).hexdigest()[:16]


# (table, macro over a month window, the loaded dataset whose touched months it must recompute)
AGGREGATES = [("agg_activities_month", "agg_activities_window", "party_activities"),
              ("agg_outages_month", "agg_outages_window", "outages")]


def refresh_aggregates(con, whole: bool) -> None:
    """The month aggregates of activities and outages: rebuilt from every fact row, or recomputed for the
    months the loads since the last refresh touched (panel_touched)."""
    for table, macro, dataset in AGGREGATES:
        if whole or not _table_exists(con, table):
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {macro}(DATE '0001-01-01', DATE '9999-12-01')")
            continue
        if not _table_exists(con, "panel_touched", "LOCAL TEMPORARY"):
            continue
        lo, hi = con.execute("SELECT min(lo), max(hi) FROM panel_touched WHERE dataset = ?", [dataset]).fetchall()[0]
        if lo is not None:
            con.execute(f"DELETE FROM {table} WHERE month BETWEEN ? AND ?", [lo, hi])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {macro}(?, ?)", [lo, hi])


SPAN_CHANGE_SQL = """
WITH d AS (
  SELECT n.lo, n.hi, o.lo AS olo, o.hi AS ohi
  FROM panel_act_span AS n JOIN panel_act_span_kept AS o USING (business_unit_id)
  WHERE n.lo <> o.lo OR n.hi <> o.hi)
SELECT CAST(min(m) AS VARCHAR), CAST(max(x) AS VARCHAR) FROM (
  SELECT least(lo, olo) AS m, greatest(lo, olo) - INTERVAL 1 MONTH AS x FROM d WHERE lo <> olo
  UNION ALL
  SELECT least(hi, ohi) + INTERVAL 1 MONTH, greatest(hi, ohi) FROM d WHERE hi <> ohi)"""


def _span_change(con) -> tuple[str | None, str | None] | None:
    """First and last month whose activity counts changed between missing and 0 because a unit's reporting
    span moved since the last refresh; None when no span was kept (refresh whole)."""
    if not _table_exists(con, "panel_act_span_kept"):
        return None
    lo, hi = con.execute(SPAN_CHANGE_SQL).fetchall()[0]
    return (lo[:10] if lo else None), (hi[:10] if hi else None)


def panel_state(con) -> dict:
    row = con.execute(STATE_SQL).fetchall()[0]
    return {"data_lo": row[0], "data_hi": row[1], "act_lo": row[2], "act_hi": row[3], "act_units": row[4],
            "outage_units": row[5], "exclude_major_events": row[6], "definition": definition(con)}


def _touched(con) -> tuple[bool, str | None, str | None]:
    """(every month, first, last) the loads since the last refresh touched (etl/upserts.py)."""
    if not _table_exists(con, "panel_touched", "LOCAL TEMPORARY"):
        return False, None, None
    every, lo, hi = con.execute("SELECT bool_or(every_month), CAST(min(lo) AS VARCHAR), CAST(max(hi) AS VARCHAR) "
                                "FROM panel_touched").fetchall()[0]
    return bool(every), lo, hi


def _add_month(day: str, n: int) -> str:
    y, m = divmod(int(day[:4]) * 12 + int(day[5:7]) - 1 + n, 12)
    return f"{y:04d}-{m + 1:02d}-01"


def refresh_window(con, old: dict | None, new: dict) -> tuple[str, str] | str | None:
    """The months (first, last; whole quarters) a refresh must recompute after loads; "none" when nothing
    changed, None when the panels must be refreshed whole."""
    every, lo, hi = _touched(con)
    span = _span_change(con)
    if every or old is None or span is None or new["data_lo"] is None or any(
            old.get(k) != new[k] for k in ("act_units", "outage_units", "exclude_major_events", "definition")):
        return None
    los, his = [lo] if lo else [], [hi] if hi else []
    if span[0]:
        los.append(span[0])
        his.append(span[1])
    for k in ("data_lo", "data_hi", "act_lo", "act_hi"):
        a, b = old.get(k), new[k]
        if a == b:
            continue
        if a is None or b is None:
            los.append(a or b)
            his.append(a or b)
        elif k.endswith("_lo"):  # months from the earlier first month up to the later one (excluded) changed
            los.append(min(a, b))
            his.append(_add_month(max(a, b), -1))
        else:  # months after the earlier last month up to the later one
            los.append(_add_month(min(a, b), 1))
            his.append(max(a, b))
    if not los:
        return "none"
    span_lo = min(x for x in (old["data_lo"], new["data_lo"]) if x)
    span_hi = max(x for x in (old["data_hi"], new["data_hi"]) if x)
    lo, hi = max(min(los), span_lo), min(max(his), span_hi)
    if lo > hi:  # e.g. an initiative that starts after the last month of data: no panel row changes
        return "none"
    lo_q, hi_q = con.execute(
        "SELECT CAST(date_trunc('quarter', ?::DATE) AS DATE)::VARCHAR, "
        "CAST(date_trunc('quarter', ?::DATE) + INTERVAL 2 MONTH AS DATE)::VARCHAR", [lo, hi]).fetchall()[0]
    months = con.execute("SELECT date_diff('month', ?::DATE, ?::DATE) + 1, date_diff('month', ?::DATE, ?::DATE) + 1",
                         [lo_q, hi_q, span_lo, span_hi]).fetchall()[0]
    if months[0] > WHOLE_PANEL_SHARE * months[1]:
        return None
    return lo_q, hi_q


def refresh_panels(con: duckdb.DuckDBPyConnection, incremental: bool = False, from_facts: bool = False) -> str:
    """Rebuild panel_month and panel_quarter; with incremental, recompute only the months the loads since
    the last refresh touched (refresh_window) when nothing global changed. The month aggregates are
    brought up to date first (rebuilt from every fact row with from_facts, or when their definition
    changed). Returns what was done: "whole", "none" or "YYYY-MM-DD..YYYY-MM-DD". Either way the panels
    equal a rebuild from the fact tables (property-tested)."""
    old = json.loads(get_meta(con, "panel_state") or "null") if _table_exists(con, "panel_month") else None
    refresh_aggregates(con, whole=from_facts or old is None or old.get("definition") != definition(con))
    new = panel_state(con)
    window = refresh_window(con, old, new) if incremental else None
    # both panels read the base sums (an aggregation over the fact rows): evaluate them once
    if window is None:
        con.execute("CREATE OR REPLACE TEMP TABLE panel_base_once AS SELECT * FROM panel_month_base")
        month, quarter = panel_sql("panel_base_once", custom_headers(con))
        con.execute("CREATE OR REPLACE TABLE panel_month AS " + month)
        con.execute("CREATE OR REPLACE TABLE panel_quarter AS " + quarter)
        done = "whole"
    elif window == "none":
        done = "none"
    else:
        lo, hi = window
        con.execute("CREATE OR REPLACE TEMP TABLE panel_base_once AS SELECT * FROM panel_base_window(?::DATE, ?::DATE)",
                    [lo, hi])
        month, quarter = panel_sql("panel_base_once", custom_headers(con))
        for table, select in (("panel_month", month), ("panel_quarter", quarter)):
            con.execute(f"DELETE FROM {table} WHERE period_start BETWEEN ?::DATE AND ?::DATE", [lo, hi])
            con.execute(f"INSERT INTO {table} BY NAME " + select)
        done = f"{lo}..{hi}"
    con.execute("DROP TABLE IF EXISTS panel_base_once")
    con.execute("DROP TABLE IF EXISTS panel_touched")
    con.execute("CREATE OR REPLACE TABLE panel_act_span_kept AS SELECT * FROM panel_act_span")
    set_meta(con, "panel_state", json.dumps(new))
    return done


def republish(db: Path, change=None) -> None:
    """Change a published warehouse the way a load does: under the writer lock in a private copy,
    `change(con)` in one transaction, the catalogue the warehouse now records made active, the panels
    refreshed, then one atomic replace (etl/publish.py). Nobody sees the change half made."""
    from etl import publish

    with publish.working_copy(db) as work:
        con = connect(work)
        try:
            init_schema(con)
            con.execute("BEGIN TRANSACTION")
            if change is not None:
                change(con)
            activate_catalogue(con)
            refresh_panels(con)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()


def set_meta(con, key: str, value: str) -> None:
    # delete + insert rather than INSERT OR REPLACE: a lake's meta has no primary key (etl/lake.py)
    con.execute("DELETE FROM meta WHERE key = ?", [key])
    con.execute("INSERT INTO meta VALUES (?, ?)", [key, value])


def get_meta(con, key: str, default: str | None = None) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else default
