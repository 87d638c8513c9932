-- Warehouse tables. Natural keys are primary keys so that re-loading a file upserts instead of
-- duplicating. Every loaded row remembers the load that wrote it.

CREATE SEQUENCE IF NOT EXISTS seq_load_id START 1;

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR
);

CREATE TABLE IF NOT EXISTS etl_loads (
    load_id       BIGINT PRIMARY KEY,
    file_name     VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    sheets        VARCHAR,
    rows_loaded   BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    rows_skipped  BIGINT NOT NULL,
    loaded_at     TIMESTAMP NOT NULL,
    notes         VARCHAR,
    file_bytes    BIGINT,      -- schema 3: size of the file, and seconds its load took (the upload page's estimate)
    seconds       DOUBLE,
    mapping       VARCHAR      -- schema 3: the column-mapping profile applied (name@version), if any
);

CREATE TABLE IF NOT EXISTS etl_rejects (
    load_id    BIGINT NOT NULL,
    file_name  VARCHAR NOT NULL,
    sheet      VARCHAR,
    row_number BIGINT NOT NULL,
    reason     VARCHAR NOT NULL,
    raw        VARCHAR
);

CREATE TABLE IF NOT EXISTS dim_units (
    unit_id            VARCHAR PRIMARY KEY,
    unit_name          VARCHAR NOT NULL,
    name_key           VARCHAR NOT NULL,
    parent_id          VARCHAR,
    org_level          VARCHAR NOT NULL,
    business_unit_id   VARCHAR,
    business_unit_name VARCHAR,
    unit_type          VARCHAR,
    region             VARCHAR,
    founded            DATE,
    load_id            BIGINT
);

-- The two event tables (tens of millions of rows at group scale) carry no PRIMARY KEY: an ART index
-- would be held in memory by every writer and triples bulk-insert time. Their natural keys stay unique
-- because the loader rejects in-file duplicates and deletes the keys it is about to insert, under the
-- single-writer lock (etl/upserts.py; tested in tests/etl/test_property.py).
-- An activity's natural key is COALESCE(activity_id, activity_key): activity_key holds the key derived
-- from branch, date, type and topic for an activity filed without an id, and is NULL otherwise (a copy
-- of every id would cost a quarter of a bulk load's write time).
CREATE TABLE IF NOT EXISTS fct_activities (
    activity_key  VARCHAR,
    activity_id   VARCHAR,
    unit_id       VARCHAR NOT NULL,
    date          DATE NOT NULL,
    activity_type VARCHAR NOT NULL,
    participants  INTEGER,
    expected      INTEGER,
    hours         DOUBLE,
    topic         VARCHAR,
    business_link VARCHAR,
    load_id       BIGINT
);

ALTER TABLE fct_activities ALTER COLUMN activity_key DROP NOT NULL;  -- warehouses built before

CREATE TABLE IF NOT EXISTS fct_membership (
    unit_id              VARCHAR NOT NULL,
    month                DATE NOT NULL,
    members              INTEGER NOT NULL,
    probationary         INTEGER,
    new_members          INTEGER,
    pioneer_posts        INTEGER,
    responsibility_areas INTEGER,
    commando_teams       INTEGER,
    study_hours          DOUBLE,
    proposals            INTEGER,
    proposals_adopted    INTEGER,
    load_id              BIGINT,
    PRIMARY KEY (unit_id, month)
);

CREATE TABLE IF NOT EXISTS fct_initiatives (
    initiative_id VARCHAR PRIMARY KEY,
    unit_id       VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    level         VARCHAR,
    start         DATE NOT NULL,
    "end"         DATE,
    target_kpi    VARCHAR,
    load_id       BIGINT
);

CREATE TABLE IF NOT EXISTS fct_assessments (
    unit_id      VARCHAR NOT NULL,
    period       VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end   DATE NOT NULL,
    total        DOUBLE NOT NULL,
    ideology     DOUBLE,
    organization DOUBLE,
    institution  DOUBLE,
    innovation   DOUBLE,
    talent       DOUBLE,
    grade        VARCHAR,
    load_id      BIGINT,
    PRIMARY KEY (unit_id, period)
);

CREATE TABLE IF NOT EXISTS fct_outages (
    event_id         VARCHAR NOT NULL,
    business_unit_id VARCHAR NOT NULL,
    start            TIMESTAMP NOT NULL,
    "end"            TIMESTAMP NOT NULL,
    customers        INTEGER NOT NULL,
    kind             VARCHAR NOT NULL,
    cause            VARCHAR,
    major_event      BOOLEAN,
    load_id          BIGINT
);

CREATE TABLE IF NOT EXISTS fct_kpi_monthly (
    business_unit_id  VARCHAR NOT NULL,
    month             DATE NOT NULL,
    customers         INTEGER,
    complaints        INTEGER,
    sales_mwh         DOUBLE,
    bill_recovery     DOUBLE,
    satisfaction      DOUBLE,
    line_loss         DOUBLE,
    safety_violations INTEGER,
    rs1               DOUBLE,
    load_id           BIGINT,
    PRIMARY KEY (business_unit_id, month)
);

CREATE TABLE IF NOT EXISTS fct_kpi_custom (
    business_unit_id VARCHAR NOT NULL,
    month            DATE NOT NULL,
    metric           VARCHAR NOT NULL,
    value            DOUBLE,
    load_id          BIGINT,
    PRIMARY KEY (business_unit_id, month, metric)
);

-- Metrics an administrator defined (catalogue/defined.py short form + the KPI file columns they read), one
-- row per metric; the panels pick them up at the next refresh (etl/definitions.py). The industry profile
-- is meta.profile.
CREATE TABLE IF NOT EXISTS catalogue_metric (
    id        VARCHAR PRIMARY KEY,
    body      VARCHAR NOT NULL,
    saved_at  TIMESTAMP NOT NULL,
    saved_by  VARCHAR
);
