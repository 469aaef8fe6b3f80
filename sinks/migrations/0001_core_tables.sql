-- deskpulse core tables and the analyst views over them.
--
-- Storage tables (*_store) are ReplacingMergeTree keyed so that a row written
-- twice (retry, replay, restart) collapses to one. The analyst surface
-- (activity_spans, activity_minutes, deadletter) is a set of views that read
-- the store with FINAL, so a plain SELECT over them is exact at all times.

CREATE DATABASE IF NOT EXISTS deskpulse;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store
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
    written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS deskpulse.activity_spans AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle
FROM deskpulse.spans_store FINAL;

-- One row per (span, minute): a span's contribution to one UTC minute, in ms.
CREATE TABLE IF NOT EXISTS deskpulse.minutes_store
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    minute DateTime('UTC'),
    event_id String,
    active_ms UInt32,
    idle_ms UInt32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, user, minute, host, app, domain, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS deskpulse.activity_minutes AS
SELECT
    tenant, user, host, app, domain, minute,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.minutes_store FINAL
GROUP BY tenant, user, host, app, domain, minute;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_store
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
    user String
)
ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS deskpulse.deadletter AS
SELECT received_at, reason, detail, field, payload, topic, partition, offset, tenant, user
FROM deskpulse.deadletter_store FINAL;
