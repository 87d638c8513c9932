"""What the warehouse holds: tables, row counts, date coverage, last loads."""
from __future__ import annotations

from catalogue import datasets
from etl.warehouse import get_meta

COVERAGE = {
    "dim_units": None,
    "fct_activities": "date",
    "fct_membership": "month",
    "fct_initiatives": "start",
    "fct_assessments": "period_start",
    "fct_outages": "start",
    "fct_kpi_monthly": "month",
    "fct_kpi_custom": "month",
    "panel_month": "period_start",
    "panel_quarter": "period_start",
    "etl_rejects": None,
}


def warehouse_status(con) -> dict:
    tables = []
    for table, col in COVERAGE.items():
        if col:
            n, lo, hi = con.execute(f"SELECT count(*), min({col}), max({col}) FROM {table}").fetchall()[0]
        else:
            n, lo, hi = con.execute(f"SELECT count(*), NULL, NULL FROM {table}").fetchall()[0]
        tables.append({"table": table, "rows": n, "from": str(lo) if lo else None, "to": str(hi) if hi else None})
    loads = con.execute(
        "SELECT load_id, file_name, kind, rows_loaded, rows_rejected, rows_skipped, "
        "strftime(loaded_at, '%Y-%m-%d %H:%M:%S') FROM etl_loads ORDER BY load_id DESC LIMIT 10"
    ).fetchall()
    return {
        "synthetic_demo": get_meta(con, "synthetic_demo") == "true",
        "tables": tables,
        "last_loads": [
            dict(zip(["load_id", "file", "kind", "rows_loaded", "rows_rejected", "rows_skipped", "loaded_at"], r))
            for r in loads
        ],
        "datasets": {d.id: d.table for d in datasets().values()},
    }


def format_status(st: dict) -> str:
    lines = []
    if st["synthetic_demo"]:
        lines.append("注意：当前仓库为合成演示数据（synthetic demo data），不代表任何真实单位。")
    lines.append(f"{'table':<18}{'rows':>12}  from        to")
    for t in st["tables"]:
        lines.append(f"{t['table']:<18}{t['rows']:>12,}  {t['from'] or '':<11} {t['to'] or ''}")
    lines.append("")
    lines.append("最近导入 last loads:")
    for ld in st["last_loads"]:
        lines.append(f"  #{ld['load_id']} {ld['loaded_at']} {ld['file']} [{ld['kind']}] "
                     f"loaded={ld['rows_loaded']} rejected={ld['rows_rejected']} skipped={ld['rows_skipped']}")
    return "\n".join(lines)
