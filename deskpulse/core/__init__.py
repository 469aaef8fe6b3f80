"""The kernel: what the stages, the operations and the face share.

It imports no stage, no face and none of click, confluent_kafka, faust,
clickhouse_connect or chdb (``tests/unit/test_architecture.py``).
"""
