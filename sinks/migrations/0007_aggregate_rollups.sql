-- Hour and day rollups that are aggregates: one row per (tenant, user, host, app, domain,
-- category, productivity, hour/day), no event_id. The analyst views read them without FINAL.
--
-- Exactness (docs/clickhouse.md, "Rollups: exact aggregates"): minutes_store stays the
-- deduplication layer (one row per event and minute, ReplacingMergeTree keyed by the event);
-- hours_agg and days_agg are only ever written by the rollup refresh (sinks/rollup.py), which
-- recomputes whole UTC days from minutes_store FINAL and swaps each day in atomically
-- (REPLACE PARTITION). Every insert into rollups_in also marks the (tenant, hour)s it
-- touched (rollup_marks); an hour marked after its day's last refresh is "dirty", and the
-- views read dirty hours from minutes_store FINAL instead of the aggregates. A replay writes
-- rows that collapse in minutes_store and marks their hours dirty: the aggregates are a
-- function of the set of distinct events, never of how often one was written.
--
-- 1. minutes_store is rebuilt sorted by hour first (tenant, hour, user, minute, ...), so
--    that a day's or an hour's rows are one range (the refresh and the dirty-hour reads),
--    while a person's rows of an hour stay together (they compress as well as before:
--    sorted by minute first, 1,600 people took 31.6 KB per person-day instead of 22);
--    same key columns plus a function of one of them, so the same rows collapse. Rows the sink writes meanwhile reach a
--    catch-up table too and are put into the new table afterwards (as in 0006).
-- 2. hours_agg and days_agg are created and filled from the old per-event hours_store and
--    days_store (FINAL, so each event once), then those and their views are dropped.
-- keeps retention: hours_store -> hours_agg
-- keeps retention: days_store -> days_agg

CREATE TABLE IF NOT EXISTS deskpulse.minutes_rekey_catchup
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    minute DateTime('UTC'),
    event_id String,
    active_ms UInt32,
    idle_ms UInt32,
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = MergeTree
ORDER BY (tenant, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_rekey_catchup_mv TO deskpulse.minutes_rekey_catchup AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

-- every insert marks the hours it touched; the refresh's watermark per day says up to when.
-- No deduplication window: a retried insert always writes its marks again, with its own time
CREATE TABLE IF NOT EXISTS deskpulse.rollup_marks
(
    tenant LowCardinality(String),
    hour DateTime('UTC'),
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY (tenant, hour)
SETTINGS replicated_deduplication_window = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.rollup_marks_mv TO deskpulse.rollup_marks AS
SELECT DISTINCT tenant, toDateTime(intDiv(m.1, 3600) * 3600, 'UTC') AS hour,
       now64(3, 'UTC') AS written_at
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

CREATE TABLE IF NOT EXISTS deskpulse.rollup_refreshes
(
    day Date,
    refreshed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY day;

CREATE OR REPLACE TABLE deskpulse.minutes_store
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    event_id String CODEC(ZSTD(1)),
    active_ms UInt32 CODEC(ZSTD(1)),
    idle_ms UInt32 CODEC(ZSTD(1)),
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, toStartOfHour(minute), user, minute, host, app, domain, event_id)
TTL minute + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT * FROM deskpulse.minutes_store;

INSERT INTO deskpulse.minutes_store SELECT * FROM deskpulse.minutes_rekey_catchup
SETTINGS insert_deduplicate = 0;

DROP VIEW IF EXISTS deskpulse.minutes_rekey_catchup_mv;

DROP TABLE IF EXISTS deskpulse.minutes_rekey_catchup;

CREATE TABLE IF NOT EXISTS deskpulse.hours_agg
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    category LowCardinality(String),
    productivity LowCardinality(String),
    hour DateTime('UTC'),
    active_ms UInt64 CODEC(T64, ZSTD(1)),
    idle_ms UInt64 CODEC(T64, ZSTD(1))
)
ENGINE = SummingMergeTree((active_ms, idle_ms))
PARTITION BY toDate(hour)
ORDER BY (tenant, user, hour, host, app, domain, category, productivity)
TTL hour + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.days_agg
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    category LowCardinality(String),
    productivity LowCardinality(String),
    day Date,
    active_ms UInt64 CODEC(T64, ZSTD(1)),
    idle_ms UInt64 CODEC(T64, ZSTD(1))
)
ENGINE = SummingMergeTree((active_ms, idle_ms))
PARTITION BY day
ORDER BY (tenant, user, day, host, app, domain, category, productivity)
TTL day + INTERVAL 730 DAY;

