-- The sink's ingest path: ClickHouse parses the pipeline's JSON itself.
--
-- The sink inserts the messages of the spans, rollups and dead-letter topics as
-- they are (JSONEachRow) into these Null tables; the materialized views below turn
-- each record into storage rows. A view fires per insert block, but every record
-- is one input row here, so a rollup's minutes, hours and days are always computed
-- from the whole record (never across records): a record written twice gives the
-- same rows twice, which the ReplacingMergeTree tables collapse.

CREATE TABLE IF NOT EXISTS deskpulse.spans_in
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

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_mv TO deskpulse.spans_store AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle
FROM deskpulse.spans_in;

CREATE TABLE IF NOT EXISTS deskpulse.rollups_in
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

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_mv TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.hours_mv TO deskpulse.hours_store AS
WITH arraySum(x -> if(intDiv(x.1, 3600) * 3600 = h, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDateTime(h, 'UTC') AS hour, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 3600) * 3600, minutes)) AS h;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.days_mv TO deskpulse.days_store AS
WITH arraySum(x -> if(intDiv(x.1, 86400) = d, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDate(d) AS day, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 86400), minutes)) AS d;

CREATE TABLE IF NOT EXISTS deskpulse.deadletter_in
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

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_mv TO deskpulse.deadletter_store AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user
FROM deskpulse.deadletter_in;
