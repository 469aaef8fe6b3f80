-- deskpulse schema for ClickHouse cluster '{cluster}', rendered by `deskpulse db render`.
-- Apply once on any node; each statement runs ON CLUSTER.


CREATE DATABASE IF NOT EXISTS deskpulse ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS deskpulse.schema_migrations ON CLUSTER '{cluster}'
(version UInt32, name String, checksum String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/deskpulse/schema_migrations', '{shard}-{replica}') ORDER BY version;

-- 0001_core_tables

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_store_local', '{replica}')
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, event_id);

CREATE TABLE IF NOT EXISTS deskpulse.spans_store ON CLUSTER '{cluster}' AS deskpulse.spans_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_store_local', cityHash64(tenant, user));

CREATE VIEW IF NOT EXISTS deskpulse.activity_spans ON CLUSTER '{cluster}' AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle
FROM deskpulse.spans_store FINAL;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/minutes_store_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, user, minute, host, app, domain, event_id);

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store ON CLUSTER '{cluster}' AS deskpulse.minutes_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_store_local', cityHash64(tenant, user));

CREATE VIEW IF NOT EXISTS deskpulse.activity_minutes ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, minute,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.minutes_store FINAL
GROUP BY tenant, user, host, app, domain, minute;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_store_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/deadletter_store_local', '{replica}')
ORDER BY (topic, partition, offset);

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_store ON CLUSTER '{cluster}' AS deskpulse.deadletter_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'deadletter_store_local', cityHash64(tenant, user));

CREATE VIEW IF NOT EXISTS deskpulse.deadletter ON CLUSTER '{cluster}' AS
SELECT received_at, reason, detail, field, payload, topic, partition, offset, tenant, user
FROM deskpulse.deadletter_store FINAL;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (1, 'core_tables', 'befd8d5bcde2c94f');

-- 0002_rollups_dimensions_retention

CREATE TABLE IF NOT EXISTS deskpulse.hours_store_local ON CLUSTER '{cluster}'
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    hour DateTime('UTC'),
    event_id String,
    active_ms UInt32,
    idle_ms UInt32
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/hours_store_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, user, hour, host, app, domain, event_id)
TTL hour + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.hours_store ON CLUSTER '{cluster}' AS deskpulse.hours_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'hours_store_local', cityHash64(tenant, user));

CREATE VIEW IF NOT EXISTS deskpulse.activity_hourly ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, hour,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, hour;

CREATE TABLE IF NOT EXISTS deskpulse.days_store_local ON CLUSTER '{cluster}'
(
    tenant LowCardinality(String),
    user String,
    host String,
    app LowCardinality(String),
    domain LowCardinality(String),
    day Date,
    event_id String,
    active_ms UInt32,
    idle_ms UInt32
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/days_store_local', '{replica}')
PARTITION BY toYear(day)
ORDER BY (tenant, user, day, host, app, domain, event_id)
TTL day + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.days_store ON CLUSTER '{cluster}' AS deskpulse.days_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'days_store_local', cityHash64(tenant, user));

CREATE VIEW IF NOT EXISTS deskpulse.activity_daily ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, day,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, day;

CREATE TABLE IF NOT EXISTS deskpulse.team_members_store ON CLUSTER '{cluster}'
(
    tenant LowCardinality(String),
    team String,
    user String,
    role Enum8('member' = 1, 'manager' = 2) DEFAULT 'member',
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3),
    is_deleted UInt8 DEFAULT 0
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/deskpulse/team_members_store', '{shard}-{replica}', updated_at, is_deleted)
ORDER BY (tenant, team, user);

CREATE VIEW IF NOT EXISTS deskpulse.team_members ON CLUSTER '{cluster}' AS
SELECT tenant, team, user, role, updated_at
FROM deskpulse.team_members_store FINAL
WHERE is_deleted = 0;

CREATE VIEW IF NOT EXISTS deskpulse.people ON CLUSTER '{cluster}' AS
SELECT
    tenant, user,
    groupUniqArray(host) AS hosts,
    min(day) AS first_day,
    max(day) AS last_day,
    sum(active_ms) / 3600000 AS active_hours
FROM deskpulse.days_store FINAL
GROUP BY tenant, user;

CREATE VIEW IF NOT EXISTS deskpulse.collectors ON CLUSTER '{cluster}' AS
SELECT tenant, host, any(user) AS user, max(end) AS last_seen, count() AS spans
FROM deskpulse.spans_store FINAL
GROUP BY tenant, host;

