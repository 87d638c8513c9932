-- Views over the fact tables. panel_month and panel_quarter themselves are tables generated from the
-- metric catalogue over panel_base_window / panel_month_base (see etl/warehouse.py: refresh_panels).

CREATE OR REPLACE VIEW dim_business_units AS
SELECT business_unit_id,
       any_value(business_unit_name ORDER BY unit_id) AS business_unit_name,
       mode(unit_type) AS unit_type,
       mode(region) AS region,
       count(*) FILTER (WHERE org_level = '党支部') AS n_branches
FROM dim_units
WHERE business_unit_id IS NOT NULL
GROUP BY business_unit_id;

-- IEEE 1366 counts sustained interruptions only (longer than 5 minutes). An outage is attributed to
-- the month it started in. Major-event rows are dropped when meta.exclude_major_events = 'true'.
CREATE OR REPLACE VIEW fct_reliability_month AS
SELECT business_unit_id,
       CAST(date_trunc('month', start) AS DATE) AS month,
       sum(customers * date_diff('second', start, "end") / 3600.0) AS customer_hours,
       sum(customers) AS customers_interrupted,
       count(*) AS n_outages,
       count(*) FILTER (WHERE kind = '故障') AS n_fault_outages
FROM fct_outages
WHERE date_diff('second', start, "end") > 300
  AND NOT (COALESCE(major_event, FALSE)
           AND COALESCE((SELECT value FROM meta WHERE key = 'exclude_major_events'), 'false') = 'true')
GROUP BY ALL;

-- Per-branch-month activity sums and per-business-unit-month outage sums for the months win_lo..win_hi.
-- They are kept as tables (agg_activities_month, agg_outages_month), refreshed for the months each load
-- touches (etl/warehouse.py), so that rebuilding the panels -- after a change of the organisation, say --
-- reads 2-3 M pre-aggregated rows instead of every activity and outage. Neither depends on the
-- organisation table.
CREATE OR REPLACE MACRO agg_activities_window(win_lo, win_hi) AS TABLE
SELECT unit_id, CAST(date_trunc('month', date) AS DATE) AS month,
       count(*) FILTER (WHERE activity_type IN ('支部党员大会', '支部委员会', '党小组会', '党课')) AS n_meetings,
       count(*) FILTER (WHERE activity_type = '主题党日') AS n_theme_days,
       count(*) FILTER (WHERE activity_type = '专题学习') AS n_study_sessions,
       count(*) AS n_activities,
       sum(participants) FILTER (WHERE participants IS NOT NULL AND expected IS NOT NULL) AS sum_participants,
       sum(expected) FILTER (WHERE participants IS NOT NULL AND expected IS NOT NULL) AS sum_expected,
       sum(hours * COALESCE(participants, expected)) AS sum_person_hours
FROM fct_activities
WHERE date >= win_lo AND date < win_hi + INTERVAL 1 MONTH
GROUP BY ALL;

-- as fct_reliability_month, split by the major-event flag (the panels drop those rows on request)
CREATE OR REPLACE MACRO agg_outages_window(win_lo, win_hi) AS TABLE
SELECT business_unit_id, CAST(date_trunc('month', start) AS DATE) AS month,
       COALESCE(major_event, FALSE) AS major_event,
       sum(customers * date_diff('second', start, "end") / 3600.0) AS customer_hours,
       sum(customers) AS customers_interrupted,
       count(*) AS n_outages
FROM fct_outages
WHERE start >= win_lo AND start < win_hi + INTERVAL 1 MONTH AND date_diff('second', start, "end") > 300
GROUP BY ALL;

-- empty until etl/warehouse.py fills them (the panel view below needs them to exist)
CREATE TABLE IF NOT EXISTS agg_activities_month AS SELECT * FROM agg_activities_window(DATE '0001-01-01', DATE '0001-01-01') LIMIT 0;
CREATE TABLE IF NOT EXISTS agg_outages_month AS SELECT * FROM agg_outages_window(DATE '0001-01-01', DATE '0001-01-01') LIMIT 0;

-- Each business unit's activity reporting span (first and last month with an activity), over all months.
CREATE OR REPLACE VIEW panel_act_span AS
SELECT u.business_unit_id, min(a.month) AS lo, max(a.month) AS hi
FROM agg_activities_month AS a JOIN dim_units AS u USING (unit_id)
WHERE u.business_unit_id IS NOT NULL
GROUP BY ALL;


