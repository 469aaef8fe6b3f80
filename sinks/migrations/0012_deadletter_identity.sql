-- A dead letter is identified by the message it stands for, not only by where that
-- message was read. Until now `deadletter_store` collapsed rows of the same
-- (topic, partition, offset): a broker that lost its topics (tansu keeps them in memory,
-- and any broker after a topic is re-created) hands out offset 0 again, so the next bad
-- message read there replaced the earlier dead letter at its next merge, and it was gone
-- from the `deadletter` view at once (FINAL). The sorting key now ends with a hash of the
-- payload (the message as stored, at most 4 KB of it): a replay of the same message, by a
-- new consumer group or after a crash, still collapses into one row; a different message
-- at a reused offset is a row of its own. Two different messages would share a row only
-- if they were read at the same position and their stored payloads hashed alike (64 bits).
--
-- The table is rebuilt as in 0009: CREATE OR REPLACE copies the rows and swaps the new
-- table in atomically; dead letters the sink writes meanwhile reach a catch-up table as
-- well and are put into the new table afterwards (rows written twice collapse). The
-- migration runner keeps the table's retention (`deskpulse db retention`).

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_identity_catchup
(
    received_at DateTime64(3, 'UTC'),
    reason LowCardinality(String),
    detail String,
    field String,
    payload String,
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    tenant String,
    user String,
    host String DEFAULT ''
)
ENGINE = MergeTree
ORDER BY (topic, partition, offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_identity_catchup_mv TO deskpulse.deadletter_identity_catchup AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_in;

CREATE OR REPLACE TABLE deskpulse.deadletter_store
(
    received_at DateTime64(3, 'UTC'),
    reason LowCardinality(String),
    detail String,
    field String,
    payload String,
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    tenant String,
    user String,
    host String DEFAULT ''
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset, sipHash64(payload))
TTL toDateTime(received_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000
AS SELECT * FROM deskpulse.deadletter_store;

INSERT INTO deskpulse.deadletter_store SELECT * FROM deskpulse.deadletter_identity_catchup
SETTINGS insert_deduplicate = 0;

DROP VIEW IF EXISTS deskpulse.deadletter_identity_catchup_mv;

DROP TABLE IF EXISTS deskpulse.deadletter_identity_catchup;