CREATE TABLE IF NOT EXISTS deskpulse.erasure_audit_local ON CLUSTER '{cluster}'
(
    request_id UUID,
    tenant LowCardinality(String),
    requested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    rows_removed Map(String, UInt64)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/erasure_audit_local', '{replica}')
ORDER BY (tenant, requested_at);

CREATE TABLE IF NOT EXISTS deskpulse.erasure_audit ON CLUSTER '{cluster}' AS deskpulse.erasure_audit_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'erasure_audit_local', rand());

ALTER TABLE deskpulse.spans_store_local ON CLUSTER '{cluster}' MODIFY TTL toDateTime(start) + INTERVAL 90 DAY;

ALTER TABLE deskpulse.minutes_store_local ON CLUSTER '{cluster}' MODIFY TTL minute + INTERVAL 730 DAY;

ALTER TABLE deskpulse.deadletter_store_local ON CLUSTER '{cluster}' MODIFY TTL toDateTime(received_at) + INTERVAL 30 DAY;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (2, 'rollups_dimensions_retention', '24598e987ce54c1f');

-- 0003_json_ingest

CREATE TABLE IF NOT EXISTS deskpulse.spans_in ON CLUSTER '{cluster}'
(
    event_id String,
    tenant String,
    user String,
    host String,
    app String,
    exe String,
    title String,
    url String,
    domain String,
    start_ms Int64,
    end_ms Int64,
    idle Bool
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_mv ON CLUSTER '{cluster}' TO deskpulse.spans_store AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.rollups_in ON CLUSTER '{cluster}'
(
    event_id String,
    tenant String,
    user String,
    host String,
    app String,
    domain String,
    idle Bool,
    minutes Array(Tuple(UInt32, UInt32))
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_mv ON CLUSTER '{cluster}' TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.hours_mv ON CLUSTER '{cluster}' TO deskpulse.hours_store AS
WITH arraySum(x -> if(intDiv(x.1, 3600) * 3600 = h, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDateTime(h, 'UTC') AS hour, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 3600) * 3600, minutes)) AS h;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.days_mv ON CLUSTER '{cluster}' TO deskpulse.days_store AS
WITH arraySum(x -> if(intDiv(x.1, 86400) = d, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDate(d) AS day, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 86400), minutes)) AS d;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_in ON CLUSTER '{cluster}'
(
    received_at_ms Int64,
    reason String,
    detail String,
    field String,
    payload String,
    topic String,
    partition UInt32,
    offset UInt64,
    tenant String,
    user String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_mv ON CLUSTER '{cluster}' TO deskpulse.deadletter_store AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user
FROM deskpulse.deadletter_in;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (3, 'json_ingest', '1d39c2a4676eeed8');

-- 0004_categories

ALTER TABLE deskpulse.spans_in ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category String DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity String DEFAULT 'neutral';

ALTER TABLE deskpulse.rollups_in ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category String DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity String DEFAULT 'neutral';

ALTER TABLE deskpulse.spans_store_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.spans_store ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.minutes_store_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.minutes_store ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.hours_store_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.hours_store ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.days_store_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.days_store ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_v4_mv ON CLUSTER '{cluster}' TO deskpulse.spans_store AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

DROP VIEW IF EXISTS deskpulse.spans_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v4_mv ON CLUSTER '{cluster}' TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

DROP VIEW IF EXISTS deskpulse.minutes_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.hours_v4_mv ON CLUSTER '{cluster}' TO deskpulse.hours_store AS
WITH arraySum(x -> if(intDiv(x.1, 3600) * 3600 = h, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDateTime(h, 'UTC') AS hour, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 3600) * 3600, minutes)) AS h;

DROP VIEW IF EXISTS deskpulse.hours_mv ON CLUSTER '{cluster}';

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.days_v4_mv ON CLUSTER '{cluster}' TO deskpulse.days_store AS
WITH arraySum(x -> if(intDiv(x.1, 86400) = d, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDate(d) AS day, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 86400), minutes)) AS d;

DROP VIEW IF EXISTS deskpulse.days_mv ON CLUSTER '{cluster}';

CREATE OR REPLACE VIEW deskpulse.activity_spans ON CLUSTER '{cluster}' AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle,
       category, productivity
FROM deskpulse.spans_store FINAL;

CREATE OR REPLACE VIEW deskpulse.activity_minutes ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, minute, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.minutes_store FINAL
GROUP BY tenant, user, host, app, domain, minute, category, productivity;

