"""The DuckDB warehouse: connecting, creating the schema, refreshing the analysis panels.

panel_month and panel_quarter are tables generated from the metric catalogue: each metric's `month`
expression is evaluated on panel_month_base, its `quarter` aggregate over the quarter's months. They are
rebuilt once at the end of every load command, in the private working copy that etl/publish.py then swaps
in whole, so a reader never sees a panel out of step with the fact tables."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

import settings
from catalogue import metrics

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
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute(sql_file("macros.sql"))
    return con


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(sql_file("schema.sql"))
    con.execute(sql_file("views.sql"))
    if not _table_exists(con, "panel_month"):
        refresh_panels(con)


def _table_exists(con, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_type = 'BASE TABLE'", [name]
    ).fetchall()[0][0])


def panel_sql(base: str = "panel_month_base") -> tuple[str, str]:
    ms = metrics().values()
    month_cols = ",\n  ".join(f"{m.month} AS {m.id}" for m in ms)
    quarter_cols = ",\n  ".join(f"{m.quarter} AS {m.id}" for m in ms)
    month = f"""
CREATE OR REPLACE TABLE panel_month AS
SELECT b.business_unit_id, {UNIT_ATTRS}, b.month AS period_start, strftime(b.month, '%Y-%m') AS period,
  {month_cols}
FROM {base} AS b JOIN dim_business_units AS bu USING (business_unit_id)
ORDER BY b.business_unit_id, b.month"""
    quarter = f"""
CREATE OR REPLACE TABLE panel_quarter AS
SELECT b.business_unit_id, any_value(bu.business_unit_name) AS business_unit_name,
  any_value(bu.unit_type) AS unit_type, any_value(bu.region) AS region,
  CAST(date_trunc('quarter', b.month) AS DATE) AS period_start,
  strftime(date_trunc('quarter', b.month), '%Y') || 'Q' || quarter(b.month) AS period,
  {quarter_cols}
FROM {base} AS b JOIN dim_business_units AS bu USING (business_unit_id)
GROUP BY b.business_unit_id, date_trunc('quarter', b.month), quarter(b.month)
ORDER BY b.business_unit_id, period_start"""
    return month, quarter


def refresh_panels(con: duckdb.DuckDBPyConnection) -> None:
    # both panels read the base sums (an aggregation over every fact row): evaluate the view once
    con.execute("CREATE OR REPLACE TEMP TABLE panel_base_once AS SELECT * FROM panel_month_base")
    month, quarter = panel_sql("panel_base_once")
    con.execute(month)
    con.execute(quarter)
    con.execute("DROP TABLE panel_base_once")


def set_meta(con, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])


def get_meta(con, key: str, default: str | None = None) -> str | None:
    rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else default
