-- Productivity categories: every span and rollup row carries the category and
-- productivity class the stream worker's rules gave its event.
--
-- Rows stored before this migration read 'uncategorized' / 'neutral' until
-- `deskpulse recategorize --since DATE` relabels them. Relabelling writes the rows
-- again with the same sorting key: the ReplacingMergeTree stores keep the row
-- inserted last, so the views below show the new label and the totals do not move.
--
-- The materialized views are replaced by new ones that pass the labels on (the
-- new view is created before the old one is dropped, so no record is missed while
-- this runs; a record written in that instant is written twice, and collapses).

ALTER TABLE deskpulse.spans_in
    ADD COLUMN IF NOT EXISTS category String DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity String DEFAULT 'neutral';

ALTER TABLE deskpulse.rollups_in
    ADD COLUMN IF NOT EXISTS category String DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity String DEFAULT 'neutral';

ALTER TABLE deskpulse.spans_store
    ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.minutes_store
    ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.hours_store
    ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

ALTER TABLE deskpulse.days_store
    ADD COLUMN IF NOT EXISTS category LowCardinality(String) DEFAULT 'uncategorized',
    ADD COLUMN IF NOT EXISTS productivity LowCardinality(String) DEFAULT 'neutral';

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.spans_v4_mv TO deskpulse.spans_store AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain,
       fromUnixTimestamp64Milli(start_ms, 'UTC') AS start,
       fromUnixTimestamp64Milli(end_ms, 'UTC') AS end,
       idle, category, productivity
FROM deskpulse.spans_in;

DROP VIEW IF EXISTS deskpulse.spans_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.minutes_v4_mv TO deskpulse.minutes_store AS
SELECT tenant, user, host, app, domain, toDateTime(m.1, 'UTC') AS minute, event_id,
       if(idle, 0, m.2) AS active_ms, if(idle, m.2, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN minutes AS m;

DROP VIEW IF EXISTS deskpulse.minutes_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.hours_v4_mv TO deskpulse.hours_store AS
WITH arraySum(x -> if(intDiv(x.1, 3600) * 3600 = h, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDateTime(h, 'UTC') AS hour, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 3600) * 3600, minutes)) AS h;

DROP VIEW IF EXISTS deskpulse.hours_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.days_v4_mv TO deskpulse.days_store AS
WITH arraySum(x -> if(intDiv(x.1, 86400) = d, x.2, 0), minutes) AS ms
SELECT tenant, user, host, app, domain, toDate(d) AS day, event_id,
       if(idle, 0, ms) AS active_ms, if(idle, ms, 0) AS idle_ms, category, productivity
FROM deskpulse.rollups_in
ARRAY JOIN arrayDistinct(arrayMap(x -> intDiv(x.1, 86400), minutes)) AS d;

DROP VIEW IF EXISTS deskpulse.days_mv;

CREATE OR REPLACE VIEW deskpulse.activity_spans AS
SELECT event_id, tenant, user, host, app, exe, title, url, domain, start, end, idle,
       category, productivity
FROM deskpulse.spans_store FINAL;

CREATE OR REPLACE VIEW deskpulse.activity_minutes AS
SELECT
    tenant, user, host, app, domain, minute, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.minutes_store FINAL
GROUP BY tenant, user, host, app, domain, minute, category, productivity;

CREATE OR REPLACE VIEW deskpulse.activity_hourly AS
SELECT
    tenant, user, host, app, domain, hour, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.hours_store FINAL
GROUP BY tenant, user, host, app, domain, hour, category, productivity;

CREATE OR REPLACE VIEW deskpulse.activity_daily AS
SELECT
    tenant, user, host, app, domain, day, category, productivity,
    sum(active_ms) / 1000 AS active_seconds,
    sum(idle_ms) / 1000 AS idle_seconds
FROM deskpulse.days_store FINAL
GROUP BY tenant, user, host, app, domain, day, category, productivity;
