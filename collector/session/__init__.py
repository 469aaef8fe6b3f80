"""The desktop session around the collector: screen lock and suspend (away time)."""