CREATE OR REPLACE VIEW deskpulse.activity_hourly ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, hour, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, hour, category, productivity;

CREATE OR REPLACE VIEW deskpulse.activity_daily ON CLUSTER '{cluster}' AS
SELECT
    tenant, user, host, app, domain, day, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, day, category, productivity;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (4, 'categories', '8b655eeec71bc816');

-- 0005_deadletter_host

ALTER TABLE deskpulse.deadletter_in ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS host String DEFAULT '';

ALTER TABLE deskpulse.deadletter_store_local ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS host String DEFAULT '' AFTER user;

ALTER TABLE deskpulse.deadletter_store ON CLUSTER '{cluster}' ADD COLUMN IF NOT EXISTS host String DEFAULT '' AFTER user;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_v5_mv ON CLUSTER '{cluster}' TO deskpulse.deadletter_store AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_in;

DROP VIEW IF EXISTS deskpulse.deadletter_mv ON CLUSTER '{cluster}';

CREATE OR REPLACE VIEW deskpulse.deadletter ON CLUSTER '{cluster}' AS
SELECT received_at, reason, detail, field, payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_store FINAL;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (5, 'deadletter_host', '59311673081346ab');

-- 0006_event_identity

CREATE TABLE IF NOT EXISTS deskpulse.spans_rekey_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_rekey_catchup_local', '{replica}')
ORDER BY (tenant, user, start);

CREATE TABLE IF NOT EXISTS deskpulse.spans_rekey_catchup ON CLUSTER '{cluster}' AS deskpulse.spans_rekey_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_rekey_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_rekey_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.spans_rekey_catchup AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v6_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_store_v6_local', '{replica}')
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, host, event_id)
TTL toDateTime(start) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v6 ON CLUSTER '{cluster}' AS deskpulse.spans_store_v6_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_store_v6_local', cityHash64(tenant, user));

INSERT INTO deskpulse.spans_store_v6 SELECT * FROM deskpulse.spans_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.spans_store_local AND deskpulse.spans_store_v6_local ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_store_v6 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_store_v6_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_rekey_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

DROP VIEW IF EXISTS deskpulse.spans_rekey_catchup_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_rekey_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_rekey_catchup_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (6, 'event_identity', 'a78344926b0be02b');

-- 0007_aggregate_rollups

CREATE TABLE IF NOT EXISTS deskpulse.minutes_rekey_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/minutes_rekey_catchup_local', '{replica}')
ORDER BY (tenant, minute);

CREATE TABLE IF NOT EXISTS deskpulse.minutes_rekey_catchup ON CLUSTER '{cluster}' AS deskpulse.minutes_rekey_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_rekey_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_rekey_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.minutes_rekey_catchup AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

CREATE TABLE IF NOT EXISTS deskpulse.rollup_marks_local ON CLUSTER '{cluster}'
(
    tenant LowCardinality(String),
    hour DateTime('UTC'),
    written_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/rollup_marks_local', '{replica}', written_at)
ORDER BY (tenant, hour)
SETTINGS replicated_deduplication_window = 0;

CREATE TABLE IF NOT EXISTS deskpulse.rollup_marks ON CLUSTER '{cluster}' AS deskpulse.rollup_marks_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'rollup_marks_local', rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.rollup_marks_mv ON CLUSTER '{cluster}' TO deskpulse.rollup_marks AS
SELECT DISTINCT tenant, toDateTime(intDiv(m.1, 3600) * 3600, 'UTC') AS hour,
       now64(3, 'UTC') AS written_at
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

CREATE TABLE IF NOT EXISTS deskpulse.rollup_refreshes_local ON CLUSTER '{cluster}'
(
    day Date,
    refreshed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/rollup_refreshes_local', '{replica}', refreshed_at)
ORDER BY day;

CREATE TABLE IF NOT EXISTS deskpulse.rollup_refreshes ON CLUSTER '{cluster}' AS deskpulse.rollup_refreshes_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'rollup_refreshes_local', rand());

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store_v7_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/minutes_store_v7_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, toStartOfHour(minute), user, minute, host, app, domain, event_id)
TTL minute + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store_v7 ON CLUSTER '{cluster}' AS deskpulse.minutes_store_v7_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_store_v7_local', cityHash64(tenant, user));

