-- The per-event tables store the event's identity in fewer bytes (issue 16, storage per
-- person-day; docs/clickhouse.md, "Storage per person-day"). An event_id is any text of 1-64
-- characters (the contract); the collectors send a random UUID, as 32 hex digits.
--
-- 1. spans_store keeps the event_id exactly, in three columns: event_uuid (the UUID's 16
--    bytes) and event_id_form, 1 when the id is the UUID written as ClickHouse writes it
--    (36 characters, lower case, dashes), 2 when it is those 32 hex digits without dashes;
--    any other id (form 0) is kept as it is in event_id_text. The column event_id is an
--    ALIAS that gives the id back as it came (String); the map is one-to-one, so the
--    sorting key (with all three) collapses the same rows as before. exe becomes
--    LowCardinality (a handful of programs), end is stored with Delta; the table is sorted
--    by app within a person (tenant, user, app, start, host, event): the labels, the app and
--    the program then cost almost nothing. The analyst view activity_spans keeps its
--    columns and types.
-- 2. minutes_store keys an event's minute rows by event_key = sipHash64(event_id) (UInt64)
--    instead of the text: two events collapse only if they share the whole key, the person,
--    computer, app, site and minute and the 64-bit hash (the collision bound is in
--    docs/clickhouse.md). It is sorted by (tenant, hour, user, host, app, domain, minute,
--    event_key): an hour or a day is still one range of the key. The aggregates and the
--    views that read it (activity_minutes, the hour and day views) do not change: they
--    never used the id.
--
-- Both tables are rebuilt as in 0006 (CREATE OR REPLACE copies the rows, converted, and
-- swaps the new table in atomically). The materialized views that fill them are replaced
-- (the new columns); the old ones are dropped first, so no insert fails meanwhile: every
-- row the sink writes from here on reaches a catch-up table, converted, and is put into
-- the new table at the end (rows written twice collapse); the hours of those minute rows
-- are marked again, so a refresh that ran meanwhile cannot have taken them as included.
-- The migration runner keeps both tables' retention (`deskpulse db retention`).

CREATE TABLE IF NOT EXISTS deskpulse.spans_keys_catchup
(
    event_uuid UUID,
    event_id_form UInt8,
    event_id_text String,
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    exe LowCardinality(String),
    title String,
    url String,
    domain LowCardinality(String),
    start DateTime64(3, 'UTC'),
    end DateTime64(3, 'UTC'),
    idle Bool,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3),
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = MergeTree
ORDER BY (tenant, user, start);

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_keys_catchup_mv TO deskpulse.spans_keys_catchup AS
SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid,
       multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1,
               replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form,
       if(event_id_form = 0, event_id, '') AS event_id_text,
       tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_keys_catchup
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    minute DateTime('UTC'),
    event_key UInt64,
    active_ms UInt32,
    idle_ms UInt32,
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = MergeTree
ORDER BY (tenant, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_keys_catchup_mv TO deskpulse.minutes_keys_catchup AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute,
       sipHash64(event_id) AS event_key,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

DROP VIEW IF EXISTS deskpulse.spans_v4_mv;

DROP VIEW IF EXISTS deskpulse.minutes_v4_mv;

CREATE OR REPLACE TABLE deskpulse.spans_store
(
    event_uuid UUID,
    event_id_form UInt8,
    event_id_text String CODEC(ZSTD(3)),
    event_id String ALIAS multiIf(event_id_form = 1, toString(event_uuid), event_id_form = 2, replaceAll(toString(event_uuid), '-', ''), event_id_text),
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    exe LowCardinality(String),
    title String CODEC(ZSTD(3)),
    url String CODEC(ZSTD(3)),
    domain LowCardinality(String),
    start DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    end DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    idle Bool,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, app, start, host, event_uuid, event_id_form, event_id_text)
TTL toDateTime(start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid, multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1, replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form, if(event_id_form = 0, event_id, '') AS event_id_text, tenant, user, host, app, exe, title, url, domain, start, end, idle, written_at, category, productivity FROM deskpulse.spans_store;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_v10_mv TO deskpulse.spans_store AS
SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid,
       multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1,
               replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form,
       if(event_id_form = 0, event_id, '') AS event_id_text,
       tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE OR REPLACE TABLE deskpulse.minutes_store
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(3)),
    event_key UInt64 CODEC(ZSTD(3)),
    active_ms UInt32 CODEC(T64, ZSTD(3)),
    idle_ms UInt32 CODEC(T64, ZSTD(3)),
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, toStartOfHour(minute), user, host, app, domain, minute, event_key)
TTL minute + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT tenant, user, host, app, domain, minute, sipHash64(event_id) AS event_key, active_ms, idle_ms, category, productivity FROM deskpulse.minutes_store;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v10_mv TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute,
       sipHash64(event_id) AS event_key,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_keys_catchup
SETTINGS insert_deduplicate = 0;

INSERT INTO deskpulse.minutes_store SELECT * FROM deskpulse.minutes_keys_catchup
SETTINGS insert_deduplicate = 0;

INSERT INTO deskpulse.rollup_marks (tenant, hour, written_at)
SELECT DISTINCT tenant, toStartOfHour(minute), now64(3, 'UTC') FROM deskpulse.minutes_keys_catchup
SETTINGS insert_deduplicate = 0;

DROP VIEW IF EXISTS deskpulse.spans_keys_catchup_mv;

DROP VIEW IF EXISTS deskpulse.minutes_keys_catchup_mv;

DROP TABLE IF EXISTS deskpulse.spans_keys_catchup;

DROP TABLE IF EXISTS deskpulse.minutes_keys_catchup;
