-- An event's identity is (tenant, user, host, event_id), in the store as in the stream
-- worker: the same event_id from another person or computer is another event.
--
-- minutes_store, hours_store and days_store already sort by (tenant, user, ..., host, ...,
-- event_id). spans_store sorted by (tenant, user, start, event_id), without the host: a span
-- of another computer of the same person with the same event_id and start replaced the
-- first one. It is rebuilt here with the host in its sorting key; its rows are copied, the
-- analyst views and columns do not change.
--
-- CREATE OR REPLACE builds the new table from the old one and swaps it in atomically
-- (re-running it is safe). Rows the sink writes while the copy runs reach the old table,
-- which the swap drops: a catch-up table receives a copy of them meanwhile, and they are
-- put into the new table afterwards (rows written twice collapse). The migration runner
-- keeps the table's retention (`deskpulse db retention`) across the rebuild.

CREATE TABLE IF NOT EXISTS deskpulse.spans_rekey_catchup
(
    event_id String,
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    exe String,
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

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_rekey_catchup_mv TO deskpulse.spans_rekey_catchup AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE OR REPLACE TABLE deskpulse.spans_store
(
    event_id String,
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    exe String,
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, host, event_id)
TTL toDateTime(start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT * FROM deskpulse.spans_store;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_rekey_catchup
SETTINGS insert_deduplicate = 0;

DROP VIEW IF EXISTS deskpulse.spans_rekey_catchup_mv;

DROP TABLE IF EXISTS deskpulse.spans_rekey_catchup;