INSERT INTO deskpulse.minutes_store_v7 SELECT * FROM deskpulse.minutes_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.minutes_store_local AND deskpulse.minutes_store_v7_local ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_store_v7 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_store_v7_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.minutes_store SELECT * FROM deskpulse.minutes_rekey_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

DROP VIEW IF EXISTS deskpulse.minutes_rekey_catchup_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_rekey_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_rekey_catchup_local ON CLUSTER '{cluster}' SYNC;

CREATE TABLE IF NOT EXISTS deskpulse.hours_agg_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/deskpulse/hours_agg_local', '{replica}', (active_ms, idle_ms))
PARTITION BY toDate(hour)
ORDER BY (tenant, user, hour, host, app, domain, category, productivity)
TTL hour + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.hours_agg ON CLUSTER '{cluster}' AS deskpulse.hours_agg_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'hours_agg_local', cityHash64(tenant, user));

CREATE TABLE IF NOT EXISTS deskpulse.days_agg_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/deskpulse/days_agg_local', '{replica}', (active_ms, idle_ms))
PARTITION BY day
ORDER BY (tenant, user, day, host, app, domain, category, productivity)
TTL day + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.days_agg ON CLUSTER '{cluster}' AS deskpulse.days_agg_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'days_agg_local', cityHash64(tenant, user));

CREATE TABLE IF NOT EXISTS deskpulse.rollup_conversion_local ON CLUSTER '{cluster}'
(
    started_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/rollup_conversion_local', '{replica}')
ORDER BY tuple();

CREATE TABLE IF NOT EXISTS deskpulse.rollup_conversion ON CLUSTER '{cluster}' AS deskpulse.rollup_conversion_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'rollup_conversion_local', rand());

INSERT INTO deskpulse.rollup_conversion SELECT now64(3, 'UTC') - toIntervalMillisecond(1) SETTINGS insert_distributed_sync = 1;

INSERT INTO deskpulse.hours_agg
SELECT tenant, user, host, app, domain, category, productivity, hour,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, category, productivity, hour
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0, insert_distributed_sync = 1;

INSERT INTO deskpulse.days_agg
SELECT tenant, user, host, app, domain, category, productivity, day,
       sum(active_ms) AS active_ms, sum(idle_ms) AS idle_ms
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, category, productivity, day
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0, insert_distributed_sync = 1;

INSERT INTO deskpulse.rollup_refreshes
SELECT DISTINCT day, (SELECT max(started_at) FROM deskpulse.rollup_conversion)
FROM deskpulse.days_agg SETTINGS insert_distributed_sync = 1;

DROP TABLE IF EXISTS deskpulse.rollup_conversion ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.rollup_conversion_local ON CLUSTER '{cluster}' SYNC;

CREATE OR REPLACE VIEW deskpulse.rollup_dirty ON CLUSTER '{cluster}' AS
SELECT m.tenant AS tenant, m.hour AS hour
FROM deskpulse.rollup_marks AS m
LEFT JOIN (SELECT day, max(refreshed_at) AS refreshed_at FROM deskpulse.rollup_refreshes
           GROUP BY day) AS r ON r.day = toDate(m.hour)
WHERE m.written_at > coalesce(r.refreshed_at, toDateTime64(0, 3, 'UTC'));

CREATE OR REPLACE VIEW deskpulse.rollup_hours_ms ON CLUSTER '{cluster}' AS
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

CREATE OR REPLACE VIEW deskpulse.rollup_days_ms ON CLUSTER '{cluster}' AS
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

CREATE OR REPLACE VIEW deskpulse.activity_hourly ON CLUSTER '{cluster}' AS
SELECT tenant, user, host, app, domain, hour, category, productivity,
       active_ms / 1000 AS active_seconds, idle_ms / 1000 AS idle_seconds
FROM deskpulse.rollup_hours_ms;

CREATE OR REPLACE VIEW deskpulse.activity_daily ON CLUSTER '{cluster}' AS
SELECT tenant, user, host, app, domain, day, category, productivity,
       active_ms / 1000 AS active_seconds, idle_ms / 1000 AS idle_seconds
FROM deskpulse.rollup_days_ms;

CREATE OR REPLACE VIEW deskpulse.people ON CLUSTER '{cluster}' AS
SELECT
    tenant, user,
    groupUniqArray(host) AS hosts,
    min(day) AS first_day,
    max(day) AS last_day,
    sum(active_ms) / 3600000 AS active_hours
FROM deskpulse.rollup_days_ms
GROUP BY tenant, user;

