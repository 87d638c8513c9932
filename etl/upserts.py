"""How the validated rows of each dataset land in their warehouse table: the select list from `staged`
(typed by etl/validate.py, `resolved_ref` holding the resolved unit or business unit) and the natural key
used both to drop in-file duplicates and to upsert."""
from __future__ import annotations

ACTIVITY_KEY = ("COALESCE(activity_id, 'h:' || md5(concat_ws('|', resolved_ref, CAST(date AS VARCHAR), "
                "activity_type, COALESCE(topic, ''))))")

SELECTS: dict[str, str] = {
    "org_units": """unit_id, unit_name, pb_name_key(unit_name) AS name_key, parent_id, org_level,
        business_unit_id, business_unit_name, unit_type, region, founded""",
    "party_activities": f"""{ACTIVITY_KEY} AS activity_key, activity_id, resolved_ref AS unit_id, date,
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
    "kpi_monthly": """resolved_ref AS business_unit_id, month, CAST(customers AS INTEGER) AS customers,
        CAST(complaints AS INTEGER) AS complaints, sales_mwh, bill_recovery, satisfaction, line_loss,
        CAST(safety_violations AS INTEGER) AS safety_violations, rs1""",
}

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

# the same keys as columns of the warehouse table
TABLE_KEYS: dict[str, list[str]] = {
    "org_units": ["unit_id"],
    "party_activities": ["activity_key"],
    "membership": ["unit_id", "month"],
    "initiatives": ["initiative_id"],
    "assessments": ["unit_id", "period"],
    "outages": ["event_id"],
    "kpi_monthly": ["business_unit_id", "month"],
}


def upsert_sql(dataset_id: str, table: str, load_id: int) -> list[str]:
    """Statements that replace, by natural key, the rows of `table` with the accepted rows of `staged`:
    delete the keys about to arrive, then append. Keys are unique within `staged` (in-file duplicates are
    rejected first), so the table's keys stay unique without an index on the big tables."""
    same = " AND ".join(f"t.{k} = n.{k}" for k in TABLE_KEYS[dataset_id])
    return [
        f"CREATE OR REPLACE TEMP TABLE incoming AS SELECT {SELECTS[dataset_id]}, {int(load_id)} AS load_id "
        f"FROM staged WHERE reject_reason IS NULL",
        f"DELETE FROM {table} AS t USING incoming AS n WHERE {same}",
        f"INSERT INTO {table} BY NAME SELECT * FROM incoming",
    ]


# load order: references first
ORDER = ["org_units", "party_activities", "membership", "initiatives", "assessments", "outages", "kpi_monthly"]
