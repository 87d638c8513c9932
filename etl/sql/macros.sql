-- Parsing macros used by the validator. Cells arrive as NFKC-normalised text (full-width digits,
-- punctuation and ％ already folded to ASCII by the reader), stripped, and NULL when empty: both readers
-- leave them so (readers.normalize_cell, and the bulk CSV path that provably equals it).
-- No macro trims its argument again. Besides being redundant, DuckDB 1.5.5 crashed the process now and
-- then (SIGSEGV in StrpTimeFormat::Parse) when try_strptime parsed trim(s) in a COALESCE branch of the
-- staging query: it crashed in 5 of 6 runs of 200 stagings of one outage file, and never without trim
-- (README, "DuckDB version"; tests/etl/test_duckdb_crash.py).

CREATE OR REPLACE TEMP MACRO pb_text(s) AS NULLIF(s, '');

-- numbers: plain ones are cast directly (finite, no '_' digit separator: DuckDB would read inf, nan,
-- 1e400 and 1_000); otherwise only correct thousands separators and a trailing % sign are accepted
-- (1,234 and 12%, never 1,2,3). DuckDB's cast also reads a doubled sign "+-1" as -1: refused here.
CREATE OR REPLACE TEMP MACRO pb_num(s) AS CASE
    WHEN isfinite(TRY_CAST(s AS DOUBLE)) AND NOT contains(s, '_') AND NOT contains(s, '+-') THEN TRY_CAST(s AS DOUBLE)
    WHEN regexp_full_match(s, '[+-]?[0-9]{1,3}(,[0-9]{3})*(\.[0-9]+)?\s*%?')
        THEN TRY_CAST(regexp_replace(s, '[,\s%]', '', 'g') AS DOUBLE)
END;

-- Excel serial day numbers (1900 date system; 20000..80000 = 1954..2119)
CREATE OR REPLACE TEMP MACRO pb_excel_serial(s) AS
    CASE WHEN regexp_full_match(s, '\d{5}(\.\d+)?')
              AND TRY_CAST(s AS DOUBLE) BETWEEN 20000 AND 80000
         THEN TIMESTAMP '1899-12-30' + to_microseconds(CAST(round(CAST(s AS DOUBLE) * 86400000000) AS BIGINT))
    END;

-- A string matches at most one format of a list (each must consume the whole string), so the lists
-- are split by a character only some formats contain and the most common format goes first. ISO dates,
-- what systems export, are tried alone before the lists (a single format is about twice as fast).
CREATE OR REPLACE TEMP MACRO pb_timestamp(s) AS COALESCE(
    try_strptime(s, '%Y-%m-%d'),
    CASE WHEN contains(s, '年')
         THEN try_strptime(s, ['%Y年%m月%d日', '%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M',
                               '%Y年%m月%d日%H时%M分', '%Y年%m月%d日%H:%M'])
         ELSE try_strptime(s, [
            '%Y-%m-%d', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S.%f',
            '%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y.%m.%d %H:%M:%S', '%Y.%m.%d %H:%M',
            '%Y/%m/%d', '%Y.%m.%d', '%Y%m%d']) END,
    pb_excel_serial(s));

CREATE OR REPLACE TEMP MACRO pb_date(s) AS CAST(pb_timestamp(s) AS DATE);

CREATE OR REPLACE TEMP MACRO pb_month(s) AS COALESCE(
    CAST(try_strptime(s, ['%Y-%m', '%Y/%m', '%Y.%m', '%Y年%m月']) AS DATE),
    CASE WHEN regexp_full_match(s, '(19|20)\d{2}(0[1-9]|1[0-2])')
         THEN CAST(try_strptime(s, '%Y%m') AS DATE) END,
    CAST(date_trunc('month', pb_timestamp(s)) AS DATE));

-- assessment periods: 2024 | 2024H1 | 2024Q3, and the Chinese spellings
CREATE OR REPLACE TEMP MACRO pb_period(s) AS (
    WITH p AS (
        SELECT upper(regexp_replace(s, '[\s年度]', '', 'g')) AS v
    )
    SELECT CASE
        WHEN regexp_full_match(v, '\d{4}') THEN v
        WHEN regexp_full_match(v, '\d{4}-?H[12]') THEN replace(v, '-', '')
        WHEN regexp_full_match(v, '\d{4}-?Q[1-4]') THEN replace(v, '-', '')
        WHEN regexp_full_match(v, '\d{4}上半') THEN left(v, 4) || 'H1'
        WHEN regexp_full_match(v, '\d{4}下半') THEN left(v, 4) || 'H2'
        WHEN regexp_full_match(v, '\d{4}第?[1-4一二三四]季') THEN left(v, 4) || 'Q' ||
            CASE regexp_extract(v, '([1-4一二三四])季', 1) WHEN '一' THEN '1' WHEN '二' THEN '2'
                 WHEN '三' THEN '3' WHEN '四' THEN '4' ELSE regexp_extract(v, '([1-4])季', 1) END
    END FROM p);

CREATE OR REPLACE TEMP MACRO pb_period_start(p) AS CASE
    WHEN length(p) = 4 THEN make_date(CAST(p AS INTEGER), 1, 1)
    WHEN p[5] = 'H' THEN make_date(CAST(left(p, 4) AS INTEGER), CASE p[6] WHEN '1' THEN 1 ELSE 7 END, 1)
    ELSE make_date(CAST(left(p, 4) AS INTEGER), 3 * CAST(p[6] AS INTEGER) - 2, 1) END;

CREATE OR REPLACE TEMP MACRO pb_period_end(p) AS CASE
    WHEN length(p) = 4 THEN make_date(CAST(p AS INTEGER), 12, 31)
    WHEN p[5] = 'H' THEN CAST(pb_period_start(p) + INTERVAL 6 MONTH - INTERVAL 1 DAY AS DATE)
    ELSE CAST(pb_period_start(p) + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE) END;

CREATE OR REPLACE TEMP MACRO pb_flag(s) AS CASE
    WHEN lower(s) IN ('是', 'y', 'yes', '1', 'true', '√') THEN TRUE
    WHEN lower(s) IN ('否', 'n', 'no', '0', 'false', '') THEN FALSE
END;

-- normalised key for matching names: no spaces, lower case
CREATE OR REPLACE TEMP MACRO pb_name_key(s) AS lower(regexp_replace(s, '\s', '', 'g'));