-- the conversion's watermark: taken before the old tables are read
CREATE TABLE IF NOT EXISTS deskpulse.rollup_conversion
(
    started_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY tuple();

INSERT INTO deskpulse.rollup_conversion SELECT now64(3, 'UTC') - toIntervalMillisecond(1);

INSERT INTO deskpulse.hours_agg
SELECT tenant, user, host, app, domain, category, productivity, hour,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, category, productivity, hour
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0;

INSERT INTO deskpulse.days_agg
SELECT tenant, user, host, app, domain, category, productivity, day,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, category, productivity, day
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0;

-- every converted day is clean as of the conversion's start; hours the sink wrote since are
-- marked after it, so they stay dirty until the refresh recomputes their day
INSERT INTO deskpulse.rollup_refreshes
SELECT DISTINCT day, (SELECT max(started_at) FROM deskpulse.rollup_conversion)
FROM deskpulse.days_agg;

DROP TABLE IF EXISTS deskpulse.rollup_conversion;

-- the hours a query must read from minutes_store: marked after their day's last refresh
CREATE OR REPLACE VIEW deskpulse.rollup_dirty AS
SELECT m.tenant AS tenant, m.hour AS hour
FROM deskpulse.rollup_marks AS m
LEFT JOIN (SELECT day, max(refreshed_at) AS refreshed_at FROM deskpulse.rollup_refreshes
           GROUP BY day) AS r ON r.day = toDate(m.hour)
WHERE m.written_at > coalesce(r.refreshed_at, toDateTime64(0, 3, 'UTC'));

-- The views below decide which hours are dirty with one scalar subquery, written the same
-- everywhere: ClickHouse evaluates a scalar subquery once per query and uses its value as a
-- constant, so an hour is read from the aggregates or from the minutes, never both, even
-- when a mark or a refresh lands while the query runs (two plain IN subqueries on
-- rollup_dirty would be two reads). The IN sets are built from that constant
-- (arrayJoin), and the constant also bounds the minutes read (none when nothing is dirty).

-- hours in milliseconds: the aggregates for clean hours, minutes_store for dirty ones
CREATE OR REPLACE VIEW deskpulse.rollup_hours_ms AS
SELECT tenant, user, host, app, domain, hour, category, productivity, active_ms, idle_ms
FROM deskpulse.hours_agg
WHERE (tenant, hour) NOT IN (SELECT arrayJoin((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))
UNION ALL
SELECT tenant, user, host, app, domain, toStartOfHour(minute) AS hour, category, productivity,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM deskpulse.minutes_store FINAL
WHERE minute >= if(empty((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)), toDateTime(4294967295, 'UTC'),
                   arrayMin(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))))
  AND minute < arrayMax(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))) + 3600
  AND (tenant, toStartOfHour(minute)) IN (SELECT arrayJoin((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))
GROUP BY tenant, user, host, app, domain, hour, category, productivity;

-- days in milliseconds: the aggregates for days without a dirty hour; for the others their
-- clean hours from hours_agg and their dirty hours from minutes_store
CREATE OR REPLACE VIEW deskpulse.rollup_days_ms AS
SELECT tenant, user, host, app, domain, day, category, productivity, active_ms, idle_ms
FROM deskpulse.days_agg
WHERE (tenant, day) NOT IN (SELECT arrayJoin(arrayMap(x -> (x.1, toDate(x.2)), (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))))
UNION ALL
SELECT tenant, user, host, app, domain, toDate(hour) AS day, category, productivity,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM (
    SELECT tenant, user, host, app, domain, hour, category, productivity, active_ms, idle_ms
    FROM deskpulse.hours_agg
    WHERE hour >= if(empty((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)), toDateTime(4294967295, 'UTC'),
                     toStartOfDay(arrayMin(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))))
      AND hour < toStartOfDay(arrayMax(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))) + 86400
      AND (tenant, toDate(hour)) IN (SELECT arrayJoin(arrayMap(x -> (x.1, toDate(x.2)), (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))))
      AND (tenant, hour) NOT IN (SELECT arrayJoin((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))
    UNION ALL
    SELECT tenant, user, host, app, domain, toStartOfHour(minute) AS hour, category,
           productivity, active_ms, idle_ms
    FROM deskpulse.minutes_store FINAL
    WHERE minute >= if(empty((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)), toDateTime(4294967295, 'UTC'),
                       arrayMin(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))))
      AND minute < arrayMax(arrayMap(x -> x.2, (SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty))) + 3600
      AND (tenant, toStartOfHour(minute)) IN (SELECT arrayJoin((SELECT groupUniqArray((tenant, hour)) FROM deskpulse.rollup_dirty)))
)
GROUP BY tenant, user, host, app, domain, day, category, productivity;

CREATE OR REPLACE VIEW deskpulse.activity_hourly AS
SELECT tenant, user, host, app, domain, hour, category, productivity,
       active_ms / 1000 AS active_seconds, idle_ms / 1000 AS idle_seconds
FROM deskpulse.rollup_hours_ms;

CREATE OR REPLACE VIEW deskpulse.activity_daily AS
SELECT tenant, user, host, app, domain, day, category, productivity,
       active_ms / 1000 AS active_seconds, idle_ms / 1000 AS idle_seconds
FROM deskpulse.rollup_days_ms;

CREATE OR REPLACE VIEW deskpulse.people AS
SELECT
    tenant, user,
    groupUniqArray(host) AS hosts,
    min(day) AS first_day,
    max(day) AS last_day,
    sum(active_ms) / 3600000 AS active_hours
FROM deskpulse.rollup_days_ms
GROUP BY tenant, user;

DROP VIEW IF EXISTS deskpulse.hours_v4_mv;

DROP VIEW IF EXISTS deskpulse.days_v4_mv;

DROP TABLE IF EXISTS deskpulse.hours_store;

DROP TABLE IF EXISTS deskpulse.days_store;
