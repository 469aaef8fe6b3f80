-- Dead letters carry the host their payload names, next to its tenant and user.
--
-- The stream worker and the sink fill tenant, user and host from a refused payload
-- when it parses (best effort; empty otherwise), so `deskpulse forget` and the row
-- policies find a person's dead letters by column. Rows stored before this
-- migration read host ''.
--
-- The materialized view is replaced by one that passes host on (the new view is
-- created before the old one is dropped, so no record is missed while this runs;
-- a record written in that instant is written twice, and collapses: the store is
-- keyed by topic, partition and offset).

ALTER TABLE deskpulse.deadletter_in
    ADD COLUMN IF NOT EXISTS host String DEFAULT '';

ALTER TABLE deskpulse.deadletter_store
    ADD COLUMN IF NOT EXISTS host String DEFAULT '' AFTER user;

CREATE MATERIALIZED VIEW IF NOT EXISTS deskpulse.deadletter_v5_mv TO deskpulse.deadletter_store AS
SELECT fromUnixTimestamp64Milli(received_at_ms, 'UTC') AS received_at, reason, detail, field,
       payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_in;

DROP VIEW IF EXISTS deskpulse.deadletter_mv;

CREATE OR REPLACE VIEW deskpulse.deadletter AS
SELECT received_at, reason, detail, field, payload, topic, partition, offset, tenant, user, host
FROM deskpulse.deadletter_store FINAL;
