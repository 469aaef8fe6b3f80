-- spans_store's columns compressed for their content (issue 16, storage per person-day):
-- event_id and the text columns (exe, title, url) with ZSTD(3) instead of the default LZ4,
-- the times with DoubleDelta (start and end rise about evenly within a person's rows, which
-- the sorting key keeps together) and written_at with Delta, each then ZSTD(1). A codec
-- changes how a column is stored, never its type or its values: the analyst views and
-- their columns do not change, and the same rows collapse (same sorting key).
--
-- Measured on the store bench's data (docs/clickhouse.md, "Storage per person-day"):
-- event_id about halves (LZ4 leaves a UUID's text near its 36 bytes, ZSTD takes it to
-- about its 16 bytes of entropy), start and end become almost free.
--
-- The table is rebuilt as in 0006, so that the existing rows are stored the new way now
-- rather than at their next merge: CREATE OR REPLACE copies them and swaps the new table
-- in atomically; rows the sink writes meanwhile reach a catch-up table too and are put
-- into the new table afterwards (rows written twice collapse). The migration runner keeps
-- the table's retention (`deskpulse db retention`) across the rebuild.

CREATE TABLE IF NOT EXISTS deskpulse.spans_codec_catchup
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

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_codec_catchup_mv TO deskpulse.spans_codec_catchup AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE OR REPLACE TABLE deskpulse.spans_store
(
    event_id String CODEC(ZSTD(3)),
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    exe String CODEC(ZSTD(3)),
    title String CODEC(ZSTD(3)),
    url String CODEC(ZSTD(3)),
    domain LowCardinality(String),
    start DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    end DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    idle Bool,
    written_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    category LowCardinality(String) DEFAULT 'uncategorized',
    productivity LowCardinality(String) DEFAULT 'neutral'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, host, event_id)
TTL toDateTime(start) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT * FROM deskpulse.spans_store;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_codec_catchup
SETTINGS insert_deduplicate = 0;

DROP VIEW IF EXISTS deskpulse.spans_codec_catchup_mv;

DROP TABLE IF EXISTS deskpulse.spans_codec_catchup;