DROP VIEW IF EXISTS deskpulse.hours_v4_mv ON CLUSTER '{cluster}';

DROP VIEW IF EXISTS deskpulse.days_v4_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.hours_store ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.hours_store_local ON CLUSTER '{cluster}' SYNC;

DROP TABLE IF EXISTS deskpulse.days_store ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.days_store_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (7, 'aggregate_rollups', 'c113cca8b0f9a2c9');

-- 0008_subject_access_audit

CREATE TABLE IF NOT EXISTS deskpulse.subject_access_audit_local ON CLUSTER '{cluster}'
(
    request_id UUID,
    tenant LowCardinality(String),
    requested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    rows_exported Map(String, UInt64)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/subject_access_audit_local', '{replica}')
ORDER BY (tenant, requested_at);

CREATE TABLE IF NOT EXISTS deskpulse.subject_access_audit ON CLUSTER '{cluster}' AS deskpulse.subject_access_audit_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'subject_access_audit_local', rand());

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (8, 'subject_access_audit', '6321b2fbf4ac9c5f');

-- 0009_span_codecs

CREATE TABLE IF NOT EXISTS deskpulse.spans_codec_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_codec_catchup_local', '{replica}')
ORDER BY (tenant, user, start);

CREATE TABLE IF NOT EXISTS deskpulse.spans_codec_catchup ON CLUSTER '{cluster}' AS deskpulse.spans_codec_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_codec_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_codec_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.spans_codec_catchup AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v9_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_store_v9_local', '{replica}')
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, start, host, event_id)
TTL toDateTime(start) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v9 ON CLUSTER '{cluster}' AS deskpulse.spans_store_v9_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_store_v9_local', cityHash64(tenant, user));

INSERT INTO deskpulse.spans_store_v9 SELECT * FROM deskpulse.spans_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.spans_store_local AND deskpulse.spans_store_v9_local ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_store_v9 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_store_v9_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_codec_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

DROP VIEW IF EXISTS deskpulse.spans_codec_catchup_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_codec_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_codec_catchup_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (9, 'span_codecs', 'e98f0b2cf2c5427f');

-- 0010_compact_event_keys

CREATE TABLE IF NOT EXISTS deskpulse.spans_keys_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_keys_catchup_local', '{replica}')
ORDER BY (tenant, user, start);

CREATE TABLE IF NOT EXISTS deskpulse.spans_keys_catchup ON CLUSTER '{cluster}' AS deskpulse.spans_keys_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_keys_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_keys_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.spans_keys_catchup AS
SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid,
       multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1,
               replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form,
       if(event_id_form = 0, event_id, '') AS event_id_text,
       tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_keys_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/minutes_keys_catchup_local', '{replica}')
ORDER BY (tenant, minute);

CREATE TABLE IF NOT EXISTS deskpulse.minutes_keys_catchup ON CLUSTER '{cluster}' AS deskpulse.minutes_keys_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_keys_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_keys_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.minutes_keys_catchup AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute,
       sipHash64(event_id) AS event_key,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

DROP VIEW IF EXISTS deskpulse.spans_v4_mv ON CLUSTER '{cluster}';

DROP VIEW IF EXISTS deskpulse.minutes_v4_mv ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v10_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/spans_store_v10_local', '{replica}')
PARTITION BY toYYYYMM(start)
ORDER BY (tenant, user, app, start, host, event_uuid, event_id_form, event_id_text)
TTL toDateTime(start) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.spans_store_v10 ON CLUSTER '{cluster}' AS deskpulse.spans_store_v10_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_store_v10_local', cityHash64(tenant, user));

INSERT INTO deskpulse.spans_store_v10 SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid, multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1, replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form, if(event_id_form = 0, event_id, '') AS event_id_text, tenant, user, host, app, exe, title, url, domain, start, end, idle, written_at, category, productivity FROM deskpulse.spans_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.spans_store_local AND deskpulse.spans_store_v10_local ON CLUSTER '{cluster}';

CREATE OR REPLACE TABLE deskpulse.spans_store ON CLUSTER '{cluster}' AS deskpulse.spans_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'spans_store_local', cityHash64(tenant, user));

