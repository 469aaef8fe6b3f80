-- spans_store's event_uuid is compressed with ZSTD(3) instead of the default LZ4 (issue 16,
-- storage per person-day; docs/clickhouse.md, "Storage per person-day").
--
-- Collectors since this release send each span's event_id as a UUIDv8 of a random run id
-- and the span's sequence number (collector/spans.py, event_id): the spans of one
-- computer's run share the first 8 bytes and their sequence numbers differ in a byte or
-- two. Sorted by person and app, a UUIDv4 column is 16 random bytes per span (11.3 KB per
-- person-day under either codec); these ids measured 4.0 KB under LZ4 and 1.0 under
-- ZSTD(3). A codec changes how the column is stored, never its type or its values: the
-- sorting key, the views and the rows that collapse stay the same. No rewrite: parts
-- written from here on, and parts merged, are stored the new way (the older rows hold
-- random ids, which no codec shrinks).

ALTER TABLE deskpulse.spans_store MODIFY COLUMN event_uuid UUID CODEC(ZSTD(3));
