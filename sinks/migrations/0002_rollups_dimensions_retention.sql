-- Hourly and daily rollups, dimension helpers, retention, erasure audit.
--
-- hours_store and days_store hold one row per (span, UTC hour) and (span, UTC
-- day), computed from the whole rollup record (see 0003): a row written again is
-- identical and collapses, so the views below are exact at all times like
-- activity_minutes.

CREATE TABLE IF NOT EXISTS deskpulse.hours_store
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, user, hour, host, app, domain, event_id)
TTL hour + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS deskpulse.activity_hourly AS
SELECT
    tenant, user, host, app, domain, hour,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, hour;

CREATE TABLE IF NOT EXISTS deskpulse.days_store
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
ENGINE = ReplacingMergeTree
PARTITION BY toYear(day)
ORDER BY (tenant, user, day, host, app, domain, event_id)
TTL day + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE VIEW IF NOT EXISTS deskpulse.activity_daily AS
SELECT
    tenant, user, host, app, domain, day,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, day;

-- Teams, maintained by analysts: INSERT a row to add or change a membership,
-- INSERT it again with is_deleted = 1 to remove it. role 'manager' makes the
-- person a manager of that team (used by the manager row policy).
CREATE TABLE IF NOT EXISTS deskpulse.team_members_store
(
    tenant LowCardinality(String),
    team String,
    user String,
    role Enum8('member' = 1, 'manager' = 2) DEFAULT 'member',
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3),
    is_deleted UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(updated_at, is_deleted)
ORDER BY (tenant, team, user);

CREATE VIEW IF NOT EXISTS deskpulse.team_members AS
SELECT tenant, team, user, role, updated_at
FROM deskpulse.team_members_store FINAL
WHERE is_deleted = 0;

CREATE VIEW IF NOT EXISTS deskpulse.people AS
SELECT
    tenant, user,
    groupUniqArray(host) AS hosts,
    min(day) AS first_day,
    max(day) AS last_day,
    sum(active_ms) / 3600000 AS active_hours
FROM deskpulse.days_store FINAL
GROUP BY tenant, user;

CREATE VIEW IF NOT EXISTS deskpulse.collectors AS
SELECT tenant, host, any(user) AS user, max(end) AS last_seen, count() AS spans
FROM deskpulse.spans_store FINAL
GROUP BY tenant, host;

-- Erasure requests (deskpulse forget): what was removed, never whom.
CREATE TABLE IF NOT EXISTS deskpulse.erasure_audit
(
    request_id UUID,
    tenant LowCardinality(String),
    requested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    rows_removed Map(String, UInt64)
)
ENGINE = MergeTree
ORDER BY (tenant, requested_at);

ALTER TABLE deskpulse.spans_store MODIFY TTL toDateTime(start) + INTERVAL 90 DAY;
ALTER TABLE deskpulse.minutes_store MODIFY TTL minute + INTERVAL 730 DAY;
ALTER TABLE deskpulse.deadletter_store MODIFY TTL toDateTime(received_at) + INTERVAL 30 DAY;