DROP TABLE IF EXISTS deskpulse.spans_store_v10 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_store_v10_local ON CLUSTER '{cluster}' SYNC;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_v10_mv ON CLUSTER '{cluster}' TO deskpulse.spans_store AS
SELECT if(event_id_form = 0, toUUIDOrZero(''), toUUIDOrZero(event_id)) AS event_uuid,
       multiIf(toString(toUUIDOrZero(event_id)) = event_id, 1,
               replaceAll(toString(toUUIDOrZero(event_id)), '-', '') = event_id, 2, 0) AS event_id_form,
       if(event_id_form = 0, event_id, '') AS event_id_text,
       tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store_v10_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/minutes_store_v10_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, toStartOfHour(minute), user, host, app, domain, minute, event_key)
TTL minute + INTERVAL 730 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.minutes_store_v10 ON CLUSTER '{cluster}' AS deskpulse.minutes_store_v10_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_store_v10_local', cityHash64(tenant, user));

INSERT INTO deskpulse.minutes_store_v10 SELECT tenant, user, host, app, domain, minute, sipHash64(event_id) AS event_key, active_ms, idle_ms, category, productivity FROM deskpulse.minutes_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.minutes_store_local AND deskpulse.minutes_store_v10_local ON CLUSTER '{cluster}';

CREATE OR REPLACE TABLE deskpulse.minutes_store ON CLUSTER '{cluster}' AS deskpulse.minutes_store_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'minutes_store_local', cityHash64(tenant, user));

DROP TABLE IF EXISTS deskpulse.minutes_store_v10 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_store_v10_local ON CLUSTER '{cluster}' SYNC;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v10_mv ON CLUSTER '{cluster}' TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute,
       sipHash64(event_id) AS event_key,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

INSERT INTO deskpulse.spans_store SELECT * FROM deskpulse.spans_keys_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

INSERT INTO deskpulse.minutes_store SELECT * FROM deskpulse.minutes_keys_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

INSERT INTO deskpulse.rollup_marks (tenant, hour, written_at)
SELECT DISTINCT tenant, toStartOfHour(minute), now64(3, 'UTC') FROM deskpulse.minutes_keys_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

DROP VIEW IF EXISTS deskpulse.spans_keys_catchup_mv ON CLUSTER '{cluster}';

DROP VIEW IF EXISTS deskpulse.minutes_keys_catchup_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_keys_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.spans_keys_catchup_local ON CLUSTER '{cluster}' SYNC;

DROP TABLE IF EXISTS deskpulse.minutes_keys_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.minutes_keys_catchup_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (10, 'compact_event_keys', '2bcf9fd068a1a53f');

-- 0012_deadletter_identity

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_identity_catchup_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/deskpulse/deadletter_identity_catchup_local', '{replica}')
ORDER BY (topic, partition, offset);

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_identity_catchup ON CLUSTER '{cluster}' AS deskpulse.deadletter_identity_catchup_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'deadletter_identity_catchup_local', cityHash64(tenant, user));

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_identity_catchup_mv ON CLUSTER '{cluster}' TO deskpulse.deadletter_identity_catchup AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_in;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_store_v12_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/deskpulse/deadletter_store_v12_local', '{replica}')
ORDER BY (topic, partition, offset, sipHash64(payload))
TTL toDateTime(received_at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_store_v12 ON CLUSTER '{cluster}' AS deskpulse.deadletter_store_v12_local
ENGINE = Distributed('{cluster}', 'deskpulse', 'deadletter_store_v12_local', cityHash64(tenant, user));

INSERT INTO deskpulse.deadletter_store_v12 SELECT * FROM deskpulse.deadletter_store SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

EXCHANGE TABLES deskpulse.deadletter_store_local AND deskpulse.deadletter_store_v12_local ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.deadletter_store_v12 ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.deadletter_store_v12_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.deadletter_store SELECT * FROM deskpulse.deadletter_identity_catchup
SETTINGS insert_deduplicate = 0, insert_distributed_sync = 1;

DROP VIEW IF EXISTS deskpulse.deadletter_identity_catchup_mv ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.deadletter_identity_catchup ON CLUSTER '{cluster}';

DROP TABLE IF EXISTS deskpulse.deadletter_identity_catchup_local ON CLUSTER '{cluster}' SYNC;

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (12, 'deadletter_identity', 'f21337fbdb810219');

-- 0013_event_uuid_codec

ALTER TABLE deskpulse.spans_store_local ON CLUSTER '{cluster}' MODIFY COLUMN event_uuid UUID CODEC(ZSTD(3));

INSERT INTO deskpulse.schema_migrations (version, name, checksum) VALUES (13, 'event_uuid_codec', '99ee83e18cab8ec8');
