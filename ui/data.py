"""Everything the pages read from the warehouse: read-only, one short-lived connection per query, cached
on the warehouse's version (file size and modification time), so a load by another process shows on the
next rerun without a restart. The SQL the pages use lives here and nowhere else."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

import settings
from analytics.source import fetch_frame
from etl import personal

RETRIES = 5
log = logging.getLogger(__name__)


def db_path() -> Path:
    return settings.db_path()


def version() -> str:
    """Changes whenever the warehouse file changes."""
    p = db_path()
    parts = []
    for f in (p, Path(str(p) + ".wal")):
        try:
            s = f.stat()
            parts.append(f"{s.st_mtime_ns}:{s.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return f"{p}|{'|'.join(parts)}"


def query(sql: str, params: list | None = None) -> pd.DataFrame:
    """Run one read-only query. A writer holding the file lock briefly makes DuckDB refuse the open;
    retry a few times before giving up."""
    p = db_path()
    if not p.exists():
        return pd.DataFrame()
    last = None
    for attempt in range(RETRIES):
        try:
            con = duckdb.connect(str(p), read_only=True)
            try:
                return fetch_frame(con.execute(sql, params or []))
            finally:
                con.close()
        except duckdb.IOException as exc:
            if "not a valid DuckDB database" in str(exc):  # no retry will help: say so
                raise WarehouseUnreadable(str(exc)) from exc
            last = exc  # lock held by a loader
            time.sleep(0.2 * (attempt + 1))
    raise last


class WarehouseUnreadable(Exception):
    """The warehouse file exists but is not a DuckDB database (damaged, or another file in its place)."""


def readable(v: str) -> bool:
    """False when the warehouse file exists but cannot be opened as a database."""
    try:
        query("SELECT 1")
        return True
    except WarehouseUnreadable:
        log.error("warehouse %s is unreadable", db_path(), exc_info=True)
        return False


@st.cache_data(show_spinner=False, max_entries=8)
def has_data(v: str) -> bool:
    try:
        df = query("SELECT count(*) AS n FROM panel_month")
    except duckdb.Error:
        return False
    return not df.empty and int(df["n"].iloc[0]) > 0


@st.cache_data(show_spinner=False, max_entries=8)
def meta(v: str) -> dict:
    try:
        df = query("SELECT key, value FROM meta")
    except duckdb.Error:
        return {}
    return dict(zip(df["key"], df["value"]))


def is_demo(v: str) -> bool:
    return meta(v).get("synthetic_demo") == "true"


def manifest(v: str) -> dict:
    raw = meta(v).get("demo_manifest")
    return json.loads(raw) if raw else {}


# Frames the pages read on every rerun are shared objects (cache_resource), not per-caller copies:
# st.cache_data would unpickle the whole panel on each rerun (≈0.5 s per million rows). Treat as read-only.
@st.cache_resource(show_spinner=False, max_entries=4)
def panel(v: str, grain: str) -> pd.DataFrame:
    if grain not in ("month", "quarter"):
        raise ValueError(grain)
    return query(f"SELECT * FROM panel_{grain} ORDER BY business_unit_id, period_start")


@st.cache_data(show_spinner=False, max_entries=16)
def periods(v: str, grain: str, unit_types: tuple = (), regions: tuple = ()) -> list[str]:
    """The periods of a panel (for the units of these types and areas), without loading the panel."""
    if grain not in ("month", "quarter"):
        raise ValueError(grain)
    where, params = [], []
    for col, values in (("unit_type", unit_types), ("region", regions)):
        if values:
            where.append(f"{col} IN ({', '.join('?' for _ in values)})")
            params += list(values)
    sql = f"SELECT DISTINCT period FROM panel_{grain} {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY period"
    df = query(sql, params)
    return df["period"].tolist() if not df.empty else []


@st.cache_data(show_spinner=False, max_entries=8)
def business_units(v: str) -> pd.DataFrame:
    return query("SELECT * FROM dim_business_units ORDER BY business_unit_id")


@st.cache_data(show_spinner=False, max_entries=16)
def branches(v: str, business_unit_id: str) -> pd.DataFrame:
    return query("""
        SELECT u.unit_id, u.unit_name, u.org_level, u.founded,
               (SELECT members FROM fct_membership m WHERE m.unit_id = u.unit_id ORDER BY month DESC LIMIT 1) AS members
        FROM dim_units u WHERE u.business_unit_id = ? ORDER BY u.unit_id""", [business_unit_id])


@st.cache_data(show_spinner=False, max_entries=16)
def activities_by_type(v: str, business_unit_id: str) -> pd.DataFrame:
    return query("""
        SELECT CAST(date_trunc('month', a.date) AS DATE) AS month, a.activity_type, count(*) AS n
        FROM fct_activities a JOIN dim_units u USING (unit_id)
        WHERE u.business_unit_id = ? GROUP BY ALL ORDER BY month""", [business_unit_id])


@st.cache_data(show_spinner=False, max_entries=16)
def initiatives(v: str, business_unit_id: str | None = None) -> pd.DataFrame:
    where, params = ("WHERE u.business_unit_id = ?", [business_unit_id]) if business_unit_id else ("", [])
    return query(f"""
        SELECT i.initiative_id, i.kind, i.title, i.level, i.start, i."end", i.target_kpi, i.unit_id,
               u.unit_name, u.business_unit_id
        FROM fct_initiatives i JOIN dim_units u USING (unit_id) {where} ORDER BY i.start""", params)


@st.cache_data(show_spinner=False, max_entries=16)
def assessments(v: str, business_unit_id: str) -> pd.DataFrame:
    return query("""
        SELECT a.unit_id, u.unit_name, a.period, a.period_start, a.total, a.ideology, a.organization,
               a.institution, a.innovation, a.talent, a.grade
        FROM fct_assessments a JOIN dim_units u USING (unit_id)
        WHERE u.business_unit_id = ? ORDER BY a.period_start""", [business_unit_id])


@st.cache_data(show_spinner=False, max_entries=8)
def major_event_months(v: str) -> pd.DataFrame:
    """Months with major-event outages: annotations on time series (typhoons and the like)."""
    return query("""
        SELECT CAST(date_trunc('month', start) AS DATE) AS month, count(*) AS n_events,
               count(DISTINCT business_unit_id) AS n_units
        FROM fct_outages WHERE major_event GROUP BY ALL HAVING count(*) >= 3 ORDER BY month""")


@st.cache_data(show_spinner=False, max_entries=8)
def load_history(v: str) -> pd.DataFrame:
    return query("""SELECT load_id, file_name, kind, rows_loaded, rows_rejected, rows_skipped, loaded_at
                    FROM etl_loads ORDER BY load_id DESC LIMIT 200""")


@st.cache_data(show_spinner=False, max_entries=8)
def coverage(v: str) -> pd.DataFrame:
    """Per business unit and month: which sources reported (KPI file, membership report, activities)."""
    return query("""
        SELECT business_unit_id, business_unit_name, period, period_start,
               (customers IS NOT NULL)::INT + (members IS NOT NULL)::INT + (activities_total IS NOT NULL)::INT AS sources
        FROM panel_month ORDER BY business_unit_id, period_start""")


@st.cache_data(show_spinner=False, max_entries=8)
def rejects(v: str, load_id: int | None = None) -> pd.DataFrame:
    where, params = ("WHERE load_id = ?", [load_id]) if load_id is not None else ("", [])
    # a warehouse not yet migrated to schema 2 may hold personal cells in a reject's text: not shown
    raw = ("CASE WHEN (SELECT max(TRY_CAST(value AS INTEGER)) FROM meta WHERE key = 'schema_version') >= 2 "
           "THEN raw END AS raw")
    df = query(f"SELECT load_id, file_name, sheet, row_number, reason, {raw} FROM etl_rejects {where} "
               "ORDER BY load_id DESC, row_number LIMIT 5000", params)
    if not df.empty:
        df["reason"] = df["reason"].map(personal.mask)
    return df


def clear() -> None:
    """After an upload: drop cached query results and the shared panel frames of the old version."""
    st.cache_data.clear()
    panel.clear()
