"""The ClickHouse sink: migrations, row decoding, batch writer, Kafka loop, query endpoint."""
