"""The warehouse's schema version and the migrations that bring an older warehouse up to it.

The version is kept in `meta.schema_version`. A warehouse written before versioning has none and counts
as version 1. A loader refuses a warehouse from a newer version of this program (it would write rows the
newer schema does not expect); an older one is migrated in the private working copy a load, `refresh` or
`migrate` command publishes, so nobody sees it half-migrated."""
from __future__ import annotations

import logging

import duckdb

from catalogue import datasets
from etl.errors import SchemaTooNew
from etl.personal import is_personal_header
from etl.validate import q

SCHEMA_VERSION = 4
log = logging.getLogger(__name__)


def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version a warehouse was written with; None for an empty database."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    if "meta" not in tables:
        return None if "etl_loads" not in tables else 1
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    if rows:
        return int(rows[0][0])
    return 1 if "etl_loads" in tables else None


def check_writable(con: duckdb.DuckDBPyConnection) -> int | None:
    """The stored version, after refusing a warehouse written by a newer version of this program."""
    version = stored_version(con)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"仓库由更新版本的 PB-KPI Lens 写入（结构版本 {version}，本程序支持到 {SCHEMA_VERSION}），"
            f"为避免损坏数据未作任何修改。请升级本程序后再导入。"
            f"(warehouse schema {version} is newer than this program's {SCHEMA_VERSION}; upgrade first)")
    return version


def migrate(con: duckdb.DuckDBPyConnection, from_version: int | None) -> None:
    """Bring a warehouse whose tables exist (schema.sql ran) from `from_version` to SCHEMA_VERSION."""
    if from_version is not None and from_version < 2:
        _forget_personal_data(con)
    if from_version is not None and from_version < 3:  # a load's size, duration and mapping profile
        for col, kind in (("file_bytes", "BIGINT"), ("seconds", "DOUBLE"), ("mapping", "VARCHAR")):
            con.execute(f"ALTER TABLE etl_loads ADD COLUMN IF NOT EXISTS {col} {kind}")
    if from_version is not None and from_version < 4:  # industry profiles: everything before them was power supply
        con.execute("INSERT OR IGNORE INTO meta VALUES ('profile', 'power')")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])


def _forget_personal_data(con: duckdb.DuckDBPyConnection) -> None:
    """Version 2: personal data is never stored. Before it, a rejected row's text held every cell of the
    row, personal columns included; which cells those were is no longer known, so the text goes (the row
    number and reason stay). Reasons and free text are masked; custom KPI columns named like personal
    data, or holding values shaped like ID or phone numbers, are deleted."""
    con.execute("UPDATE etl_rejects SET raw = NULL, reason = pb_mask(reason)")
    con.execute("UPDATE etl_loads SET notes = pb_mask(notes) WHERE pb_has_personal(notes)")
    metrics = [m for (m,) in con.execute("SELECT DISTINCT metric FROM fct_kpi_custom").fetchall()]
    shaped = {m for (m,) in con.execute(
        "SELECT DISTINCT metric FROM fct_kpi_custom WHERE pb_number_like_id(value)").fetchall()}
    gone = sorted(m for m in metrics if is_personal_header(m) or m in shaped)
    if gone:
        con.execute("DELETE FROM fct_kpi_custom WHERE list_contains(?, metric)", [gone])
    masked = 0
    for ds in datasets().values():
        existing = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [ds.table]).fetchall()}
        for col in ds.columns:
            if col.type == "text" and col.id in existing:
                c = q(col.id)
                masked += con.execute(f"UPDATE {ds.table} SET {c} = pb_mask({c}) WHERE pb_has_personal({c})"
                                      ).fetchall()[0][0]
    log.info("schema migrated to version 2: reject texts cleared, %d custom metric(s) deleted, %d text cell(s) masked",
             len(gone), masked)
