"""How the validated rows of each dataset land in their warehouse table: the select list from `staged`
(typed by etl/validate.py, `resolved_ref` holding the resolved unit or business unit) and the natural key
used both to drop in-file duplicates and to upsert."""
from __future__ import annotations

# An activity filed without an id is identified by everything it says (over `staged`): two genuine
# activities of the same type and topic on the same day differ in something else and both stay; an exact
# copy of a row is rejected as a duplicate. Corrections replace whole branch-months (CORRECTIONS below).
_ACTIVITY_CELLS = ("resolved_ref", "CAST(date AS VARCHAR)", "activity_type", "CAST(participants AS VARCHAR)",
                   "CAST(expected AS VARCHAR)", "CAST(hours AS VARCHAR)", "topic", "business_link")
DERIVED_ACTIVITY_KEY = ("'r:' || md5(concat_ws('|', "
                        + ", ".join(f"COALESCE({c}, chr(0))" for c in _ACTIVITY_CELLS) + "))")
ACTIVITY_KEY = f"COALESCE(activity_id, {DERIVED_ACTIVITY_KEY})"

SELECTS: dict[str, str] = {
    "org_units": """unit_id, unit_name, pb_name_key(unit_name) AS name_key, parent_id, org_level,
        business_unit_id, business_unit_name, unit_type, region, founded""",
    "party_activities": f"""CASE WHEN activity_id IS NULL THEN {DERIVED_ACTIVITY_KEY} END AS activity_key, activity_id,
        resolved_ref AS unit_id, date,
        activity_type, CAST(participants AS INTEGER) AS participants, CAST(expected AS INTEGER) AS expected,
        hours, topic, business_link""",
    "membership": """resolved_ref AS unit_id, month, CAST(members AS INTEGER) AS members,
        CAST(probationary AS INTEGER) AS probationary, CAST(new_members AS INTEGER) AS new_members,
        CAST(pioneer_posts AS INTEGER) AS pioneer_posts, CAST(responsibility_areas AS INTEGER) AS responsibility_areas,
        CAST(commando_teams AS INTEGER) AS commando_teams, study_hours, CAST(proposals AS INTEGER) AS proposals,
        CAST(proposals_adopted AS INTEGER) AS proposals_adopted""",
    "initiatives": """initiative_id, resolved_ref AS unit_id, kind, title, level, start, "end", target_kpi""",
    "assessments": """resolved_ref AS unit_id, period, pb_period_start(period) AS period_start,
        pb_period_end(period) AS period_end, total, ideology, organization, institution, innovation, talent, grade""",
    "outages": """event_id, resolved_ref AS business_unit_id, start, "end", CAST(customers AS INTEGER) AS customers,
        kind, cause, major_event""",
}
# fct_kpi_monthly's fixed columns (power supply's KPIs) and their SQL types; the KPI file's other columns are
# kept by header in fct_kpi_custom
KPI_FIXED = {"customers": "INTEGER", "complaints": "INTEGER", "sales_mwh": "DOUBLE", "bill_recovery": "DOUBLE",
             "satisfaction": "DOUBLE", "line_loss": "DOUBLE", "safety_violations": "INTEGER", "rs1": "DOUBLE"}

# natural keys, as expressions over `staged`
KEYS: dict[str, list[str]] = {
    "org_units": ["unit_id"],
    "party_activities": [ACTIVITY_KEY],
    "membership": ["resolved_ref", "month"],
    "initiatives": ["initiative_id"],
    "assessments": ["resolved_ref", "period"],
    "outages": ["event_id"],
    "kpi_monthly": ["resolved_ref", "month"],
}

# the same keys over the warehouse table, `{t}` standing for its name or alias
TABLE_KEYS: dict[str, list[str]] = {
    "org_units": ["{t}.unit_id"],
    "party_activities": ["COALESCE({t}.activity_id, {t}.activity_key)"],
    "membership": ["{t}.unit_id", "{t}.month"],
    "initiatives": ["{t}.initiative_id"],
    "assessments": ["{t}.unit_id", "{t}.period"],
    "outages": ["{t}.event_id"],
    "kpi_monthly": ["{t}.business_unit_id", "{t}.month"],
}


# The months of the analysis panels a row feeds (first and last), as expressions over the table's columns;
# None: the dataset feeds every month (the organisation: which business unit a branch belongs to).
PANEL_MONTHS: dict[str, tuple[str, str] | None] = {
    "org_units": None,
    "party_activities": ("date_trunc('month', date)", "date_trunc('month', date)"),
    "membership": ("month", "month"),
    "initiatives": ("date_trunc('month', start)", "date_trunc('month', COALESCE(\"end\", DATE '9999-12-01'))"),
    "assessments": ("period_start", "period_end"),
    "outages": ("date_trunc('month', start)", "date_trunc('month', start)"),
    "kpi_monthly": ("month", "month"),
}

