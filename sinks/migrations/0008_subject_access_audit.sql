-- Subject-access exports (`deskpulse export`) are audited like erasures: request id,
-- tenant, time and rows exported per table, never whom.
CREATE TABLE IF NOT EXISTS deskpulse.subject_access_audit
(
    request_id UUID,
    tenant LowCardinality(String),
    requested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    rows_exported Map(String, UInt64)
)
ENGINE = MergeTree
ORDER BY (tenant, requested_at);
