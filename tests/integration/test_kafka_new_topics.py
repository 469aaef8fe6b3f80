"""A real Kafka hands out a new topic's leaders a moment after it said "created": a policy
follower started in that moment (a fresh deployment, a worker starting during a failover)
waits for them instead of failing. tansu has its leader at once, so this is Kafka's test."""

from __future__ import annotations

import pytest

from deskpulse.adapters.policy_topics import PolicyFollower
from deskpulse.core.settings import KafkaSettings
from deskpulse.ops.broker import create_topics
from tests.helpers import kafka

pytestmark = pytest.mark.integration


def test_a_policy_follower_started_right_after_the_topics_were_created_loads(kafka_broker):
    for _ in range(8):
        kafka.reset(kafka_broker)
        create_topics(kafka_broker.bootstrap, 4)
        follower = PolicyFollower(KafkaSettings(bootstrap=kafka_broker.bootstrap))
        try:
            follower.start()
            follower.wait_loaded(15)
        finally:
            follower.stop()