TOUCHED_TABLE = ("CREATE TEMP TABLE IF NOT EXISTS panel_touched "
                 "(dataset VARCHAR, lo DATE, hi DATE, every_month BOOLEAN)")


def select_list(dataset_id: str) -> str:
    """What a load inserts from the staged rows (SELECTS); for the KPI file its fixed columns, NULL where the
    active industry profile has no such column (catalogue/contract.toml `profile`: not in the staged rows)."""
    if dataset_id != "kpi_monthly":
        return SELECTS[dataset_id]
    from catalogue import datasets

    have = {c.id for c in datasets()["kpi_monthly"].columns}
    return "resolved_ref AS business_unit_id, month, " + ", ".join(
        f"CAST({c if c in have else 'NULL'} AS {kind}) AS {c}" for c, kind in KPI_FIXED.items())


def touched_sql(dataset_id: str, table: str, empty: bool = False) -> str:
    """Record which panel months the upsert about to run changes: those of the arriving rows and, where the
    natural key does not fix the month (an activity, outage or initiative id), of the rows they replace.
    etl/warehouse.py then refreshes only those months. Runs inside the file's transaction: a rolled-back
    file records nothing."""
    months = PANEL_MONTHS[dataset_id]
    if months is None:
        return f"INSERT INTO panel_touched VALUES ('{dataset_id}', NULL, NULL, TRUE)"
    lo, hi = months
    parts = [f"SELECT min({lo}) AS lo, max({hi}) AS hi FROM incoming"]
    keys = TABLE_KEYS[dataset_id]
    if len(keys) == 1 and not empty:  # a single id: a corrected row may have moved to another month
        parts.append(f"SELECT min({lo}), max({hi}) FROM {table} "
                     f"WHERE {keys[0].format(t=table)} IN (SELECT {keys[0].format(t='incoming')} FROM incoming)")
    union = " UNION ALL ".join(parts)
    return (f"INSERT INTO panel_touched SELECT '{dataset_id}', CAST(min(lo) AS DATE), CAST(max(hi) AS DATE), FALSE "
            f"FROM ({union}) HAVING min(lo) IS NOT NULL")


# The correction rule for records without an id (README "Corrections"): a file is authoritative for the
# (branch, month) pairs its id-less rows cover. Loading it deletes the id-less rows earlier loads left in
# those branch-months, so a re-sent, corrected sheet replaces exactly what it corrects — a changed topic,
# a removed row — and nothing else. Rows of the same load (another sheet of the workbook) stay.
CORRECTIONS: dict[str, str] = {
    "party_activities": """DELETE FROM {table} AS t USING (
            SELECT DISTINCT unit_id, date_trunc('month', date) AS month FROM incoming WHERE activity_id IS NULL) AS bm
        WHERE t.activity_id IS NULL AND t.load_id <> {load_id}
          AND t.unit_id = bm.unit_id AND date_trunc('month', t.date) = bm.month""",
}


def corrections_sql(dataset_id: str, table: str, load_id: int) -> str | None:
    sql = CORRECTIONS.get(dataset_id)
    return sql.format(table=table, load_id=int(load_id)) if sql else None


def upsert_sql(dataset_id: str, table: str, load_id: int, empty: bool = False) -> list[str]:
    """Statements that replace, by natural key, the rows of `table` with the accepted rows of `staged`:
    note the panel months they touch, delete the keys about to arrive, then append. Keys are unique within
    `staged` (in-file duplicates are rejected first), so the table's keys stay unique without an index on
    the big tables. The branch-month replacement of id-less records (CORRECTIONS) runs between the view
    and the delete; its count is read by the loader (etl/load.py). `empty`: the table holds no row (the
    caller looked, under the writer lock), so there is nothing to replace — a first load of years of
    history skips the deletes, each a join of every arriving key (6 s for 14 M rows on DuckDB 1.5.5)."""
    same = " AND ".join(f"{k.format(t='t')} = {k.format(t='n')}" for k in TABLE_KEYS[dataset_id])
    return [
        # a view, not a copy: at group scale a third copy of a big file's rows would not fit in memory
        f"CREATE OR REPLACE TEMP VIEW incoming AS SELECT {select_list(dataset_id)}, {int(load_id)} AS load_id "
        f"FROM staged WHERE reject_reason IS NULL",
        TOUCHED_TABLE,
        touched_sql(dataset_id, table, empty),
        *([] if empty else filter(None, [corrections_sql(dataset_id, table, load_id)])),
        *([] if empty else [f"DELETE FROM {table} AS t USING incoming AS n WHERE {same}"]),
        f"INSERT INTO {table} BY NAME SELECT * FROM incoming",
    ]


# load order: references first
ORDER = ["org_units", "party_activities", "membership", "initiatives", "assessments", "outages", "kpi_monthly"]