-- The month spine (every business unit x every month in the data) with the base sums every metric is
-- built from, for the months win_lo..win_hi (first days of months). Facts are read for those months only, so that
-- a load touching a few months refreshes them without reading the rest (etl/warehouse.py); activities
-- and outages through their month aggregates above. What depends
-- on all months -- the data's month range, the range of activity reporting, which units report
-- activities or outages at all -- is computed over the whole tables, so a window's rows equal the same
-- rows of the full computation.
CREATE OR REPLACE MACRO panel_base_window(win_lo, win_hi) AS TABLE
WITH act_all AS (
    SELECT * FROM agg_activities_month WHERE month BETWEEN win_lo AND win_hi
),
act_range AS (
    SELECT min(month) AS lo, max(month) AS hi FROM agg_activities_month
),
months AS (
    SELECT CAST(unnest(generate_series(greatest(r.lo, win_lo), least(r.hi, win_hi), INTERVAL 1 MONTH)) AS DATE) AS month
    FROM (
        SELECT min(m) AS lo, max(m) AS hi FROM (
            SELECT min(month) AS m FROM fct_membership UNION ALL SELECT max(month) FROM fct_membership
            UNION ALL SELECT min(month) FROM fct_kpi_monthly UNION ALL SELECT max(month) FROM fct_kpi_monthly
            UNION ALL SELECT lo FROM act_range UNION ALL SELECT hi FROM act_range
        )
    ) AS r WHERE r.lo IS NOT NULL AND greatest(r.lo, win_lo) <= least(r.hi, win_hi)
),
spine AS (
    SELECT bu.business_unit_id, m.month FROM dim_business_units AS bu CROSS JOIN months AS m
),
branches AS (
    SELECT unit_id, business_unit_id, org_level, founded FROM dim_units WHERE business_unit_id IS NOT NULL
),
-- Missing is not zero: a business unit's activity ledger covers the months from its first to its last
-- reported activity. Inside that span a month without an activity row counts 0 activities; before or
-- after it the unit has not reported, and its counts are missing (not 0).
act_units AS (
    SELECT * FROM panel_act_span
),
act AS (
    SELECT b.business_unit_id, a.month,
           -- counts stay BIGINT (the planner's statistics give that for the whole table, not for a window)
           CAST(sum(a.n_meetings) AS BIGINT) AS n_meetings, CAST(sum(a.n_theme_days) AS BIGINT) AS n_theme_days,
           CAST(sum(a.n_study_sessions) AS BIGINT) AS n_study_sessions, CAST(sum(a.n_activities) AS BIGINT) AS n_activities,
           sum(a.sum_participants) AS sum_participants, sum(a.sum_expected) AS sum_expected,
           sum(a.sum_person_hours) AS sum_person_hours
    FROM act_all AS a JOIN branches AS b USING (unit_id)
    GROUP BY ALL
),
mem AS (
    SELECT b.business_unit_id, m.month,
           sum(m.members) AS members, sum(m.probationary) AS probationary, sum(m.new_members) AS new_members,
           sum(m.pioneer_posts) AS pioneer_posts, sum(m.responsibility_areas) AS responsibility_areas,
           sum(m.commando_teams) AS commando_teams, sum(m.study_hours * m.members) AS study_hours_x_members,
           sum(m.proposals) AS proposals, sum(m.proposals_adopted) AS proposals_adopted
    FROM fct_membership AS m JOIN branches AS b USING (unit_id)
    WHERE m.month BETWEEN win_lo AND win_hi
    GROUP BY ALL
),
-- 2018 branch work rules: committee meeting and party-group meeting monthly, general meeting and
-- party lesson quarterly -> 2 + 2/3 meetings a month per branch in existence that month.
req AS (
    SELECT s.business_unit_id, s.month, count(*) * (2.0 + 2.0 / 3.0) AS n_meetings_required
    FROM spine AS s JOIN branches AS b
      ON b.business_unit_id = s.business_unit_id AND b.org_level = '党支部'
     AND (b.founded IS NULL OR b.founded <= last_day(s.month))
    GROUP BY ALL
),
ini AS (
    SELECT s.business_unit_id, s.month,
           count(*) FILTER (WHERE i.kind = '书记项目') AS secretary_projects_active,
           max(CASE WHEN i.kind = '党建示范点' THEN 1 ELSE 0 END) AS demo_site
    FROM spine AS s
    JOIN branches AS b ON b.business_unit_id = s.business_unit_id
    JOIN fct_initiatives AS i ON i.unit_id = b.unit_id
     AND i.start <= last_day(s.month) AND (i."end" IS NULL OR i."end" >= s.month)
    GROUP BY ALL
),
-- each branch-month takes the score of the shortest assessment period covering it (a quarter beats
-- a half-year beats a year), weighted by the branch's members that month
ass_pick AS (
    SELECT b.business_unit_id, s.month, a.unit_id, a.total,
           row_number() OVER (PARTITION BY a.unit_id, s.month ORDER BY a.period_end - a.period_start) AS rk
    FROM spine AS s
    JOIN branches AS b ON b.business_unit_id = s.business_unit_id
    JOIN fct_assessments AS a ON a.unit_id = b.unit_id AND s.month BETWEEN a.period_start AND a.period_end
),
ass AS (
    SELECT p.business_unit_id, p.month,
           sum(p.total * COALESCE(m.members, 1)) AS pb_score_x_members,
           sum(COALESCE(m.members, 1)) AS pb_score_members
    FROM ass_pick AS p
    LEFT JOIN (SELECT unit_id, month, members FROM fct_membership WHERE month BETWEEN win_lo AND win_hi) AS m
      ON m.unit_id = p.unit_id AND m.month = p.month
    WHERE p.rk = 1
    GROUP BY ALL
),
outage_units AS (
    SELECT DISTINCT business_unit_id FROM fct_outages
),
rel AS (
    SELECT business_unit_id, month, sum(customer_hours) AS customer_hours,
           sum(customers_interrupted) AS customers_interrupted, CAST(sum(n_outages) AS BIGINT) AS n_outages
    FROM agg_outages_month
    WHERE month BETWEEN win_lo AND win_hi
      AND NOT (major_event AND COALESCE((SELECT value FROM meta WHERE key = 'exclude_major_events'), 'false') = 'true')
    GROUP BY ALL
)
SELECT s.business_unit_id, s.month,
       CASE WHEN s.month BETWEEN au.lo AND au.hi THEN COALESCE(act.n_meetings, 0) END AS n_meetings,
       CASE WHEN s.month BETWEEN au.lo AND au.hi THEN COALESCE(act.n_theme_days, 0) END AS n_theme_days,
       CASE WHEN s.month BETWEEN au.lo AND au.hi THEN COALESCE(act.n_study_sessions, 0) END AS n_study_sessions,
       CASE WHEN s.month BETWEEN au.lo AND au.hi THEN COALESCE(act.n_activities, 0) END AS n_activities,
       act.sum_participants, act.sum_expected, act.sum_person_hours,
       req.n_meetings_required,
       mem.members, mem.probationary, mem.new_members, mem.pioneer_posts, mem.responsibility_areas,
       mem.commando_teams, mem.study_hours_x_members, mem.proposals, mem.proposals_adopted,
       COALESCE(ini.secretary_projects_active, 0) AS secretary_projects_active,
       COALESCE(ini.demo_site, 0) AS demo_site,
       ass.pb_score_x_members, ass.pb_score_members,
       k.customers, k.complaints, k.sales_mwh, k.bill_recovery, k.satisfaction, k.line_loss,
       k.safety_violations, k.rs1 AS rs1_reported,
       ou.business_unit_id IS NOT NULL AS has_outage_records,
       CASE WHEN ou.business_unit_id IS NOT NULL THEN COALESCE(rel.customer_hours, 0) END AS customer_hours,
       CASE WHEN ou.business_unit_id IS NOT NULL THEN COALESCE(rel.customers_interrupted, 0) END AS customers_interrupted,
       COALESCE(rel.n_outages, 0) AS n_outages,
       24.0 * day(last_day(s.month)) AS hours_in_period
FROM spine AS s
LEFT JOIN act_units AS au ON au.business_unit_id = s.business_unit_id
LEFT JOIN act ON act.business_unit_id = s.business_unit_id AND act.month = s.month
LEFT JOIN mem ON mem.business_unit_id = s.business_unit_id AND mem.month = s.month
LEFT JOIN req ON req.business_unit_id = s.business_unit_id AND req.month = s.month
LEFT JOIN ini ON ini.business_unit_id = s.business_unit_id AND ini.month = s.month
LEFT JOIN ass ON ass.business_unit_id = s.business_unit_id AND ass.month = s.month
LEFT JOIN fct_kpi_monthly AS k ON k.business_unit_id = s.business_unit_id AND k.month = s.month
LEFT JOIN outage_units AS ou ON ou.business_unit_id = s.business_unit_id
LEFT JOIN rel ON rel.business_unit_id = s.business_unit_id AND rel.month = s.month;

CREATE OR REPLACE VIEW panel_month_base AS
SELECT * FROM panel_base_window(DATE '0001-01-01', DATE '9999-12-01');
